package httpfast

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// Server is nsqd's HTTP API: the route table and its state, served on a
// plain HTTP listener (ListenHTTP, --http-address) and/or an HTTPS one
// (ListenHTTPS, --https-address), as upstream serves the same routes on
// both. Create it with New (or Listen), stop it with Close. All methods are
// safe for concurrent use.
type Server struct {
	nsqd     *core.NSQD
	opts     *core.Options // read-only; live values come from nsqd and the fields below
	log      *core.Logger
	hostname string // os.Hostname at New, for /info
	tcpPort  int    // real V2 listener port; -1 for a unix socket (immutable after New)
	routes   routeTable

	statsSizeHint atomic.Int64 // size of the last /stats answer, to pre-size the next

	mu        sync.Mutex // guards the fields below
	http      *listener  // plain HTTP; nil when not listening
	https     *listener  // HTTPS; nil when not listening
	lookupd   []string   // --lookupd-tcp-address, replaced by PUT /config/nsqlookupd_tcp_addresses
	onLookupd func([]string)
}

// listener is one bound address and the fasthttp server on it.
type listener struct {
	ln   net.Listener
	port int // real TCP port; -1 for a unix socket
	srv  *fasthttp.Server
	done chan struct{} // closed when Serve returns
}

// shutdownTimeout bounds Close: requests still running after it (a 30 s
// CPU profile, say) are abandoned, as upstream abandons them when it closes
// its listener.
const shutdownTimeout = 2 * time.Second

// readBufferSize bounds the request line plus headers (fasthttp answers 431
// beyond it) and is each connection's read buffer. net/http allows 1 MiB of
// headers; 16 KiB is ample for every nsq client and tool while keeping
// per-connection memory small.
const readBufferSize = 16 * 1024

// New returns a server for n that is not listening yet. tcpPort is the V2
// listener's real port (-1 for a unix socket), reported by /info and used for
// /config/broadcast_tcp_port.
func New(n *core.NSQD, tcpPort int) *Server {
	opts := n.Options()
	hostname, _ := os.Hostname()
	s := &Server{
		nsqd:     n,
		opts:     opts,
		log:      n.Logger(),
		hostname: hostname,
		tcpPort:  tcpPort,
		lookupd:  opts.NSQLookupdTCPAddresses,
	}
	s.routes = s.newRouteTable()
	return s
}

// Listen is New followed by ListenHTTP(addr).
func Listen(n *core.NSQD, addr string, tcpPort int) (*Server, error) {
	s := New(n, tcpPort)
	if err := s.ListenHTTP(addr); err != nil {
		return nil, err
	}
	return s, nil
}

// ListenHTTP binds addr (host:port, or a filesystem path for a unix socket,
// decided as upstream does) and serves plain HTTP on it in a new goroutine.
// Under --tls-required=true every request on it is answered 403
// TLS_REQUIRED with the HTTPS port, as upstream.
func (s *Server) ListenHTTP(addr string) error {
	network := "tcp"
	if _, _, err := net.SplitHostPort(addr); err != nil {
		network = "unix"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	handler := s.HandleRequest
	if s.opts.TLSRequired == core.TLSRequired {
		handler = s.refuseWithoutTLS
	}
	return s.serve(&s.http, ln, handler)
}

// ListenHTTPS binds addr (host:port) and serves HTTPS with cfg on it in a
// new goroutine.
func (s *Server) ListenHTTPS(addr string, cfg *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.serve(&s.https, tls.NewListener(ln, cfg), s.HandleRequest)
}

// serve records ln in *slot and serves it with handler.
func (s *Server) serve(slot **listener, ln net.Listener, handler fasthttp.RequestHandler) error {
	l := &listener{ln: ln, port: -1, srv: s.newFastHTTP(handler), done: make(chan struct{})}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		l.port = a.Port
	}
	s.mu.Lock()
	if *slot != nil {
		s.mu.Unlock()
		ln.Close()
		return errors.New("httpfast: already listening")
	}
	*slot = l
	s.mu.Unlock()
	go func() {
		defer close(l.done)
		l.srv.Serve(lingerListener{ln})
	}()
	return nil
}

func (s *Server) newFastHTTP(handler fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               handler,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true, // net/http sends none for an empty body
		// Bodies are streamed so that /pub, /mpub and PUT /config can
		// refuse an oversized Content-Length before reading, and bound
		// what they read (chunked uploads) exactly as upstream does;
		// headerReceived keeps fasthttp's prefetch from waiting for bytes
		// nobody will use.
		StreamRequestBody:            true,
		MaxRequestBodySize:           int(max(s.opts.MaxBodySize, s.opts.MaxMsgSize)) + 1,
		HeaderReceived:               s.headerReceived,
		ExpectHandler:                s.expect,
		DisablePreParseMultipartForm: true,
		ReadBufferSize:               readBufferSize,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{s.log},
	}
}

// refuseWithoutTLS is the plain listener's handler under
// --tls-required=true: upstream answers every request, known path or not,
// with this exact body (note the spaces).
func (s *Server) refuseWithoutTLS(ctx *fasthttp.RequestCtx) {
	setV1Header(ctx)
	ctx.Response.Header.SetContentType(contentTypeJSON)
	ctx.SetStatusCode(fasthttp.StatusForbidden)
	ctx.SetBodyString(`{"message": "TLS_REQUIRED", "https_port": ` + strconv.Itoa(max(s.HTTPSPort(), 0)) + `}`)
	finishBody(ctx)
}

// headerReceived limits fasthttp's body prefetch (it reads up to
// min(Content-Length, 8 KiB, MaxRequestBodySize) before calling the
// handler) to one byte for every request except a /pub or /mpub whose
// Content-Length is within its limit: the handlers of the others refuse the
// Content-Length (413) or ignore the body, and must not wait for, or buffer,
// bytes they will not use.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	cl := int64(h.ContentLength())
	if cl == 0 || cl == -2 { // no body
		return fasthttp.RequestConfig{}
	}
	uri := h.RequestURI()
	uri = uri[:pathLen(uri)]
	limit := int64(-1)
	if h.IsPost() {
		switch string(uri) {
		case "/pub":
			limit = s.opts.MaxMsgSize
		case "/mpub":
			limit = s.opts.MaxBodySize
		}
	}
	if cl < 0 || cl > limit { // chunked bodies are read through the stream
		return fasthttp.RequestConfig{MaxRequestBodySize: 1}
	}
	return fasthttp.RequestConfig{}
}

// Addr is the plain HTTP listener's address: host:port with the real port,
// or the socket path; "" when not listening.
func (s *Server) Addr() string { return s.addr(&s.http) }

// HTTPSAddr is the HTTPS listener's address; "" when not listening.
func (s *Server) HTTPSAddr() string { return s.addr(&s.https) }

func (s *Server) addr(slot **listener) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *slot == nil {
		return ""
	}
	return (*slot).ln.Addr().String()
}

// Port is the plain HTTP listener's TCP port, -1 for a unix socket, 0 when
// not listening (what /info reports as http_port, on both listeners).
func (s *Server) Port() int { return s.port(&s.http) }

// HTTPSPort is the HTTPS listener's port, 0 when not listening.
func (s *Server) HTTPSPort() int { return s.port(&s.https) }

func (s *Server) port(slot **listener) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *slot == nil {
		return 0
	}
	return (*slot).port
}

// Close stops both listeners: no new connections, idle keep-alive ones
// closed, running requests waited for at most shutdownTimeout. A unix
// socket file is removed.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	s.mu.Lock()
	listeners := []*listener{s.http, s.https}
	s.mu.Unlock()
	var errs []error
	for _, l := range listeners {
		if l == nil {
			continue
		}
		err := l.srv.ShutdownWithContext(ctx)
		// fasthttp closes only the listeners its Serve has registered; a
		// Close racing with the start of Serve must still stop it.
		l.ln.Close()
		select {
		case <-l.done:
		case <-ctx.Done():
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err) // abandoned requests are not an error for the caller
		}
	}
	return errors.Join(errs...)
}

// LookupdTCPAddresses returns the current nsqlookupd TCP addresses
// (--lookupd-tcp-address, or the last PUT /config/nsqlookupd_tcp_addresses).
// The slice must not be modified.
func (s *Server) LookupdTCPAddresses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupd
}

// OnLookupdChange registers fn to be called, on the request's goroutine and
// without locks held, with the new list after every successful PUT
// /config/nsqlookupd_tcp_addresses. The lookup client (issue #7) uses it to
// drop and dial peers, as upstream's optsNotificationChan does.
func (s *Server) OnLookupdChange(fn func(addrs []string)) {
	s.mu.Lock()
	s.onLookupd = fn
	s.mu.Unlock()
}

func (s *Server) setLookupd(addrs []string) {
	s.mu.Lock()
	s.lookupd = addrs
	fn := s.onLookupd
	s.mu.Unlock()
	if fn != nil {
		fn(addrs)
	}
}

// fasthttpLogger sends fasthttp's own messages (malformed requests, broken
// connections) to the daemon log at debug level: net/http, which upstream
// uses, answers those silently.
type fasthttpLogger struct{ log *core.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Logf(core.LogLevelDebug, "HTTP: "+format, args...)
}
