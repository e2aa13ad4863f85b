package loop

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/goleak"

	"nsqreactor/core"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's package-level worker pool, started when gnet is imported
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// fakeConn is a gnet.Conn without a socket: the test appends inbound bytes
// and calls the handler as gnet's event loop would; writes are collected.
// Only Wake and Close are safe for concurrent use, as in gnet.
type fakeConn struct {
	gnet.Conn // nil: unused methods panic

	in     []byte
	out    bytes.Buffer
	sink   io.Writer // if set, writes go here instead of out
	ctx    any
	closed bool
	peeks  int // Peek calls: each one makes gnet join its buffered bytes

	mu    sync.Mutex
	wakes chan struct{} // one token per pending Wake (buffered)
}

func newFakeConn() *fakeConn { return &fakeConn{wakes: make(chan struct{}, 1)} }

func (f *fakeConn) Peek(n int) ([]byte, error) {
	f.peeks++
	if n <= 0 || n > len(f.in) {
		return f.in, nil
	}
	return f.in[:n], nil
}

func (f *fakeConn) Discard(n int) (int, error) {
	if n <= 0 { // gnet: Discard(0) drops everything; the loop must never do it
		panic("loop called Discard(0)")
	}
	f.in = f.in[n:]
	return n, nil
}

func (f *fakeConn) InboundBuffered() int  { return len(f.in) }
func (f *fakeConn) OutboundBuffered() int { return 0 }
func (f *fakeConn) Write(p []byte) (int, error) {
	if f.sink != nil {
		return f.sink.Write(p)
	}
	return f.out.Write(p)
}
func (f *fakeConn) Context() any                  { return f.ctx }
func (f *fakeConn) SetContext(ctx any)            { f.ctx = ctx }
func (f *fakeConn) RemoteAddr() net.Addr          { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242} }
func (f *fakeConn) LocalAddr() net.Addr           { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4150} }
func (f *fakeConn) Close() error                  { f.mu.Lock(); f.closed = true; f.mu.Unlock(); return nil }
func (f *fakeConn) Wake(gnet.AsyncCallback) error { f.signal(); return nil }

func (f *fakeConn) signal() {
	select {
	case f.wakes <- struct{}{}:
	default:
	}
}

// harness is one server (no gnet engine) and its fake connections.
type harness struct {
	t   testing.TB
	srv *Server
}

// newHarness builds a Server over a started core.NSQD; mod may adjust the
// options before the server reads them.
func newHarness(t testing.TB, mod func(*core.Options)) *harness {
	t.Helper()
	o := core.NewOptions()
	o.Logger = io.Discard
	o.DataPath = t.TempDir()
	if mod != nil {
		mod(o)
	}
	n := core.New(o)
	n.Start()
	s := &Server{nsqd: n}
	s.registry.init()
	if err := s.initFeatures(o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		s.background.Wait()
		if s.auth != nil {
			s.auth.Close()
		}
		n.Exit()
	})
	return &harness{t: t, srv: s}
}

// client is one fake connection, driven on the test goroutine (which plays
// the event loop).
type client struct {
	h  *harness
	fc *fakeConn
	c  *conn
	rd int // bytes of fc.out already returned by take
}

// open connects a client (OnOpen) and closes it (OnClose) in t.Cleanup.
func (h *harness) open() *client {
	fc := newFakeConn()
	h.srv.OnOpen(fc)
	cl := &client{h: h, fc: fc, c: fc.ctx.(*conn)}
	h.t.Cleanup(func() { h.srv.OnClose(fc, nil) })
	return cl
}

// send delivers b as one read and runs OnTraffic.
func (cl *client) send(b []byte) {
	cl.fc.in = append(cl.fc.in, b...)
	cl.traffic()
}

// traffic runs OnTraffic once, as an inbound event or a wake would.
func (cl *client) traffic() {
	if cl.h.srv.OnTraffic(cl.fc) == gnet.Close {
		cl.fc.closed = true
	}
}

// drain runs OnTraffic for wakes already requested (synchronous upgrades
// wake the connection from inside OnTraffic), without waiting for more.
func (cl *client) drain() {
	for {
		select {
		case <-cl.fc.wakes:
			cl.traffic()
		default:
			return
		}
	}
}

// settle waits (up to d) for an asynchronous answer's wake, then runs
// OnTraffic for it and every further wake until none arrives for 50 ms.
func (cl *client) settle(d time.Duration) {
	select {
	case <-cl.fc.wakes:
		cl.traffic()
	case <-time.After(d):
		return
	}
	for {
		select {
		case <-cl.fc.wakes:
			cl.traffic()
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// take returns the bytes written since the last take.
func (cl *client) take() []byte {
	b := cl.fc.out.Bytes()[cl.rd:]
	cl.rd = cl.fc.out.Len()
	return bytes.Clone(b)
}

// frame returns an encoded response frame.
func frame(frameType int32, payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(payload)))
	b = binary.BigEndian.AppendUint32(b, uint32(frameType))
	return append(b, payload...)
}

// command returns line + "\n" [+ size + body].
func command(line string, body ...string) []byte {
	b := []byte(line + "\n")
	if len(body) > 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(body[0])))
		b = append(b, body[0]...)
	}
	return b
}

// splitFrames splits a plaintext server stream into frames.
func splitFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var frames [][]byte
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("truncated frame %q", b)
		}
		n := 4 + int(binary.BigEndian.Uint32(b))
		if n > len(b) {
			t.Fatalf("frame of %d bytes, %d left", n, len(b))
		}
		frames = append(frames, b[:n])
		b = b[n:]
	}
	return frames
}
