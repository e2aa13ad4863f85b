package loop

import (
	"bytes"
	"compress/flate"
	"crypto/tls"
	"io"
	"strings"
	"testing"

	"github.com/golang/snappy"

	"nsqreactor/codec"
)

// BenchmarkLayeredPub measures the server's cost of one read carrying 100
// pipelined PUBs of 256 bytes, and of writing the 100 OKs, per layer stack:
// the decode/decrypt, parse, publish and encode/encrypt work of OnTraffic.
// The client's compression and encryption run with the timer stopped.
//
//	go test ./loop -run XXX -bench LayeredPub -benchmem
func BenchmarkLayeredPub(b *testing.B) {
	const perRead, size = 100, 256
	var batch []byte
	for range perRead {
		batch = append(batch, command("PUB bench", strings.Repeat("m", size))...)
	}
	for _, stack := range []string{"plain", "snappy", "deflate", "tls", "tls+snappy", "tls+deflate"} {
		b.Run(stack, func(b *testing.B) {
			var h *harness
			if strings.HasPrefix(stack, "tls") {
				h = tlsHarness(b)
			} else {
				h = newHarness(b, nil)
			}
			cl, write := h.benchClient(b, stack)
			tp, _ := h.srv.nsqd.GetTopic("bench")
			ch, _ := tp.GetChannel("c")
			b.SetBytes(perRead * size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				wire := write(batch)
				ch.Empty() // keep the queue in memory and small
				cl.fc.out.Reset()
				cl.rd = 0
				b.StartTimer()
				cl.send(wire)
			}
			b.StopTimer()
			if cl.fc.closed {
				b.Fatal("connection closed")
			}
		})
	}
}

// benchClient upgrades a client to stack and returns it with the function
// that turns a plaintext batch into the client's wire bytes.
func (h *harness) benchClient(b *testing.B, stack string) (*client, func([]byte) []byte) {
	var ident string
	switch {
	case strings.HasSuffix(stack, "snappy"):
		ident = `"snappy":true`
	case strings.HasSuffix(stack, "deflate"):
		ident = `"deflate":true,"deflate_level":6`
	}
	useTLS := strings.HasPrefix(stack, "tls")
	if useTLS {
		ident = strings.TrimPrefix(ident+`,"tls_v1":true`, ",")
	}
	identify := command("IDENTIFY", `{"feature_negotiation":true`+map[bool]string{true: ",", false: ""}[ident != ""]+ident+`}`)

	var wire bytes.Buffer // the client's bytes for the next read
	var raw io.Writer = &wire
	var cl *client
	if useTLS {
		var tc *tls.Conn
		cl, tc = h.tlsBenchClient(b, identify, &wire)
		raw = tc
	} else {
		cl = h.open()
		cl.send(append([]byte(codec.Magic), identify...))
		cl.drain()
	}
	var w io.Writer = raw
	flush := func() {}
	switch {
	case strings.HasSuffix(stack, "snappy"):
		sw := snappy.NewBufferedWriter(raw)
		w, flush = sw, func() { sw.Flush() }
	case strings.HasSuffix(stack, "deflate"):
		fw, _ := flate.NewWriter(raw, 6)
		w, flush = fw, func() { fw.Flush() }
	}
	return cl, func(p []byte) []byte {
		wire.Reset()
		w.Write(p)
		flush()
		return bytes.Clone(wire.Bytes())
	}
}

// tlsBenchClient completes IDENTIFY and the TLS handshake with the loop on
// its own goroutine, then detaches it: the benchmark drives OnTraffic, and
// the client's records land in wire.
func (h *harness) tlsBenchClient(b *testing.B, identify []byte, wire io.Writer) (*client, *tls.Conn) {
	a := h.openAsync()
	a.peer.hold = append([]byte(codec.Magic), identify...)
	a.peer.gate = make(chan struct{})
	tc := tls.Client(a.peer, &tls.Config{InsecureSkipVerify: true})
	done := make(chan error, 1)
	go func() { done <- tc.Handshake() }()
	readFrame(b, a.toPeer) // the JSON response, in the clear
	close(a.peer.gate)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	cl := a.detach(h)
	a.peer.capture = wire
	return cl, tc
}
