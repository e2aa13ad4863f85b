package testutil

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout bounds every read and write of a RawConn unless the
// connection's Timeout says otherwise.
const DefaultTimeout = 5 * time.Second

// RawConn is a byte-level protocol V2 client. It is not safe for concurrent
// use: one test goroutine drives it.
//
// Reads are resumable: a read that times out in the middle of a frame keeps
// the bytes received so far, so ExpectNoFrame followed by a read never loses
// sync with the stream.
type RawConn struct {
	Conn    net.Conn
	Timeout time.Duration // bound of each Read*/Expect*/write; DefaultTimeout if 0

	// AnswerHeartbeats makes every read that sees a heartbeat answer it with
	// NOP, as go-nsq does. Off by default: the tests decide.
	AnswerHeartbeats bool
	// Heartbeats counts the heartbeat frames seen (and skipped) so far.
	Heartbeats int

	buf     []byte // received bytes not yet returned as frames
	chunk   []byte // read scratch
	readErr error  // error of the last conn.Read, returned once buf is drained

	// Set by Upgrade: the decompressing reader and compressing writer.
	rd    io.Reader
	wr    io.Writer
	flush func() error
}

// Upgrade switches the connection to a negotiated stream layer (snappy or
// deflate), as the server does right after its IDENTIFY response. newReader
// wraps the bytes from the server, starting with any already received but
// not yet returned as frames; newWriter wraps the connection and returns the
// writer and its flush, called after every write. A read timeout on an
// upgraded connection usually breaks the layer, so ExpectNoFrame and TryNext
// should not be used after Upgrade.
func (c *RawConn) Upgrade(newReader func(io.Reader) io.Reader, newWriter func(io.Writer) (io.Writer, func() error)) {
	c.rd = newReader(io.MultiReader(bytes.NewReader(c.buf), c.Conn))
	c.buf = nil
	c.wr, c.flush = newWriter(c.Conn)
}

// Dial connects to addr and sends the V2 magic. The connection is closed in
// t.Cleanup.
func Dial(t testing.TB, addr string) *RawConn {
	t.Helper()
	c := DialNoMagic(t, addr)
	c.Write(t, []byte(Magic))
	return c
}

// DialNoMagic connects to addr without sending anything.
func DialNoMagic(t testing.TB, addr string) *RawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &RawConn{Conn: conn, chunk: make([]byte, 64<<10)}
}

func (c *RawConn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Close closes the connection.
func (c *RawConn) Close() error { return c.Conn.Close() }

// TryWrite writes b and returns the error, for tests where the server may
// already have closed the connection.
func (c *RawConn) TryWrite(b []byte) error {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	if c.wr == nil {
		_, err := c.Conn.Write(b)
		return err
	}
	if _, err := c.wr.Write(b); err != nil {
		return err
	}
	return c.flush()
}

// Write writes b and fails the test on error.
func (c *RawConn) Write(t testing.TB, b []byte) {
	t.Helper()
	if err := c.TryWrite(b); err != nil {
		t.Fatalf("write %q: %v", truncate(b), err)
	}
}

// Command writes line followed by "\n".
func (c *RawConn) Command(t testing.TB, line string) {
	t.Helper()
	c.Write(t, []byte(line+"\n"))
}

// CommandBody writes line, "\n", len(body) as a 4-byte size, and body.
func (c *RawConn) CommandBody(t testing.TB, line string, body []byte) {
	t.Helper()
	c.CommandSize(t, line, int32(len(body)), body)
}

// CommandSize writes line, "\n", size as a 4-byte size, and body; size need
// not match len(body).
func (c *RawConn) CommandSize(t testing.TB, line string, size int32, body []byte) {
	t.Helper()
	b := append([]byte(line+"\n"), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(b)-4:], uint32(size))
	c.Write(t, append(b, body...))
}

// MPUB writes an MPUB command for topic carrying bodies.
func (c *RawConn) MPUB(t testing.TB, topic string, bodies ...[]byte) {
	t.Helper()
	c.CommandBody(t, "MPUB "+topic, MPUBBody(bodies...))
}

// Identify sends IDENTIFY with the JSON body and returns the payload of the
// response frame (OK or the feature-negotiation JSON); an error frame fails
// the test.
func (c *RawConn) Identify(t testing.TB, json string) []byte {
	t.Helper()
	c.CommandBody(t, "IDENTIFY", []byte(json))
	ft, payload := c.Next(t)
	if ft != FrameResponse {
		t.Fatalf("IDENTIFY %s: got %s frame %q, want a response", json, FrameTypeName(ft), payload)
	}
	return payload
}

// Sub sends SUB and expects OK.
func (c *RawConn) Sub(t testing.TB, topic, channel string) {
	t.Helper()
	c.Command(t, "SUB "+topic+" "+channel)
	c.ExpectResponse(t, "OK")
}

// Pub sends PUB and expects OK.
func (c *RawConn) Pub(t testing.TB, topic string, body []byte) {
	t.Helper()
	c.CommandBody(t, "PUB "+topic, body)
	c.ExpectResponse(t, "OK")
}

// Rdy sends RDY n (no response is expected).
func (c *RawConn) Rdy(t testing.TB, n int) {
	t.Helper()
	c.Command(t, "RDY "+strconv.Itoa(n))
}

// Fin sends FIN id (no response is expected).
func (c *RawConn) Fin(t testing.TB, id MessageID) {
	t.Helper()
	c.Command(t, "FIN "+id.String())
}

// Req sends REQ id timeoutMs (no response is expected).
func (c *RawConn) Req(t testing.TB, id MessageID, timeoutMs int) {
	t.Helper()
	c.Command(t, "REQ "+id.String()+" "+strconv.Itoa(timeoutMs))
}

// Touch sends TOUCH id (no response is expected).
func (c *RawConn) Touch(t testing.TB, id MessageID) {
	t.Helper()
	c.Command(t, "TOUCH "+id.String())
}

// ReadFrame returns the next frame, heartbeats included, waiting at most
// Timeout.
func (c *RawConn) ReadFrame() (frameType int32, payload []byte, err error) {
	return c.readFrame(time.Now().Add(c.timeout()))
}

func (c *RawConn) readFrame(deadline time.Time) (int32, []byte, error) {
	for {
		if len(c.buf) >= 4 {
			size := int(binary.BigEndian.Uint32(c.buf))
			if size < 4 || size > maxFrameLength {
				return 0, nil, fmt.Errorf("bad frame size %d (stream starts %q)", size, truncate(c.buf))
			}
			if len(c.buf) >= 4+size {
				ft := int32(binary.BigEndian.Uint32(c.buf[4:8]))
				payload := bytes.Clone(c.buf[8 : 4+size])
				c.buf = c.buf[4+size:]
				return ft, payload, nil
			}
		}
		if err := c.readErr; err != nil {
			if isTimeout(err) {
				c.readErr = nil
			}
			return 0, nil, err
		}
		c.Conn.SetReadDeadline(deadline)
		var n int
		var err error
		if c.rd != nil {
			n, err = c.rd.Read(c.chunk)
		} else {
			n, err = c.Conn.Read(c.chunk)
		}
		c.buf = append(c.buf, c.chunk[:n]...)
		c.readErr = err
	}
}

// next returns the next frame that is not a heartbeat, counting (and, if
// AnswerHeartbeats, answering) heartbeats on the way.
func (c *RawConn) next(deadline time.Time) (int32, []byte, error) {
	for {
		ft, payload, err := c.readFrame(deadline)
		if err != nil {
			return ft, payload, err
		}
		if ft != FrameResponse || string(payload) != Heartbeat {
			return ft, payload, nil
		}
		c.Heartbeats++
		if c.AnswerHeartbeats {
			if err := c.TryWrite([]byte("NOP\n")); err != nil {
				return 0, nil, fmt.Errorf("answering heartbeat: %w", err)
			}
		}
	}
}

// Next returns the next non-heartbeat frame, failing the test on error or
// timeout.
func (c *RawConn) Next(t testing.TB) (frameType int32, payload []byte) {
	t.Helper()
	ft, payload, err := c.next(time.Now().Add(c.timeout()))
	if err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	return ft, payload
}

// TryNext returns the next non-heartbeat frame, waiting at most d. A timeout
// is returned as an error (os.ErrDeadlineExceeded) and leaves c usable.
func (c *RawConn) TryNext(d time.Duration) (frameType int32, payload []byte, err error) {
	return c.next(time.Now().Add(d))
}

// ExpectResponse reads the next non-heartbeat frame and fails unless it is a
// response with exactly the payload want.
func (c *RawConn) ExpectResponse(t testing.TB, want string) {
	t.Helper()
	c.expectFrame(t, FrameResponse, want)
}

// ExpectError reads the next non-heartbeat frame and fails unless it is an
// error with exactly the payload want (e.g. "E_INVALID invalid command pub").
func (c *RawConn) ExpectError(t testing.TB, want string) {
	t.Helper()
	c.expectFrame(t, FrameError, want)
}

func (c *RawConn) expectFrame(t testing.TB, wantType int32, want string) {
	t.Helper()
	ft, payload, err := c.next(time.Now().Add(c.timeout()))
	if err != nil {
		t.Fatalf("reading frame: %v; want %s %q", err, FrameTypeName(wantType), want)
	}
	if ft != wantType || string(payload) != want {
		t.Fatalf("got %s %q, want %s %q", FrameTypeName(ft), truncate(payload), FrameTypeName(wantType), want)
	}
}

// ExpectMessage reads the next non-heartbeat frame and fails unless it is a
// well-formed message frame.
func (c *RawConn) ExpectMessage(t testing.TB) Message {
	t.Helper()
	ft, payload, err := c.next(time.Now().Add(c.timeout()))
	if err != nil {
		t.Fatalf("reading message frame: %v", err)
	}
	if ft != FrameMessage {
		t.Fatalf("got %s %q, want a message", FrameTypeName(ft), truncate(payload))
	}
	m, err := DecodeMessage(payload)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ExpectMessages reads n messages (see ExpectMessage).
func (c *RawConn) ExpectMessages(t testing.TB, n int) []Message {
	t.Helper()
	msgs := make([]Message, 0, n)
	for range n {
		msgs = append(msgs, c.ExpectMessage(t))
	}
	return msgs
}

// ExpectNoFrame waits d and fails if a non-heartbeat frame arrives or the
// connection is closed in that time.
func (c *RawConn) ExpectNoFrame(t testing.TB, d time.Duration) {
	t.Helper()
	ft, payload, err := c.next(time.Now().Add(d))
	switch {
	case err == nil:
		t.Fatalf("got %s %q, want nothing within %s", FrameTypeName(ft), truncate(payload), d)
	case !isTimeout(err):
		t.Fatalf("want the connection to stay open and quiet for %s, got %v", d, err)
	}
}

// ExpectClosed reads until the server closes the connection (EOF or reset),
// within Timeout; any non-heartbeat frame before that fails the test.
func (c *RawConn) ExpectClosed(t testing.TB) {
	t.Helper()
	c.ExpectClosedWithin(t, c.timeout())
}

// ExpectClosedWithin is ExpectClosed with an explicit bound.
func (c *RawConn) ExpectClosedWithin(t testing.TB, d time.Duration) {
	t.Helper()
	ft, payload, err := c.next(time.Now().Add(d))
	switch {
	case err == nil:
		t.Fatalf("got %s %q, want the connection closed", FrameTypeName(ft), truncate(payload))
	case isTimeout(err):
		t.Fatalf("connection still open after %s, want it closed", d)
	case !IsClosedErr(err):
		t.Fatalf("want the connection closed, got %v", err)
	case len(c.buf) > 0:
		t.Fatalf("connection closed after %d bytes of a partial frame %q", len(c.buf), truncate(c.buf))
	}
}

// ExpectAlive proves the connection is still served: PUB works in every
// state, so it publishes one message to the topic "compat_alive" and expects
// OK. Only use it when no message frames can arrive meanwhile.
func (c *RawConn) ExpectAlive(t testing.TB) {
	t.Helper()
	c.Pub(t, "compat_alive", []byte("alive"))
}

// IsClosedErr reports whether err means the peer closed the connection
// (io.ErrUnexpectedEOF: closed in the middle of a compressed stream).
func IsClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// truncate shortens b for error messages.
func truncate(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}
