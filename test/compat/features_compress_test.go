package compat

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/nsqio/go-nsq"

	"nsqreactor/internal/testutil"
)

// compressions are the go-nsq settings of every compression layer the
// server offers, deflate at the levels a client may ask for.
var compressions = []struct {
	name string
	set  func(*nsq.Config)
}{
	{"snappy", func(c *nsq.Config) { c.Snappy = true }},
	{"deflate level 1", func(c *nsq.Config) { c.Deflate, c.DeflateLevel = true, 1 }},
	{"deflate level 6", func(c *nsq.Config) { c.Deflate, c.DeflateLevel = true, 6 }},
	{"deflate level 9", func(c *nsq.Config) { c.Deflate, c.DeflateLevel = true, 9 }},
}

// go-nsq producer and consumer through each compression layer (spec §3.3);
// --max-deflate-level=9 so that level 9 is really used.
func TestCompressionGoNSQ(t *testing.T) {
	for _, comp := range compressions {
		t.Run(comp.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
				d := impl.Start(t, "--max-deflate-level=9")
				cfg := nsq.NewConfig()
				comp.set(cfg)
				roundTrip(t, d, cfg, bodies("z", 300))
			})
		})
	}
}

// incompressible returns n pseudo-random bytes tagged with i, so the
// compressors cannot shrink a large message to nothing.
func incompressible(n int, i int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), uint64(i)))
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	copy(b, fmt.Sprintf("msg-%d-", i))
	return b
}

// Large messages through both layers (upstream issue nsq#1039: streaming
// compression breaking on large messages): 1 MiB at the default
// --max-msg-size, and 4 MiB messages under --max-msg-size=4MiB, published
// with PUB and MPUB, consumed intact.
func TestCompressionLargeMessages(t *testing.T) {
	sizes := []struct {
		name  string
		size  int
		flags []string
	}{
		{"1MiB", 1 << 20, nil},
		{"4MiB max-msg-size", 4 << 20, []string{"--max-msg-size=4194304", "--max-body-size=13000000"}},
	}
	for _, comp := range []string{"snappy", "deflate"} {
		for _, sz := range sizes {
			t.Run(comp+"/"+sz.name, func(t *testing.T) {
				forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
					d := impl.Start(t, sz.flags...)
					topic := uniq(t, "big")
					cfg := nsq.NewConfig()
					cfg.Snappy, cfg.Deflate = comp == "snappy", comp == "deflate"
					cfg.MaxInFlight = 2
					// go-nsq's 1 s write deadline is too short for its own
					// deflate of 4 MiB under -race on 2 shared cores
					cfg.WriteTimeout = 30 * time.Second
					log := newLog(t)
					got := make(chan []byte, 8)
					startConsumer(t, d, topic, "c", cfg, log, 1, func(m *nsq.Message) error {
						got <- bytes.Clone(m.Body)
						return nil
					})
					want := [][]byte{incompressible(sz.size, 0), incompressible(sz.size, 1), bytes.Repeat([]byte("z"), sz.size)}
					p := newProducer(t, d, cfg, log)
					if err := p.Publish(topic, want[0]); err != nil {
						t.Fatal(err)
					}
					if err := p.MultiPublish(topic, want[1:]); err != nil {
						t.Fatal(err)
					}
					var seen [][]byte
					for range want {
						select {
						case b := <-got:
							seen = append(seen, b)
						case <-time.After(30 * time.Second):
							t.Fatalf("received %d of %d large messages", len(seen), len(want))
						}
					}
					for _, w := range want {
						if !slices.ContainsFunc(seen, func(b []byte) bool { return bytes.Equal(b, w) }) {
							t.Fatalf("a %d-byte message did not arrive intact", len(w))
						}
					}
				})
			})
		}
	}
}

// rawLayer is a client-side compression layer for a RawConn.
type rawLayer struct {
	name     string
	identify string
	reader   func(io.Reader) io.Reader
	writer   func(io.Writer) (io.Writer, func() error)
	encode   func(plain []byte) []byte // a fresh stream holding plain, flushed
}

var rawLayers = []rawLayer{
	{
		name:     "snappy",
		identify: `{"feature_negotiation":true,"snappy":true}`,
		reader:   func(r io.Reader) io.Reader { return snappy.NewReader(r) },
		writer:   func(w io.Writer) (io.Writer, func() error) { sw := snappy.NewBufferedWriter(w); return sw, sw.Flush },
		encode: func(p []byte) []byte {
			var b bytes.Buffer
			sw := snappy.NewBufferedWriter(&b)
			sw.Write(p)
			sw.Flush()
			return b.Bytes()
		},
	},
	{
		name:     "deflate",
		identify: `{"feature_negotiation":true,"deflate":true}`,
		reader:   func(r io.Reader) io.Reader { return flate.NewReader(r) },
		writer: func(w io.Writer) (io.Writer, func() error) {
			fw, _ := flate.NewWriter(w, 6)
			return fw, fw.Flush
		},
		encode: func(p []byte) []byte {
			var b bytes.Buffer
			fw, _ := flate.NewWriter(&b, 6)
			fw.Write(p)
			fw.Flush()
			return b.Bytes()
		},
	},
}

// Inflate bombs: a body whose declared size exceeds the limits is refused as
// soon as its size is read, through the layer, before the body inflates
// (ours decodes only what the command being parsed can use; loop's unit
// tests check how little). The client sends the first MiB of a 64 MiB body
// of zeros, a few KiB compressed.
func TestCompressionOversizedBody(t *testing.T) {
	const bomb = 64 << 20
	sizeOnly := func(line string, n int) []byte {
		return binary.BigEndian.AppendUint32([]byte(line+"\n"), uint32(n))
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, l := range rawLayers {
			for _, tc := range []struct {
				line, want string
			}{
				{"PUB bomb", "E_BAD_MESSAGE PUB message too big 67108864 > 1048576"},
				{"MPUB bomb", "E_BAD_BODY MPUB body too big 67108864 > 5242880"},
				{"IDENTIFY", "E_BAD_BODY IDENTIFY body too big 67108864 > 5242880"},
			} {
				t.Run(l.name+"/"+tc.line, func(t *testing.T) {
					t.Parallel()
					c := testutil.Dial(t, d.TCPAddr)
					c.Identify(t, l.identify)
					c.Upgrade(l.reader, l.writer)
					c.ExpectResponse(t, "OK")
					// the server may close before the write ends: no error check
					c.TryWrite(append(sizeOnly(tc.line, bomb), make([]byte, 1<<20)...))
					c.ExpectError(t, tc.want)
					c.ExpectClosed(t)
				})
			}
		}
	})
}

// Spec §3.3 byte boundary: bytes a client sends right after IDENTIFY,
// before reading the answer, already belong to the new layer. Upstream's
// buffered reader swallows them into its plain buffer (and then reads
// garbage); ours hands them to the decoder.
// DELIBERATE DIFFERENCE (upstream bug): ours only.
func TestCompressionPipelinedAfterIdentify(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		if !impl.Ours {
			t.Skip("upstream loses bytes pipelined after an upgrading IDENTIFY")
		}
		d := impl.Start(t)
		for _, l := range rawLayers {
			t.Run(l.name, func(t *testing.T) {
				t.Parallel()
				topic := uniq(t, "pipe")
				c := testutil.Dial(t, d.TCPAddr)
				c.Write(t, append(cmdBody("IDENTIFY", l.identify), l.encode(cmdBody("PUB "+topic, "pipelined"))...))
				ft, json := c.Next(t)
				if ft != testutil.FrameResponse || json[0] != '{' {
					t.Fatalf("got %s %q, want the IDENTIFY JSON", testutil.FrameTypeName(ft), json)
				}
				c.Upgrade(l.reader, l.writer)
				c.ExpectResponse(t, "OK") // the upgrade
				c.ExpectResponse(t, "OK") // the pipelined PUB
				c.Sub(t, topic, "c")
				c.Rdy(t, 1)
				if m := c.ExpectMessage(t); string(m.Body) != "pipelined" {
					t.Fatalf("got %q, want %q", m.Body, "pipelined")
				}
			})
		}
	})
}

// Spec §3.2: the requested deflate_level counts only when deflate happens;
// otherwise the response shows the default 6 (capped by the maximum).
func TestCompressionDeflateLevelReported(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-deflate-level=9")
		for _, tc := range []struct{ identify, want string }{
			{`{"feature_negotiation":true,"deflate_level":1}`, `"deflate":false,"deflate_level":6,"max_deflate_level":9`},
			{`{"feature_negotiation":true,"deflate":true,"deflate_level":9}`, `"deflate":true,"deflate_level":9,"max_deflate_level":9`},
			{`{"feature_negotiation":true,"deflate":true,"deflate_level":-3}`, `"deflate":true,"deflate_level":6,"max_deflate_level":9`},
		} {
			t.Run(tc.identify, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				if got := c.Identify(t, tc.identify); !bytes.Contains(got, []byte(tc.want)) {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
			})
		}
	})
}
