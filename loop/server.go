package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"nsqreactor/auth"
	"nsqreactor/codec"
	"nsqreactor/core"
)

// tickInterval is the granularity of heartbeats and read/write deadlines.
const tickInterval = 100 * time.Millisecond

// Server is the protocol V2 listener: one gnet engine with one event loop per
// core.
type Server struct {
	gnet.BuiltinEventEngine

	nsqd    *core.NSQD
	network string // "tcp" or "unix"
	addr    string

	eng     gnet.Engine
	booted  chan struct{}
	done    chan error
	boundTo string

	registry registry

	// negotiated features, fixed at Listen
	tlsConfig   *tls.Config  // nil: no --tls-cert/--tls-key, tls_v1 is never granted
	tlsRequired bool         // --tls-required (or tcp-https): commands need TLS first
	auth        *auth.Client // nil: no --auth-http-address

	background sync.WaitGroup     // TLS handshakes and auth queries in flight
	stopping   context.Context    // cancelled by Close: ends auth queries
	stop       context.CancelFunc //
}

// Listen starts a V2 server on addr ("host:port", or a unix socket path) and
// returns once it accepts connections.
func Listen(n *core.NSQD, addr string) (*Server, error) {
	s := &Server{nsqd: n, booted: make(chan struct{}), done: make(chan error, 1)}
	s.registry.init()
	if err := s.initFeatures(n.Options()); err != nil {
		s.stop()
		return nil, err
	}
	proto := "tcp://" + addr
	s.network = "tcp"
	if _, _, err := net.SplitHostPort(addr); err != nil {
		proto = "unix://" + addr
		s.network = "unix"
	}
	go func() {
		s.done <- gnet.Run(s, proto,
			gnet.WithMulticore(true),
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithReadBufferCap(64*1024),
			gnet.WithLogger(gnetLogger{n.Logger()}),
		)
	}()
	select {
	case <-s.booted:
	case err := <-s.done:
		if err == nil {
			err = errors.New("engine stopped")
		}
		s.stop()
		return nil, err
	}
	return s, nil
}

// initFeatures builds what IDENTIFY and AUTH negotiate from the options
// (already validated by Options.Validate, so errors here are unexpected).
func (s *Server) initFeatures(opts *core.Options) error {
	s.stopping, s.stop = context.WithCancel(context.Background())
	var err error
	if s.tlsConfig, err = opts.BuildTLSConfig(); err != nil {
		return err
	}
	s.tlsRequired = opts.TLSRequired != core.TLSNotRequired
	if len(opts.AuthHTTPAddresses) > 0 {
		clientTLS, err := opts.BuildClientTLSConfig()
		if err != nil {
			return err
		}
		s.auth = auth.NewClient(opts.AuthHTTPAddresses, opts.AuthHTTPRequestMethod, clientTLS,
			opts.HTTPClientConnectTimeout, opts.HTTPClientRequestTimeout)
	}
	return nil
}

// Addr is the bound address: host:port with the real port for TCP, the
// socket path for unix sockets.
func (s *Server) Addr() string { return s.boundTo }

// Port is the bound TCP port, or -1 for a unix socket (as upstream's /info).
func (s *Server) Port() int {
	if s.network == "unix" {
		return -1
	}
	_, p, _ := net.SplitHostPort(s.boundTo)
	n, _ := strconv.Atoi(p)
	return n
}

// Close stops accepting, closes every connection and waits for the engine.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.eng.Stop(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	// every connection is closed: their handshakes have failed and their
	// auth queries are cancelled; wait (bounded) for the goroutines
	s.stop()
	waited := make(chan struct{})
	go func() { s.background.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
	}
	if s.auth != nil {
		s.auth.Close()
	}
	return err
}

// OnBoot records the engine and the bound address.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	s.boundTo = s.addr
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				s.boundTo = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
			case *unix.SockaddrInet6:
				s.boundTo = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
			case *unix.SockaddrUnix:
				s.boundTo = a.Name
			}
		}
		unix.Close(fd)
	}
	close(s.booted)
	return gnet.None
}

// OnOpen creates the connection state. Nothing is sent until the client
// speaks.
func (s *Server) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c := &conn{gc: gc, srv: s, id: s.nsqd.NextClientID(), connectTS: time.Now().Unix()}
	if ra := gc.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
		if tcp, ok := ra.(*net.TCPAddr); ok {
			c.remoteIP = tcp.IP.String()
		}
	}
	if c.remoteAddr == "" {
		c.remoteAddr = "@"
	}
	opts := s.nsqd.Options()
	c.clientID = c.remoteIP
	c.hostname = c.remoteIP
	c.msgTimeout = opts.MsgTimeout
	c.outputBufferSize = defaultOutputBufferSize
	c.outputBufferTimeout = opts.OutputBufferTimeout
	now := time.Now().UnixNano()
	c.lastCommand.Store(now)
	c.setHeartbeat(opts.ClientTimeout/2, now)
	c.shareStats()
	gc.SetContext(c)
	s.registry.add(c)
	s.nsqd.AddClient(c.id, c)
	return nil, gnet.None
}

// OnClose unsubscribes the connection (requeueing its in-flight messages).
func (s *Server) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	if c.magicOK && !c.closeNow && c.ext == nil && gc.InboundBuffered() > 0 {
		// The peer closed its side with a command unfinished: answer it as
		// upstream does when its read fails ("... failed to read body").
		// gnet flushes what is written here before closing the socket.
		c.eof = true
		c.readCommands()
		c.endBatch()
	}
	if c.ext != nil {
		c.ext.close(c)
	}
	s.registry.remove(c)
	s.nsqd.RemoveClient(c.id)
	if c.sub != nil {
		c.ch.RemoveClient(c.sub)
	}
	return gnet.None
}

// OnTraffic parses every complete command in the inbound bytes, then writes
// the batch: responses, plus message frames gathered in the outbox.
func (s *Server) OnTraffic(gc gnet.Conn) gnet.Action {
	c := gc.Context().(*conn)
	c.beginBatch()
	if c.ext != nil {
		c.extTraffic() // TLS, compression, or waiting for an answer
	} else if c.need == 0 || gc.InboundBuffered() >= c.need {
		c.readCommands()
	}
	if c.dur.Pending() {
		c.holdForDurability()
	}
	if c.heartbeatDue.Swap(false) {
		c.heartbeat()
	}
	if err := c.endBatch(); err != nil || c.closeNow {
		return gnet.Close
	}
	return gnet.None
}

// readCommands handles every complete command in gnet's inbound buffer: the
// plain path, where the socket's bytes are the commands.
func (c *conn) readCommands() {
	buf, _ := c.gc.Peek(-1)
	if len(buf) == 0 {
		return
	}
	if off := c.parseCommands(buf); off > 0 { // gnet's Discard(0) would drop everything
		c.gc.Discard(off)
		c.stats.bytesIn.Add(uint64(off))
	}
}

// parseCommands handles the complete commands at the start of buf (the magic
// first, on a new connection) and returns how many bytes they used. It stops
// early when c.halt is set: after a fatal error, at an upgrade's switch
// point, or when a command paused the connection. buf must stay valid and
// unchanged until it returns.
func (c *conn) parseCommands(buf []byte) int {
	off := 0
	if !c.magicOK {
		if len(buf) < 4 {
			return 0
		}
		if string(buf[:4]) != codec.Magic {
			c.fail(codec.ErrBadProtocol)
			return len(buf)
		}
		c.magicOK = true
		c.magicSeen.Store(true)
		c.lastCommand.Store(time.Now().UnixNano())
		off = 4
	}
	c.need = 0
	c.now = time.Now().UnixNano() // one clock read per batch
	start := off
	for off < len(buf) && !c.halt {
		n := c.handleCommand(buf[off:])
		if n == 0 {
			break // c.need, if set, counts from this command's first byte
		}
		off += n
	}
	if off > start {
		// the read deadline runs from the last complete command; the
		// batch's clock read (per command showed in the fan-out profile)
		c.lastCommand.Store(c.now)
	}
	return off
}

// OnTick runs on the ticker goroutine: it only reads atomics and calls
// gnet's concurrency-safe Wake and Close.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.registry.tick(time.Now().UnixNano())
	return tickInterval, gnet.None
}

// registry is every open connection, sharded to keep OnOpen/OnClose cheap.
type registry struct {
	shards [64]struct {
		mu    sync.Mutex
		conns map[*conn]struct{}
	}
}

func (r *registry) init() {
	for i := range r.shards {
		r.shards[i].conns = make(map[*conn]struct{})
	}
}

func (r *registry) add(c *conn) {
	sh := &r.shards[c.id%int64(len(r.shards))]
	sh.mu.Lock()
	sh.conns[c] = struct{}{}
	sh.mu.Unlock()
}

func (r *registry) remove(c *conn) {
	sh := &r.shards[c.id%int64(len(r.shards))]
	sh.mu.Lock()
	delete(sh.conns, c)
	sh.mu.Unlock()
}

func (r *registry) each(fn func(c *conn)) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for c := range sh.conns {
			fn(c)
		}
		sh.mu.Unlock()
	}
}

func (r *registry) tick(now int64) {
	r.each(func(c *conn) { c.tick(now) })
}
