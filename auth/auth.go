// Package auth is nsqd's client for an external auth server (spec §8.6): it
// asks the configured servers whether a connection's AUTH secret grants
// anything, validates the answer, and evaluates the granted permissions per
// topic and channel.
//
// It is a leaf: it imports only the standard library, so the event loop
// (package loop) can call it from a helper goroutine without anything else
// coming along. A Client is safe for concurrent use; a State is immutable
// once Query returns it.
//
// Request, for each configured address tried (in order from a random start
// until one succeeds):
//
//	GET  <endpoint>?common_name=<cn>&remote_ip=<ip>&secret=<secret>&tls=<true|false>
//	     Accept: application/vnd.nsq; version=1.0
//	POST <endpoint>   Content-Type: application/json
//	     {"common_name":["<cn>"],"remote_ip":["<ip>"],"secret":["<secret>"],"tls":["<true|false>"]}
//
// where <endpoint> is the address itself if it contains "://", otherwise
// http://<address>/auth. A 403 answer to a plain-HTTP request that names an
// "https_port" is retried once over HTTPS on that port; any other non-200
// status fails that server. The answer:
//
//	{"ttl":<seconds>,"identity":"…","identity_url":"…",
//	 "authorizations":[{"topic":"<regexp>","channels":["<regexp>",…],
//	                    "permissions":["subscribe"|"publish",…]},…]}
//
// is refused unless ttl > 0, every permission is "subscribe" or "publish"
// and every pattern compiles (Go RE2 syntax, matched unanchored).
package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Authorization is one grant of an auth server answer.
type Authorization struct {
	Topic       string   `json:"topic"`       // regexp matched against the topic
	Channels    []string `json:"channels"`    // regexps; one must match the channel
	Permissions []string `json:"permissions"` // "subscribe" and/or "publish"

	topic    *regexp.Regexp
	channels []*regexp.Regexp
	publish  bool
	sub      bool
}

// State is a validated auth server answer. It is immutable after Query.
type State struct {
	TTL            int             `json:"ttl"` // seconds
	Authorizations []Authorization `json:"authorizations"`
	Identity       string          `json:"identity"`
	IdentityURL    string          `json:"identity_url"`
	Expires        time.Time       `json:"-"` // fetch time + TTL
}

// Expired reports whether the state must be fetched again before use.
func (s *State) Expired(now time.Time) bool { return s.Expires.Before(now) }

// IsAllowed reports whether some authorization grants channel of topic.
// An empty channel asks for publishing (as upstream: PUB, MPUB and DPUB
// check channel ""), any other for subscribing. Note that a publish grant
// still needs a channel pattern matching "" (such as ".*"), exactly as
// upstream: an authorization with no channels allows nothing.
func (s *State) IsAllowed(topic, channel []byte) bool {
	for i := range s.Authorizations {
		a := &s.Authorizations[i]
		if len(channel) == 0 && !a.publish || len(channel) > 0 && !a.sub {
			continue
		}
		if !a.topic.Match(topic) {
			continue
		}
		for _, re := range a.channels {
			if re.Match(channel) {
				return true
			}
		}
	}
	return false
}

// Request is what the auth server is told about the connection.
type Request struct {
	RemoteIP   string // client IP without port; "" for unix sockets
	TLS        bool   // the connection completed the tls_v1 upgrade
	CommonName string // subject CN of the client certificate, if any
	Secret     string // the AUTH body
}

// values returns the request parameters (url.Values sorts them when encoded,
// and encoding/json sorts map keys, which gives upstream's exact shapes).
func (r Request) values() url.Values {
	return url.Values{
		"common_name": {r.CommonName},
		"remote_ip":   {r.RemoteIP},
		"secret":      {r.Secret},
		"tls":         {strconv.FormatBool(r.TLS)},
	}
}

// Client queries a set of auth servers. It is safe for concurrent use.
type Client struct {
	addrs []string
	post  bool
	http  *http.Client
}

// NewClient returns a client for addrs (host:port or full URLs) using method
// "get" or "post" (anything else means get). tlsConfig (may be nil) is used
// for https endpoints; connectTimeout bounds the dial, requestTimeout the
// whole request, as upstream's --http-client-*-timeout.
func NewClient(addrs []string, method string, tlsConfig *tls.Config, connectTimeout, requestTimeout time.Duration) *Client {
	// no Proxy, as upstream: auth servers are dialled directly
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: requestTimeout,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{
		addrs: append([]string(nil), addrs...),
		post:  method == "post",
		http:  &http.Client{Transport: transport, Timeout: requestTimeout},
	}
}

// Close releases idle connections to the auth servers.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Query asks the servers, starting at a random one, until one answers with a
// valid state; it returns the last error if none does. It blocks for up to
// one request timeout per server: never call it on an event loop.
func (c *Client) Query(ctx context.Context, r Request) (*State, error) {
	if len(c.addrs) == 0 {
		return nil, errors.New("auth: no auth server configured")
	}
	start := rand.IntN(len(c.addrs))
	var err error
	for i := range c.addrs {
		var s *State
		if s, err = c.queryOne(ctx, c.addrs[(start+i)%len(c.addrs)], r); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// endpoint is the URL for a configured address.
func endpoint(addr string) string {
	if strings.Contains(addr, "://") {
		return addr
	}
	return "http://" + addr + "/auth"
}

func (c *Client) queryOne(ctx context.Context, addr string, r Request) (*State, error) {
	v := r.values()
	u := endpoint(addr)
	var body []byte
	if c.post {
		body, _ = json.Marshal(v) // map[string][]string: cannot fail
	} else {
		u += "?" + v.Encode()
	}
	resp, err := c.do(ctx, u, body)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", addr, err)
	}
	var s State
	if err := json.Unmarshal(resp, &s); err != nil {
		return nil, fmt.Errorf("auth: %s: bad answer: %w", addr, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("auth: %s: %w", addr, err)
	}
	s.Expires = time.Now().Add(time.Duration(s.TTL) * time.Second)
	return &s, nil
}

// do performs the request (GET if body is nil), following one 403 →
// https_port redirection, and returns the 200 answer's body.
func (c *Client) do(ctx context.Context, u string, body []byte) ([]byte, error) {
	for retried := false; ; retried = true {
		method := http.MethodGet
		var rd io.Reader
		if c.post {
			method, rd = http.MethodPost, bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/vnd.nsq; version=1.0")
		if c.post {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			return answer, nil
		}
		if resp.StatusCode == http.StatusForbidden && !retried && !strings.HasPrefix(u, "https") {
			if u, err = httpsURL(u, answer); err != nil {
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("got response %s %q", resp.Status, answer)
	}
}

// httpsURL rewrites u to https on the port a 403 answer names.
func httpsURL(u string, answer []byte) (string, error) {
	var forbidden struct {
		HTTPSPort int `json:"https_port"`
	}
	if err := json.Unmarshal(answer, &forbidden); err != nil {
		return "", fmt.Errorf("got 403 without https_port: %q", answer)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	host, _, err := net.SplitHostPort(parsed.Host)
	if err != nil {
		host = parsed.Host
	}
	parsed.Scheme = "https"
	parsed.Host = net.JoinHostPort(host, strconv.Itoa(forbidden.HTTPSPort))
	return parsed.String(), nil
}

// validate checks the answer as upstream does and compiles its patterns.
func (s *State) validate() error {
	for i := range s.Authorizations {
		a := &s.Authorizations[i]
		for _, p := range a.Permissions {
			switch p {
			case "subscribe":
				a.sub = true
			case "publish":
				a.publish = true
			default:
				return fmt.Errorf("unknown permission %s", p)
			}
		}
		var err error
		if a.topic, err = regexp.Compile(a.Topic); err != nil {
			return fmt.Errorf("unable to compile topic %q %s", a.Topic, err)
		}
		a.channels = make([]*regexp.Regexp, len(a.Channels))
		for j, ch := range a.Channels {
			if a.channels[j], err = regexp.Compile(ch); err != nil {
				return fmt.Errorf("unable to compile channel %q %s", ch, err)
			}
		}
	}
	if s.TTL <= 0 {
		return fmt.Errorf("invalid TTL %d (must be >0)", s.TTL)
	}
	return nil
}
