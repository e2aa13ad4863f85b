package loop

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/golang/snappy"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// clientLayer is the client side of a compression layer, built from the
// reference libraries go-nsq uses.
type clientLayer struct {
	name     string
	identify string
	// encode returns the stream of a fresh client writer given batches,
	// each followed by a flush.
	encode func(batches ...[]byte) []byte
	// decode returns the plaintext of a server stream.
	decode func(stream []byte) ([]byte, error)
}

var clientLayers = []clientLayer{
	{
		name:     "snappy",
		identify: `{"feature_negotiation":true,"snappy":true}`,
		encode: func(batches ...[]byte) []byte {
			var b bytes.Buffer
			w := snappy.NewBufferedWriter(&b)
			for _, p := range batches {
				w.Write(p)
				w.Flush()
			}
			return b.Bytes()
		},
		decode: func(stream []byte) ([]byte, error) {
			return io.ReadAll(snappy.NewReader(bytes.NewReader(stream)))
		},
	},
	{
		name:     "deflate",
		identify: `{"feature_negotiation":true,"deflate":true,"deflate_level":1}`,
		encode: func(batches ...[]byte) []byte {
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, 6)
			for _, p := range batches {
				w.Write(p)
				w.Flush()
			}
			return b.Bytes()
		},
		decode: func(stream []byte) ([]byte, error) {
			p, err := io.ReadAll(flate.NewReader(bytes.NewReader(stream)))
			if errors.Is(err, io.ErrUnexpectedEOF) { // the stream never ends
				err = nil
			}
			return p, err
		},
	},
}

// Spec §3.3: the JSON response is the last plain byte; the upgrade's OK is
// the first byte through the layer; bytes the client pipelined after
// IDENTIFY (already compressed) are decoded, whether they arrive with the
// IDENTIFY or byte by byte.
func TestUpgradeByteBoundary(t *testing.T) {
	for _, l := range clientLayers {
		t.Run(l.name, func(t *testing.T) {
			input := append([]byte(codec.Magic), command("IDENTIFY", l.identify)...)
			input = append(input, l.encode(command("PUB t", "pipelined"), command("NOP"), command("PUB t", "second"))...)
			for _, piece := range []int{len(input), 1, 7} {
				h := newHarness(t, nil)
				cl := h.open()
				for rest := input; len(rest) > 0; {
					n := min(piece, len(rest))
					cl.send(rest[:n])
					rest = rest[n:]
					cl.drain()
				}
				out := cl.take()
				json := splitFrames(t, out[:4+int(binary.BigEndian.Uint32(out))])[0]
				if !bytes.Contains(json, []byte(`"`+l.name+`":true`)) {
					t.Fatalf("first frame %q, want the IDENTIFY JSON", json)
				}
				stream := out[len(json):]
				if l.name == "snappy" && !bytes.HasPrefix(stream, []byte("\xff\x06\x00\x00sNaPpY")) {
					t.Fatalf("the byte after the JSON frame starts % x, want the snappy stream identifier", stream[:min(10, len(stream))])
				}
				plain, err := l.decode(stream)
				if err != nil {
					t.Fatalf("pieces of %d: decoding the server stream: %v", piece, err)
				}
				want := append(append(frame(0, "OK"), frame(0, "OK")...), frame(0, "OK")...)
				if !bytes.Equal(plain, want) {
					t.Fatalf("pieces of %d: after the JSON got %q, want the upgrade OK and two PUB OKs", piece, plain)
				}
				if cl.fc.closed || cl.c.ext == nil || cl.c.ext.compression != l.name {
					t.Fatalf("closed %v, ext %+v", cl.fc.closed, cl.c.ext)
				}
			}
		})
	}
}

// countingDecoder counts the plaintext a decoder produced.
type countingDecoder struct {
	streamDecoder
	produced int
}

func (d *countingDecoder) Decode(dst []byte, max int) ([]byte, error) {
	n := len(dst)
	dst, err := d.streamDecoder.Decode(dst, max)
	d.produced += len(dst) - n
	return dst, err
}

// Inflate bombs: a PUB whose declared size is over --max-msg-size is refused
// after the size is decoded; the 64 MiB body (a few KiB compressed, all of
// it already received) is not inflated.
func TestInflateBombNotInflated(t *testing.T) {
	const bomb = 64 << 20
	for _, l := range clientLayers {
		t.Run(l.name, func(t *testing.T) {
			h := newHarness(t, nil)
			cl := h.open()
			cl.send(append([]byte(codec.Magic), command("IDENTIFY", l.identify)...))
			cl.drain()
			out := cl.take()
			stream := out[4+binary.BigEndian.Uint32(out):] // after the JSON frame
			counter := &countingDecoder{streamDecoder: cl.c.ext.dec}
			cl.c.ext.dec = counter
			body := append(binary.BigEndian.AppendUint32([]byte("PUB bomb\n"), bomb), make([]byte, bomb)...)
			compressed := l.encode(body)
			if len(compressed) > 4<<20 {
				t.Fatalf("the bomb compresses to %d bytes", len(compressed))
			}
			cl.send(compressed)
			plain, err := l.decode(append(stream, cl.take()...))
			want := append(frame(0, "OK"), frame(1, "E_BAD_MESSAGE PUB message too big 67108864 > 1048576")...)
			if err != nil || !bytes.Equal(plain, want) {
				t.Fatalf("server said %q (%v), want %q", plain, err, want)
			}
			if !cl.fc.closed {
				t.Fatal("connection still open after an oversized PUB")
			}
			if counter.produced > 2*decodeStep {
				t.Fatalf("inflated %d bytes of a body refused by its size, want ≤ %d", counter.produced, 2*decodeStep)
			}
			if c := cap(cl.c.ext.in); c > 4*decodeStep {
				t.Fatalf("plaintext buffer grew to %d bytes", c)
			}
		})
	}
}

// A body at --max-msg-size arriving in small pieces is decoded as it comes
// and published intact.
func TestLargeBodyInPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	for _, l := range clientLayers {
		t.Run(l.name, func(t *testing.T) {
			h := newHarness(t, nil)
			cl := h.open()
			cl.send(append([]byte(codec.Magic), command("IDENTIFY", l.identify)...))
			cl.drain()
			tp, err := h.srv.nsqd.GetTopic("big")
			if err != nil {
				t.Fatal(err)
			}
			ch, _ := tp.GetChannel("c")
			stream := l.encode(command("PUB big", string(body)))
			for len(stream) > 0 {
				n := min(1000+r.IntN(5000), len(stream))
				cl.send(stream[:n])
				stream = stream[n:]
			}
			if d := ch.Depth(); d != 1 {
				t.Fatalf("channel depth %d, want the one 1 MiB message", d)
			}
			if cl.fc.closed {
				t.Fatal("connection closed")
			}
		})
	}
}

// A corrupt stream closes the connection without an error frame, as
// upstream's read failure does.
func TestCorruptStreamCloses(t *testing.T) {
	for _, l := range clientLayers {
		t.Run(l.name, func(t *testing.T) {
			h := newHarness(t, nil)
			cl := h.open()
			cl.send(append([]byte(codec.Magic), command("IDENTIFY", l.identify)...))
			cl.drain()
			cl.take()
			cl.send([]byte("\xff\xff\xff\xff garbage that is no valid stream"))
			if !cl.fc.closed {
				t.Fatal("connection open after a corrupt stream")
			}
			if out := cl.take(); len(out) != 0 {
				t.Fatalf("wrote %q, want nothing", out)
			}
		})
	}
}

// Plain connections never leave the fast path: no c.ext for IDENTIFY
// without features, PUB, SUB, RDY, FIN.
func TestPlainConnectionHasNoExtension(t *testing.T) {
	h := newHarness(t, nil)
	cl := h.open()
	in := append([]byte(codec.Magic), command("IDENTIFY", `{"feature_negotiation":true}`)...)
	in = append(in, command("PUB p", "x")...)
	in = append(in, command("SUB p c")...)
	in = append(in, command("RDY 1")...)
	cl.send(in)
	cl.drain()
	if cl.c.ext != nil || cl.fc.closed {
		t.Fatalf("ext %+v, closed %v: a plain connection left the fast path", cl.c.ext, cl.fc.closed)
	}
	if !strings.Contains(string(cl.take()), "OK") {
		t.Fatal("no OK")
	}
}

// Stats reports the compression layer.
func TestStatsCompression(t *testing.T) {
	for _, l := range clientLayers {
		h := newHarness(t, func(o *core.Options) {})
		cl := h.open()
		cl.send(append([]byte(codec.Magic), command("IDENTIFY", l.identify)...))
		cl.drain()
		s := cl.c.Stats("")
		if s.Snappy != (l.name == "snappy") || s.Deflate != (l.name == "deflate") || s.TLS {
			t.Fatalf("%s: stats snappy %v deflate %v tls %v", l.name, s.Snappy, s.Deflate, s.TLS)
		}
	}
}

// Heartbeats and message frames go through the layer too.
func TestHeartbeatAndMessagesThroughLayer(t *testing.T) {
	for _, l := range clientLayers {
		t.Run(l.name, func(t *testing.T) {
			h := newHarness(t, nil)
			cl := h.open()
			in := append([]byte(codec.Magic), command("IDENTIFY", l.identify)...)
			cl.send(in)
			cl.drain()
			cl.send(l.encode(command("SUB hb c"), command("RDY 5"), command("PUB hb", "delivered")))
			cl.c.heartbeatDue.Store(true)
			cl.traffic()
			out := cl.take()
			plain, err := l.decode(out[4+binary.BigEndian.Uint32(out):])
			if err != nil {
				t.Fatal(err)
			}
			frames := splitFrames(t, plain)
			var kinds []string
			for _, f := range frames {
				kinds = append(kinds, string(f[8:min(len(f), 19)]))
			}
			got := strings.Join(kinds, "|")
			if !strings.HasPrefix(got, "OK|OK|OK|") || !strings.Contains(got, "_heartbeat_") || len(frames) != 5 {
				t.Fatalf("frames %q, want the upgrade OK, SUB OK, PUB OK, the message and a heartbeat", kinds)
			}
		})
	}
}
