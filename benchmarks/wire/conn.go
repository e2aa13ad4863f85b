package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
)

// maxFrameSize bounds a frame the client will accept; nsqd's --max-msg-size default is 1 MiB.
const maxFrameSize = 16 << 20

// Conn is one V2 connection. Reads must come from one goroutine; Write is safe for concurrent
// use. Every blocking call is bounded by the context given to Dial: when it ends, pending and
// future reads and writes fail.
type Conn struct {
	ctx  context.Context
	nc   net.Conn
	r    *bufio.Reader
	hdr  [8]byte
	buf  []byte // frames larger than r's buffer are read here
	stop func() bool

	wmu   sync.Mutex   // guards the fields below and writes to nc
	w     io.Writer    // where Write sends commands: nc, or the top of the negotiated layers
	raw   io.Writer    // below compression: nc, or the TLS connection
	flush func() error // ends a compressed write (nil without compression)

	deflate      *flate.Writer // the deflate compressor, if negotiated
	deflateStale bool          // WriteEncoded wrote past deflate: reset it before its next Write
	streamOpen   bool          // WriteEncoded has opened the compressed stream
}

// Dial connects to addr, sends the V2 magic and returns the connection. readBuffer sizes the
// read buffer (frames up to that size are read without copying); 0 means 64 KiB.
func Dial(ctx context.Context, addr string, readBuffer int) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wire: dial %s: %w", addr, err)
	}
	if readBuffer <= 0 {
		readBuffer = 64 << 10
	}
	c := &Conn{ctx: ctx, nc: nc, r: bufio.NewReaderSize(nc, readBuffer), w: nc, raw: nc}
	// An expired deadline unblocks a goroutine stuck in Read or Write when ctx ends.
	c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	if err := c.Write(MagicV2); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.stop()
	return c.nc.Close()
}

// LocalAddr returns the local address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Write writes p in one call (through the negotiated layers, compressed as one flushed unit). It
// is safe for concurrent use.
func (c *Conn) Write(p []byte) error {
	c.wmu.Lock()
	if c.deflateStale {
		c.deflate.Reset(c.raw)
		c.deflateStale = false
	}
	_, err := c.w.Write(p)
	if err == nil && c.flush != nil {
		err = c.flush()
	}
	c.wmu.Unlock()
	if err != nil {
		return c.wrap("write", err)
	}
	return nil
}

// Buffered returns the number of bytes already read from the socket but not yet returned as
// frames. A reader that batches its replies flushes them when this is 0, just before it would
// block.
func (c *Conn) Buffered() int { return c.r.Buffered() }

// ReadFrame reads one frame. data is valid only until the next call to ReadFrame.
func (c *Conn) ReadFrame() (typ int32, data []byte, err error) {
	if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
		return 0, nil, c.wrap("read frame header", err)
	}
	size := binary.BigEndian.Uint32(c.hdr[0:4])
	if size < 4 || size > maxFrameSize {
		return 0, nil, fmt.Errorf("%w: frame size %d", ErrUnexpectedFrame, size)
	}
	typ = int32(binary.BigEndian.Uint32(c.hdr[4:8]))
	n := int(size - 4)
	if n <= c.r.Size() {
		data, err = c.r.Peek(n)
		if err != nil {
			return 0, nil, c.wrap("read frame", err)
		}
		_, _ = c.r.Discard(n)
		return typ, data, nil
	}
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	data = c.buf[:n]
	if _, err := io.ReadFull(c.r, data); err != nil {
		return 0, nil, c.wrap("read frame", err)
	}
	return typ, data, nil
}

// ReadResponse reads frames until a response other than a heartbeat arrives (heartbeats are
// answered with NOP) and returns its data. An error frame is returned as a *FrameError; a message
// frame is an ErrUnexpectedFrame.
func (c *Conn) ReadResponse() ([]byte, error) {
	for {
		typ, data, err := c.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch {
		case typ == FrameTypeError:
			return nil, &FrameError{Msg: string(data)}
		case typ != FrameTypeResponse:
			return nil, unexpected(typ, data)
		case IsHeartbeat(data):
			if err := c.Write(AppendNop(nil)); err != nil {
				return nil, err
			}
		default:
			return data, nil
		}
	}
}

// ExpectOK reads the next response and fails unless it is "OK".
func (c *Conn) ExpectOK() error {
	data, err := c.ReadResponse()
	if err != nil {
		return err
	}
	if !IsOK(data) {
		return unexpected(FrameTypeResponse, data)
	}
	return nil
}

// Identify sends IdentifyJSON and checks that the answer is a JSON object (feature negotiation)
// or "OK".
func (c *Conn) Identify() error {
	if err := c.Write(AppendIdentify(nil, IdentifyJSON)); err != nil {
		return err
	}
	data, err := c.ReadResponse()
	if err != nil {
		return fmt.Errorf("wire: IDENTIFY: %w", err)
	}
	if !IsOK(data) && (len(data) == 0 || data[0] != '{') {
		return fmt.Errorf("wire: IDENTIFY: %w", unexpected(FrameTypeResponse, data))
	}
	return nil
}

// Subscribe sends SUB and waits for its OK, then sends RDY rdy (which has no answer).
func (c *Conn) Subscribe(topic, channel string, rdy int) error {
	if err := c.Write(AppendSub(nil, topic, channel)); err != nil {
		return err
	}
	if err := c.ExpectOK(); err != nil {
		return fmt.Errorf("wire: SUB %s %s: %w", topic, channel, err)
	}
	if rdy > 0 {
		return c.Write(AppendRdy(nil, rdy))
	}
	return nil
}

// Publish sends one PUB and waits for its OK (no pipelining: use it for setup).
func (c *Conn) Publish(topic string, body []byte) error {
	if err := c.Write(AppendPub(nil, topic, body)); err != nil {
		return err
	}
	if err := c.ExpectOK(); err != nil {
		return fmt.Errorf("wire: PUB %s: %w", topic, err)
	}
	return nil
}

// wrap names the operation and, when the connection's context has ended, says so: a deadline
// error caused by cancellation should read as the cancellation.
func (c *Conn) wrap(op string, err error) error {
	if cerr := c.ctx.Err(); cerr != nil {
		return fmt.Errorf("wire: %s: %w (%v)", op, cerr, err)
	}
	return fmt.Errorf("wire: %s: %w", op, err)
}
