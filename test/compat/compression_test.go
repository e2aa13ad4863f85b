package compat

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"testing"

	"github.com/golang/snappy"

	"nsqreactor/internal/testutil"
)

// snappyStreamID is the snappy framing-format stream identifier chunk that
// must open the server's snappy stream (spec §3.3).
var snappyStreamID = []byte{0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59}

// Spec §3.3: after the IDENTIFY JSON the server switches both directions to
// snappy framing or raw deflate and sends OK through the new layer; from
// then on every command and frame (responses, messages, errors) goes
// through it.
func TestCompressionUpgrade(t *testing.T) {
	type layer struct {
		name      string
		identify  string
		reader    func(io.Reader) io.Reader
		writer    func(io.Writer) (io.Writer, func() error)
		streamTop []byte // required first bytes of the server's stream
		agreed    string // what the IDENTIFY JSON must contain
	}
	layers := []layer{
		{
			name:      "snappy",
			identify:  `{"feature_negotiation":true,"snappy":true}`,
			reader:    func(r io.Reader) io.Reader { return snappy.NewReader(r) },
			writer:    func(w io.Writer) (io.Writer, func() error) { sw := snappy.NewBufferedWriter(w); return sw, sw.Flush },
			streamTop: snappyStreamID,
			agreed:    `"snappy":true`,
		},
	}
	for _, level := range []int{1, 6} {
		layers = append(layers, layer{
			name:     fmt.Sprintf("deflate level %d", level),
			identify: fmt.Sprintf(`{"feature_negotiation":true,"deflate":true,"deflate_level":%d}`, level),
			reader:   func(r io.Reader) io.Reader { return flate.NewReader(r) },
			writer: func(w io.Writer) (io.Writer, func() error) {
				fw, _ := flate.NewWriter(w, level)
				return fw, fw.Flush
			},
			agreed: fmt.Sprintf(`"deflate":true,"deflate_level":%d,`, level),
		})
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, l := range layers {
			t.Run(l.name, func(t *testing.T) {
				t.Parallel()
				topic := uniq(t, "z")
				c := testutil.Dial(t, d.TCPAddr)
				if got := c.Identify(t, l.identify); !bytes.Contains(got, []byte(l.agreed)) {
					t.Fatalf("IDENTIFY got %s, want a JSON response with %s", got, l.agreed)
				}
				var head bytes.Buffer
				c.Upgrade(func(r io.Reader) io.Reader { return l.reader(io.TeeReader(r, &head)) }, l.writer)
				c.ExpectResponse(t, "OK")
				if l.streamTop != nil && !bytes.HasPrefix(head.Bytes(), l.streamTop) {
					t.Fatalf("stream starts % x, want % x", head.Bytes()[:min(len(head.Bytes()), 10)], l.streamTop)
				}

				c.Sub(t, topic, "c")
				c.CommandBody(t, "PUB "+topic, []byte("through the layer"))
				c.ExpectResponse(t, "OK")
				c.MPUB(t, topic, []byte("m1"), []byte("m2"))
				c.ExpectResponse(t, "OK")
				c.Rdy(t, 3)
				for _, want := range []string{"through the layer", "m1", "m2"} {
					m := c.ExpectMessage(t)
					if string(m.Body) != want {
						t.Fatalf("got %q, want %q", m.Body, want)
					}
					c.Fin(t, m.ID)
				}
				c.Command(t, "FIN "+anyID)
				c.ExpectError(t, "E_FIN_FAILED FIN "+anyID+" failed ID not in flight")
				c.Command(t, "CLS")
				c.ExpectResponse(t, "CLOSE_WAIT")
				c.Command(t, "CLS")
				c.ExpectError(t, "E_INVALID cannot CLS in current state")
				c.ExpectClosed(t)
			})
		}
	})
}
