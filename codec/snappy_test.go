package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/golang/snappy"
)

// testPlaintexts are the payload shapes the layers must carry: empty, tiny,
// compressible, incompressible, and sizes around the 64 KiB chunk boundary.
func testPlaintexts() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	return map[string][]byte{
		"empty":        nil,
		"ok frame":     []byte("\x00\x00\x00\x06\x00\x00\x00\x00OK"),
		"text":         bytes.Repeat([]byte("PUB topic\n\x00\x00\x00\x05hello"), 100),
		"random 1k":    random(1024),
		"zeros 64k":    make([]byte, 65536),
		"random 64k+1": random(65537),
		"random 200k":  random(200 * 1024),
		"zeros 1m":     make([]byte, 1<<20),
	}
}

// splitFeed writes in to w in pieces of the given sizes (cycled), calling
// step after every piece.
func splitFeed(in []byte, sizes []int, write func([]byte), step func()) {
	for i := 0; len(in) > 0; i++ {
		n := max(1, sizes[i%len(sizes)])
		n = min(n, len(in))
		write(in[:n])
		in = in[n:]
		step()
	}
}

func TestSnappyEncoderReadableByGolangSnappy(t *testing.T) {
	for name, plain := range testPlaintexts() {
		t.Run(name, func(t *testing.T) {
			var e SnappyEncoder
			// three batches, as three endBatch calls would produce
			stream := e.Encode(nil, plain)
			stream = e.Encode(stream, []byte("second batch"))
			stream = e.Encode(stream, plain)
			if !bytes.HasPrefix(stream, []byte(snappyStreamID)) {
				t.Fatalf("stream starts %x, want the stream identifier %x", stream[:min(10, len(stream))], snappyStreamID)
			}
			got, err := io.ReadAll(snappy.NewReader(bytes.NewReader(stream)))
			if err != nil {
				t.Fatal(err)
			}
			want := append(append(append([]byte{}, plain...), "second batch"...), plain...)
			if !bytes.Equal(got, want) {
				t.Fatalf("golang/snappy decoded %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

func TestSnappyDecoderReadsGolangSnappyInPieces(t *testing.T) {
	for name, plain := range testPlaintexts() {
		for _, sizes := range [][]int{{1}, {3, 7, 11}, {4096}, {1 << 20}} {
			t.Run(name, func(t *testing.T) {
				var buf bytes.Buffer
				w := snappy.NewBufferedWriter(&buf)
				w.Write(plain)
				w.Flush()
				w.Write([]byte("tail"))
				w.Flush()
				want := append(append([]byte{}, plain...), "tail"...)

				var d SnappyDecoder
				var got []byte
				var err error
				splitFeed(buf.Bytes(), sizes, func(p []byte) { d.Write(p) }, func() {
					if err == nil {
						got, err = d.Decode(got, 1<<30)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
				}
				if d.Buffered() != 0 {
					t.Fatalf("%d bytes left buffered, want 0", d.Buffered())
				}
			})
		}
	}
}

// The decoder produces plaintext on demand: a small budget decodes at most
// one chunk beyond it, so a huge compressed body is never inflated at once.
func TestSnappyDecoderBudget(t *testing.T) {
	var e SnappyEncoder
	stream := e.Encode(nil, make([]byte, 4<<20)) // 4 MiB of zeros: 64 chunks, ~200 KiB
	var d SnappyDecoder
	d.Write(stream)
	got, err := d.Decode(nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) > 10+snappyMaxBlockSize {
		t.Fatalf("Decode(max=10) appended %d bytes, want 1..%d", len(got), 10+snappyMaxBlockSize)
	}
	for len(got) < 4<<20 {
		before := len(got)
		if got, err = d.Decode(got, 1); err != nil {
			t.Fatal(err)
		}
		if len(got) == before {
			t.Fatalf("no progress at %d bytes", before)
		}
	}
}

func TestSnappyDecoderCorrupt(t *testing.T) {
	var e SnappyEncoder
	good := e.Encode(nil, []byte("hello hello hello hello"))
	badCRC := bytes.Clone(good)
	badCRC[len(snappyStreamID)+4] ^= 1
	chunk := func(typ byte, data []byte) []byte {
		b := []byte{typ, byte(len(data)), byte(len(data) >> 8), byte(len(data) >> 16)}
		return append(b, data...)
	}
	crcOf := func(p []byte) []byte { return binary.LittleEndian.AppendUint32(nil, snappyCRC(p)) }
	cases := map[string][]byte{
		"no stream identifier":   chunk(snappyChunkUncompressed, append(crcOf([]byte("x")), 'x')),
		"bad stream identifier":  chunk(snappyChunkStreamID, []byte("sNaPpX")),
		"short stream id":        chunk(snappyChunkStreamID, []byte("sNaP")),
		"bad checksum":           badCRC,
		"reserved unskippable":   append([]byte(snappyStreamID), chunk(0x02, []byte("abcd"))...),
		"uncompressed too large": append([]byte(snappyStreamID), 0x01, 0x05, 0x00, 0x01),
		"compressed too large":   append([]byte(snappyStreamID), 0x00, 0xff, 0xff, 0xff),
		"compressed no crc":      append([]byte(snappyStreamID), chunk(snappyChunkCompressed, []byte{1, 2})...),
		"compressed garbage":     append([]byte(snappyStreamID), chunk(snappyChunkCompressed, []byte{0, 0, 0, 0, 0xff, 0xff})...),
	}
	for name, stream := range cases {
		t.Run(name, func(t *testing.T) {
			var d SnappyDecoder
			d.Write(stream)
			if _, err := d.Decode(nil, 1<<20); !errors.Is(err, ErrSnappyCorrupt) {
				t.Fatalf("got %v, want ErrSnappyCorrupt", err)
			}
			if _, err := d.Decode(nil, 1<<20); !errors.Is(err, ErrSnappyCorrupt) {
				t.Fatalf("second Decode: got %v, want the sticky ErrSnappyCorrupt", err)
			}
		})
	}
}

// Skippable chunks (padding included) are discarded; like golang/snappy's
// Reader, the decoder refuses any chunk larger than the largest compressed
// chunk, skippable ones included.
func TestSnappyDecoderSkippable(t *testing.T) {
	var e SnappyEncoder
	stream := e.Encode(nil, []byte("before"))
	padChunk := func(n int) []byte {
		b := make([]byte, 4+n)
		b[0], b[1], b[2], b[3] = snappyChunkPadding, byte(n), byte(n>>8), byte(n>>16)
		return b
	}
	stream = append(stream, padChunk(snappyMaxCompressedChunk)...)
	stream = append(stream, 0x80, 1, 0, 0, 'x')
	stream = e.Encode(stream, []byte("after"))
	var d SnappyDecoder
	var got []byte
	var err error
	splitFeed(stream, []int{1000}, func(p []byte) { d.Write(p) }, func() { got, err = d.Decode(got, 1<<20) })
	if err != nil || string(got) != "beforeafter" {
		t.Fatalf("got %q, %v; want %q", got, err, "beforeafter")
	}

	d.Reset()
	d.Write([]byte(snappyStreamID))
	d.Write(padChunk(snappyMaxCompressedChunk + 1)[:4])
	if _, err := d.Decode(nil, 1<<20); !errors.Is(err, ErrSnappyCorrupt) {
		t.Fatalf("oversized padding: got %v, want ErrSnappyCorrupt", err)
	}
	ref := snappy.NewReader(bytes.NewReader(append([]byte(snappyStreamID), padChunk(snappyMaxCompressedChunk+1)...)))
	if _, err := io.ReadAll(ref); err == nil {
		t.Fatal("golang/snappy accepts oversized padding; the decoder should too")
	}
}

func TestSnappyReset(t *testing.T) {
	var e SnappyEncoder
	var d SnappyDecoder
	for i := 0; i < 2; i++ {
		stream := e.Encode(nil, []byte("stream"))
		d.Write(stream)
		got, err := d.Decode(nil, 100)
		if err != nil || string(got) != "stream" {
			t.Fatalf("round %d: got %q, %v", i, got, err)
		}
		e.Reset()
		d.Reset()
	}
}

func BenchmarkSnappyEncode(b *testing.B) {
	for _, size := range []int{16, 256, 4096, 65536, 1 << 20} {
		b.Run("size="+itoa(size), func(b *testing.B) {
			src := bytes.Repeat([]byte("nsq message body "), size/17+1)[:size]
			var e SnappyEncoder
			dst := e.Encode(nil, src)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				dst = e.Encode(dst[:0], src)
			}
		})
	}
}

func BenchmarkSnappyDecode(b *testing.B) {
	for _, size := range []int{16, 256, 4096, 65536, 1 << 20} {
		b.Run("size="+itoa(size), func(b *testing.B) {
			src := bytes.Repeat([]byte("nsq message body "), size/17+1)[:size]
			var e SnappyEncoder
			e.Encode(nil, nil) // the stream identifier goes to the first batch
			enc := e.Encode(nil, src)
			var d SnappyDecoder
			d.Write([]byte(snappyStreamID))
			d.Decode(nil, 0)
			dst := make([]byte, 0, size+snappyMaxBlockSize)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				d.Write(enc)
				dst, _ = d.Decode(dst[:0], 1<<30)
			}
		})
	}
}

func itoa(n int) string { return Itoa(int64(n)) }
