package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"nsqreactor/core"
)

// newHTTPClient is upstream's http_api client for lookupd queries: connect
// timeout on dial, request timeout on the response header and overall
// (--http-client-connect-timeout, --http-client-request-timeout).
func newHTTPClient(connectTimeout, requestTimeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ResponseHeaderTimeout: requestTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
		},
	}
}

// precreate is upstream's GetTopic pre-creation, moved off the creating
// request: ask every lookupd that has identified for the topic's channels,
// create the non-ephemeral ones, then start the topic, which until then
// holds its messages so that the pre-created channels get them all. It runs
// on its own goroutine; Stop cancels the queries.
func (c *Cluster) precreate(t *core.Topic) {
	defer c.wg.Done()
	defer t.Start()
	addrs := c.lookupdHTTPAddrs()
	if len(addrs) == 0 {
		if len(c.LookupdAddresses()) > 0 {
			c.log.Logf(core.LogLevelError, "no available nsqlookupd to query for channels to pre-create for topic %s", t.Name())
		}
		return
	}
	names, err := c.lookupdTopicChannels(t.Name(), addrs)
	if err != nil {
		c.log.Logf(core.LogLevelWarn, "failed to query nsqlookupd for channels to pre-create for topic %s - %s", t.Name(), err)
	}
	for _, name := range names {
		// Upstream skips ephemeral channels (they need a consumer); it does
		// not validate the names, but a bad one could never be created.
		if strings.HasSuffix(name, "#ephemeral") || !core.IsValidNameString(name) {
			continue
		}
		t.GetChannel(name) // fails only if the topic is being deleted
	}
}

// lookupdTopicChannels queries GET /channels?topic= on every address in
// parallel and returns the union of the names, sorted. It fails only if
// every query failed (upstream's ClusterInfo.GetLookupdTopicChannels).
func (c *Cluster) lookupdTopicChannels(topic string, addrs []string) ([]string, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		names []string
		errs  []error
	)
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			endpoint := fmt.Sprintf("http://%s/channels?topic=%s", addr, url.QueryEscape(topic))
			c.log.Logf(core.LogLevelInfo, "CI: querying nsqlookupd %s", endpoint)
			got, err := c.getChannels(endpoint)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			names = append(names, got...)
		}()
	}
	wg.Wait()
	if len(errs) == len(addrs) {
		return nil, fmt.Errorf("failed to query any nsqlookupd: %w", errors.Join(errs...))
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// getChannels is one V1 GET: {"channels":[...]}; any status but 200 is an
// error. The body is bounded by --max-body-size.
func (c *Cluster) getChannels(endpoint string) ([]string, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Add("Accept", "application/vnd.nsq; version=1.0")
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodySize))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("got response %s %q", resp.Status, body)
	}
	var v struct {
		Channels []string `json:"channels"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	return v.Channels, nil
}
