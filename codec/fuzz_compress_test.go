package codec

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/flate"
)

// The stream decoders are fuzzed differentially (STYLE §4.9): the same input
// fed whole and in random piece sizes, to a fresh decoder and to a reused
// (Reset) one, must give the same plaintext and the same verdict; and
// plaintext encoded by our encoders (and the reference libraries' writers)
// must come back unchanged. Seeds live in testdata/fuzz/FuzzSnappyStream
// and testdata/fuzz/FuzzDeflateStream.

// pieces cuts b into random pieces (1..maxPiece bytes) chosen by seed.
func pieces(b []byte, seed uint64, maxPiece int) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed>>7))
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(maxPiece))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// streamDecoder is what both decoders offer.
type streamDecoder interface {
	Write([]byte) (int, error)
	Space(n int) []byte
	Commit(k int)
	Decode(dst []byte, max int) ([]byte, error)
}

// decodeAll feeds each piece (with Write, or in place with Space and
// Commit: the choice, too, by seed) and decodes with a budget chosen by seed,
// until the decoder makes no more progress; it returns the plaintext and
// whether the stream was rejected (io.EOF, a final deflate block, counts as
// accepted).
func decodeAll(d streamDecoder, in [][]byte, seed uint64) ([]byte, bool) {
	r := rand.New(rand.NewPCG(seed, 3))
	var out []byte
	var err error
	for _, p := range in {
		if r.IntN(2) == 0 {
			d.Write(p)
		} else {
			d.Commit(copy(d.Space(len(p)), p))
		}
		for err == nil {
			before := len(out)
			out, err = d.Decode(out, 1+r.IntN(70000))
			if len(out) == before {
				break
			}
		}
	}
	return out, err != nil && err != io.EOF
}

// Reused across executions (a fuzz worker runs them one at a time): the
// decoders are the "reused" half of the differential; the encoders, Reset
// before each use, keep executions fast (a level-9 flate writer is large).
var (
	reusedSnappy    SnappyDecoder
	reusedDeflate   = NewDeflateDecoder()
	deflateEncoders [MaxDeflateLevel + 1]*DeflateEncoder
)

func FuzzSnappyStream(f *testing.F) {
	var e SnappyEncoder
	f.Add(e.Encode(nil, []byte("PUB t\n\x00\x00\x00\x05hello")), uint64(1))
	f.Add([]byte(snappyStreamID+"\x01\x09\x00\x00abcdhello"), uint64(2))
	f.Add([]byte{}, uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		// 1. data as plaintext: our encoder, in batches, round-trips
		//    through our decoder (pieces) and golang/snappy's Reader.
		var enc SnappyEncoder
		var stream []byte
		for _, batch := range pieces(data, seed, 5000) {
			stream = enc.Encode(stream, batch)
		}
		var d SnappyDecoder
		got, bad := decodeAll(&d, pieces(stream, seed+1, 300), seed)
		if bad || !bytes.Equal(got, data) {
			t.Fatalf("round trip: got %d bytes (rejected %v), want %d", len(got), bad, len(data))
		}
		if len(data) > 0 {
			ref, err := io.ReadAll(snappy.NewReader(bytes.NewReader(stream)))
			if err != nil || !bytes.Equal(ref, data) {
				t.Fatalf("golang/snappy reads our stream as %d bytes, %v", len(ref), err)
			}
		}

		// 2. data as a (mostly hostile) stream: whole vs pieces, fresh vs reused.
		raw := data
		if seed&1 == 0 {
			raw = append([]byte(snappyStreamID), data...)
		}
		var fresh SnappyDecoder
		whole, wholeBad := decodeAll(&fresh, [][]byte{raw}, seed)
		reusedSnappy.Reset()
		split, splitBad := decodeAll(&reusedSnappy, pieces(raw, seed, 64), seed+2)
		if wholeBad != splitBad || !bytes.Equal(whole, split) {
			t.Fatalf("whole: %d bytes, rejected %v; pieces: %d bytes, rejected %v", len(whole), wholeBad, len(split), splitBad)
		}
		// golang/snappy also rejects a truncated last chunk, where we wait
		// for more; otherwise the verdicts and the plaintext agree.
		ref, err := io.ReadAll(snappy.NewReader(bytes.NewReader(raw)))
		if wholeBad && err == nil || !bytes.Equal(ref, whole) {
			t.Fatalf("golang/snappy: %d bytes, %v; ours: %d bytes, rejected %v", len(ref), err, len(whole), wholeBad)
		}
	})
}

func FuzzDeflateStream(f *testing.F) {
	e, _ := NewDeflateEncoder(6)
	f.Add(e.Encode(nil, []byte("PUB t\n\x00\x00\x00\x05hello")), uint64(6))
	f.Add([]byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o'}, uint64(1))
	f.Add([]byte{}, uint64(9))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		// 1. data as plaintext through our encoder at a seed-chosen level.
		level := 1 + int(seed%9)
		enc := deflateEncoders[level]
		if enc == nil {
			var err error
			if enc, err = NewDeflateEncoder(level); err != nil {
				t.Fatal(err)
			}
			deflateEncoders[level] = enc
		}
		enc.Reset()
		var stream []byte
		for _, batch := range pieces(data, seed, 5000) {
			stream = enc.Encode(stream, batch)
		}
		d := NewDeflateDecoder()
		defer d.Close()
		got, bad := decodeAll(d, pieces(stream, seed+1, 300), seed)
		if bad || !bytes.Equal(got, data) {
			t.Fatalf("level %d round trip: got %d bytes (rejected %v), want %d", level, len(got), bad, len(data))
		}

		// 2. data as a raw stream: whole vs pieces, fresh vs reused, and
		//    klauspost's own one-shot reader as the reference.
		fresh := NewDeflateDecoder()
		defer fresh.Close()
		whole, wholeBad := decodeAll(fresh, [][]byte{data}, seed)
		reusedDeflate.Reset()
		split, splitBad := decodeAll(reusedDeflate, pieces(data, seed, 64), seed+2)
		if wholeBad != splitBad || !bytes.Equal(whole, split) {
			t.Fatalf("whole: %d bytes, rejected %v; pieces: %d bytes, rejected %v", len(whole), wholeBad, len(split), splitBad)
		}
		ref, err := io.ReadAll(flate.NewReader(bytes.NewReader(data)))
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF): // truncated: we may hold back the unfinished block
			if !bytes.HasPrefix(ref, whole) || wholeBad {
				t.Fatalf("truncated stream: flate %d bytes, ours %d (rejected %v)", len(ref), len(whole), wholeBad)
			}
		case (err != nil) != wholeBad || !bytes.Equal(ref, whole):
			t.Fatalf("flate: %d bytes, %v; ours: %d bytes, rejected %v", len(ref), err, len(whole), wholeBad)
		}
	})
}
