package wire

import (
	"bytes"
	"io"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/flate"
)

// TestPrecompressReplay checks that a precompressed unit sent three times, after what the
// connection sends first, decodes as the plaintext three times with the decoders upstream uses.
func TestPrecompressReplay(t *testing.T) {
	plain := AppendPub(nil, "t", bytes.Repeat([]byte("payload "), 40))
	for _, l := range []Layers{{Snappy: true}, {Deflate: true, DeflateLevel: 6}} {
		t.Run(l.String(), func(t *testing.T) {
			unit, err := l.Precompress(plain)
			if err != nil {
				t.Fatal(err)
			}
			var stream bytes.Buffer
			var r io.Reader
			if l.Snappy {
				stream.WriteString(snappyStreamID)
				r = snappy.NewReader(&stream)
			} else {
				// a Write through the connection's own compressor first, as a NOP would be
				fw, _ := flate.NewWriter(&stream, ClientDeflateLevel)
				fw.Write(AppendNop(nil))
				fw.Flush()
				r = flate.NewReader(&stream)
			}
			for range 3 {
				stream.Write(unit)
			}
			want := bytes.Repeat(plain, 3)
			if l.Deflate {
				want = append(AppendNop(nil), want...)
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}
