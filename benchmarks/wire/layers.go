package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/flate"
)

// ErrNotNegotiated is wrapped by DialLayers' error when the daemon does not grant a layer it was
// asked for (or does not answer IDENTIFY with feature negotiation at all).
var ErrNotNegotiated = errors.New("wire: layer not negotiated")

// Layers is what a connection asks IDENTIFY for: TLS, and at most one of snappy and deflate.
type Layers struct {
	TLS          *tls.Config // tls_v1 with this client configuration; nil for none
	Snappy       bool
	Deflate      bool
	DeflateLevel int // deflate_level: the level the daemon compresses its side at
}

// ClientDeflateLevel is the level the client compresses its own commands at when deflate is
// negotiated (the daemon's level is Layers.DeflateLevel): the fastest, so the client spends its
// CPU reading rather than compressing FINs.
const ClientDeflateLevel = flate.BestSpeed

// String names the stack: "snappy", "tls+deflate", "plain".
func (l Layers) String() string {
	s := ""
	if l.TLS != nil {
		s = "tls"
	}
	for _, c := range []struct {
		on   bool
		name string
	}{{l.Snappy, "snappy"}, {l.Deflate, "deflate"}} {
		if c.on {
			if s != "" {
				s += "+"
			}
			s += c.name
		}
	}
	if s == "" {
		return "plain"
	}
	return s
}

// identifyJSON is IdentifyJSON with the layers' fields added.
func (l Layers) identifyJSON() []byte {
	b := append([]byte(nil), IdentifyJSON[:len(IdentifyJSON)-1]...)
	if l.TLS != nil {
		b = append(b, `,"tls_v1":true`...)
	}
	if l.Snappy {
		b = append(b, `,"snappy":true`...)
	}
	if l.Deflate {
		b = append(b, `,"deflate":true,"deflate_level":`...)
		b = strconv.AppendInt(b, int64(l.DeflateLevel), 10)
	}
	return append(b, '}')
}

// DialLayers connects like Dial, IDENTIFYs asking for the layers, and switches them on where the
// daemon does (spec §3.3): TLS right after the IDENTIFY response, then compression, reading the
// OK each upgrade sends through its new layer. Afterwards ReadFrame reads and Write writes
// through the layers; a compressed Write is flushed as one unit.
func DialLayers(ctx context.Context, addr string, l Layers, readBuffer int) (*Conn, error) {
	c, err := Dial(ctx, addr, readBuffer)
	if err != nil {
		return nil, err
	}
	if err := c.upgrade(l); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("wire: %s: %w", l, err)
	}
	return c, nil
}

func (c *Conn) upgrade(l Layers) error {
	if err := c.Write(AppendIdentify(nil, l.identifyJSON())); err != nil {
		return err
	}
	data, err := c.ReadResponse()
	if err != nil {
		return fmt.Errorf("IDENTIFY: %w", err)
	}
	var granted struct {
		TLS     bool `json:"tls_v1"`
		Snappy  bool `json:"snappy"`
		Deflate bool `json:"deflate"`
	}
	if err := json.Unmarshal(data, &granted); err != nil {
		return fmt.Errorf("%w: IDENTIFY answered %q", ErrNotNegotiated, data)
	}
	if granted.TLS != (l.TLS != nil) || granted.Snappy != l.Snappy || granted.Deflate != l.Deflate {
		return fmt.Errorf("%w: IDENTIFY answered %s", ErrNotNegotiated, data)
	}
	size := c.r.Size()
	if l.TLS != nil {
		// the daemon's first TLS bytes may already sit in c.r: read below it
		tc := tls.Client(&bufferedConn{Conn: c.nc, r: c.r}, l.TLS)
		if err := tc.HandshakeContext(c.ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c.r, c.w, c.raw = bufio.NewReaderSize(tc, size), tc, tc
		if err := c.ExpectOK(); err != nil {
			return fmt.Errorf("TLS upgrade: %w", err)
		}
	}
	switch {
	case l.Snappy:
		c.r = bufio.NewReaderSize(snappy.NewReader(c.r), size)
		sw := snappy.NewBufferedWriter(c.raw)
		c.w, c.flush = sw, sw.Flush
	case l.Deflate:
		c.r = bufio.NewReaderSize(flate.NewReader(c.r), size)
		fw, err := flate.NewWriter(c.raw, ClientDeflateLevel)
		if err != nil {
			return err
		}
		c.w, c.flush = fw, fw.Flush
		c.deflate = fw
	default:
		return nil
	}
	if err := c.ExpectOK(); err != nil {
		return fmt.Errorf("compression upgrade: %w", err)
	}
	return nil
}

// bufferedConn is the socket under the client's TLS: reads come through the bufio.Reader that
// may already hold the daemon's first records.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// Precompress returns p compressed for a connection with these layers as a self-contained unit
// that WriteEncoded can send any number of times, so a publisher can replay one prebuilt batch
// without compressing per write: snappy chunks (without the stream identifier, which the
// connection has sent), or deflate blocks from a fresh compressor (no back-references before
// the unit) ending in a sync flush (byte-aligned, like every Write's). Without compression p is
// returned as is.
func (l Layers) Precompress(p []byte) ([]byte, error) {
	var b bytes.Buffer
	switch {
	case l.Snappy:
		w := snappy.NewBufferedWriter(&b)
		if _, err := w.Write(p); err != nil {
			return nil, err
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
		return b.Bytes()[len(snappyStreamID):], nil
	case l.Deflate:
		w, err := flate.NewWriter(&b, ClientDeflateLevel)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(p); err != nil {
			return nil, err
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return p, nil
}

// snappyStreamID opens every snappy framing stream.
const snappyStreamID = "\xff\x06\x00\x00sNaPpY"

// WriteEncoded writes p, made by Precompress for this connection's layers, below the compression
// layer (through TLS if negotiated). It is safe for concurrent use.
func (c *Conn) WriteEncoded(p []byte) error {
	c.wmu.Lock()
	var err error
	if c.flush != nil && !c.streamOpen {
		err = c.openStream()
	}
	if err == nil {
		_, err = c.raw.Write(p)
	}
	// the daemon's deflate window now holds bytes c.deflate did not write: its next Write
	// must not refer back past them
	c.deflateStale = c.deflate != nil
	c.wmu.Unlock()
	if err != nil {
		return c.wrap("write", err)
	}
	return nil
}

// openStream sends what a compressed stream starts with before the first unit written below
// the compressor: snappy's stream identifier (the compressor sends its own on its first
// Write, a repetition the framing format allows). Deflate has no header. c.wmu must be held.
func (c *Conn) openStream() error {
	c.streamOpen = true
	if c.deflate != nil {
		return nil
	}
	_, err := io.WriteString(c.raw, snappyStreamID)
	return err
}
