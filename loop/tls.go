package loop

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// tlsHandshakeTimeout bounds the handshake, as upstream's 5 s deadline.
const tlsHandshakeTimeout = 5 * time.Second

// tlsReadSize is the plaintext read per record (a TLS record carries at most
// 16 KiB).
const tlsReadSize = 16 * 1024

// tlsLayer is crypto/tls running over an in-memory pipe instead of a socket.
//
// The handshake, which crypto/tls can only drive with blocking reads, runs
// on a helper goroutine: pipe.Read blocks until the loop pushes the client's
// ciphertext, and pipe.Write queues the server's ciphertext and wakes the
// loop to send it. Once the handshake is done the goroutine exits and the
// record layer runs inline on the event loop: pipe.Read serves gnet's
// inbound bytes, lent for the duration of one decrypt, and returns a
// temporary "would block" error when they run out (crypto/tls keeps a
// partial record and resumes on the next Read), and conn.Write encrypts into
// pipe.out, which the loop writes to gnet in the same batch. An established
// TLS connection therefore costs the crypto and one copy each way (into
// crypto/tls's record buffer; out of pipe.out, which gathers a batch's
// records into one write), never a goroutine switch.
type tlsLayer struct {
	conn *tls.Conn
	pipe *tlsPipe

	// immutable once the handshake is done; read by shareStats
	cipherSuite, version, negotiatedProtocol string
	commonName                               string // client certificate's subject CN
}

// startTLS starts the server handshake on a helper goroutine and pauses the
// connection until it is done. The bytes after IDENTIFY are the client's
// first handshake records.
func (c *conn) startTLS() {
	x := c.extension()
	gc := c.gc
	p := &tlsPipe{blocking: true, wake: func() { gc.Wake(nil) }, local: gc.LocalAddr(), remote: gc.RemoteAddr()}
	p.cond.L = &p.mu
	tc := tls.Server(p, c.srv.tlsConfig)
	x.tls = &tlsLayer{conn: tc, pipe: p}
	x.wait = waitHandshake
	c.srv.nsqd.Logger().Logf(core.LogLevelInfo, "PROTOCOL(V2): [%s] upgrading connection to TLS", c.remoteAddr)
	c.srv.background.Add(1)
	go func() {
		defer c.srv.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		p.finish(err)
	}()
}

// finishTLS runs on the loop once the handshake succeeded: it sends the
// upgrade's OK over TLS, then switches on a compression layer negotiated in
// the same IDENTIFY and sends its OK through it. Frames queued during the
// handshake (heartbeats) follow the OKs.
func (c *conn) finishTLS() {
	x := c.ext
	l := x.tls
	st := l.conn.ConnectionState()
	l.cipherSuite, l.version = cipherSuiteName(st.CipherSuite), tlsVersionName(st.Version)
	l.negotiatedProtocol = st.NegotiatedProtocol
	if len(st.PeerCertificates) > 0 {
		l.commonName = st.PeerCertificates[0].Subject.CommonName
	}
	c.shareStats()

	held := c.out
	c.out = codec.AppendResponse(make([]byte, 0, len(held)+64), codec.RespOK)
	if x.pending != (compression{}) {
		if err := c.flushOut(); err != nil {
			c.closeNow, c.halt = true, true
			return
		}
		c.enableCompression(x.pending)
		x.pending = compression{}
		c.respond(codec.RespOK)
	}
	c.out = append(c.out, held...)
}

// handshakeFailed answers a failed handshake as upstream does, with the
// error frame in the clear, and closes the connection.
func (c *conn) handshakeFailed(err error) {
	c.tlsFlush() // the alert, if any
	e := codec.NewFatal(codec.ErrCodeIdentifyFailed, "IDENTIFY failed "+err.Error())
	c.srv.nsqd.Logger().Logf(core.LogLevelError, "[%s] - %s", c.remoteAddr, e.Error())
	c.gc.Write(codec.AppendError(nil, e))
	c.out = c.out[:0]
	c.closeNow, c.halt = true, true
}

// tlsActive reports whether the connection completed the TLS upgrade.
func (c *conn) tlsActive() bool {
	return c.ext != nil && c.ext.tls != nil && c.ext.tls.version != ""
}

// decrypt runs the record layer inline: it turns all the ciphertext pushed
// so far into plaintext for the next layer. Only after the handshake.
func (c *conn) decrypt() error {
	x := c.ext
	if x.tls == nil {
		return nil
	}
	l := x.tls
	for {
		var n int
		var err error
		if x.dec == nil {
			x.compactIn()
			x.in = slices.Grow(x.in, tlsReadSize)
			n, err = l.conn.Read(x.in[len(x.in):cap(x.in)])
			x.in = x.in[:len(x.in)+n]
		} else {
			// straight into the decoder's input: no scratch copy
			n, err = l.conn.Read(x.dec.Space(tlsReadSize))
			x.dec.Commit(n)
		}
		if err == errWouldBlock {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// tlsFlush writes the ciphertext crypto/tls has produced (records, and
// handshake messages or alerts) to gnet.
func (c *conn) tlsFlush() error {
	if c.ext == nil || c.ext.tls == nil {
		return nil
	}
	p := c.ext.tls.pipe
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wakePending = false
	if len(p.out) == 0 {
		return nil
	}
	_, err := c.gc.Write(p.out) // gnet copies what it cannot send now
	c.stats.bytesOut.Add(uint64(len(p.out)))
	p.out = p.out[:0]
	if cap(p.out) > maxRetainedBuffer {
		p.out = nil
	}
	return err
}

// tlsPipe is the net.Conn under crypto/tls: ciphertext in from the loop,
// ciphertext out to the loop. mu guards every field; during the handshake
// the helper goroutine and the loop share it, afterwards only the loop uses
// it.
type tlsPipe struct {
	mu          sync.Mutex
	cond        sync.Cond // signalled when in grows or the pipe closes
	in          []byte    // ciphertext from the client; in[inOff:] unread
	inOff       int
	lent        []byte // gnet's inbound bytes, read after in; only inside pullLayered
	out         []byte // ciphertext for the client, not yet given to gnet
	blocking    bool   // Read waits for input (handshake) instead of failing
	closed      bool
	done        bool  // the handshake finished
	err         error // its error
	wakePending bool  // a wake for out is already scheduled
	wake        func()

	local, remote net.Addr
}

// wouldBlock is the temporary error Read returns when it has no input after
// the handshake; crypto/tls does not make it sticky.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "loop: tls input drained" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

// push appends ciphertext from the client (copying it).
func (p *tlsPipe) push(b []byte) {
	p.mu.Lock()
	if p.inOff > 0 && p.inOff == len(p.in) {
		p.in, p.inOff = p.in[:0], 0
	}
	p.in = append(p.in, b...)
	p.cond.Signal()
	p.mu.Unlock()
}

// lend makes b, gnet's inbound buffer, the next input after in, without
// copying it. The loop reads it (decrypt) and calls unlend before b dies.
func (p *tlsPipe) lend(b []byte) {
	p.mu.Lock()
	p.lent = b
	p.mu.Unlock()
}

// unlend copies whatever of the lent buffer was not read into in.
func (p *tlsPipe) unlend() {
	p.mu.Lock()
	if len(p.lent) > 0 {
		if p.inOff > 0 && p.inOff == len(p.in) {
			p.in, p.inOff = p.in[:0], 0
		}
		p.in = append(p.in, p.lent...)
	}
	p.lent = nil
	p.mu.Unlock()
}

// finish records the handshake's outcome; from now on Read never blocks.
func (p *tlsPipe) finish(err error) {
	p.mu.Lock()
	p.done, p.err, p.blocking = true, err, false
	p.mu.Unlock()
	p.wake()
}

// result returns the handshake's outcome, if it finished.
func (p *tlsPipe) result() (done bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.err
}

func (p *tlsPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inOff == len(p.in) {
		if p.closed {
			return 0, net.ErrClosed
		}
		if len(p.lent) > 0 {
			n := copy(b, p.lent)
			p.lent = p.lent[n:]
			return n, nil
		}
		if !p.blocking {
			return 0, errWouldBlock
		}
		p.cond.Wait()
	}
	n := copy(b, p.in[p.inOff:])
	p.inOff += n
	return n, nil
}

func (p *tlsPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, net.ErrClosed
	}
	p.out = append(p.out, b...)
	wake := p.blocking && !p.wakePending // a helper-goroutine write: the loop must be told
	p.wakePending = p.wakePending || wake
	p.mu.Unlock()
	if wake {
		p.wake()
	}
	return len(b), nil
}

// Close unblocks a pending Read; the pipe refuses further I/O.
func (p *tlsPipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
}

func (p *tlsPipe) LocalAddr() net.Addr              { return p.local }
func (p *tlsPipe) RemoteAddr() net.Addr             { return p.remote }
func (p *tlsPipe) SetDeadline(time.Time) error      { return nil }
func (p *tlsPipe) SetReadDeadline(time.Time) error  { return nil }
func (p *tlsPipe) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*tlsPipe)(nil)

// cipherSuiteName names the suite as upstream's /stats does: the thirteen
// classic suites by name, anything else (TLS 1.3's included) "Unknown <n>".
func cipherSuiteName(id uint16) string {
	switch id {
	case tls.TLS_RSA_WITH_RC4_128_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA,
		tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
		return tls.CipherSuiteName(id)
	}
	return "Unknown " + strconv.Itoa(int(id))
}

// tlsVersionName is upstream's /stats spelling of a protocol version.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return "Unknown " + strconv.Itoa(int(v))
}
