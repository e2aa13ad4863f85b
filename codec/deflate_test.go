package codec

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

func TestDeflateEncoderReadableByFlate(t *testing.T) {
	for name, plain := range testPlaintexts() {
		for _, level := range []int{1, 6, 9} {
			t.Run(name+"/level="+itoa(level), func(t *testing.T) {
				e, err := NewDeflateEncoder(level)
				if err != nil {
					t.Fatal(err)
				}
				// each batch must be decodable on its own: the reader sees
				// only the bytes of the batches so far
				var stream []byte
				r := stdflate.NewReader(nil)
				for i, batch := range [][]byte{plain, []byte("OK"), plain} {
					stream = e.Encode(stream, batch)
					r.(stdflate.Resetter).Reset(bytes.NewReader(stream), nil)
					got, err := io.ReadAll(r)
					if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("batch %d: reading the stream so far ended with %v, want io.ErrUnexpectedEOF (no final block)", i, err)
					}
					if !bytes.HasSuffix(stream, []byte{0, 0, 0xff, 0xff}) {
						t.Fatalf("batch %d: stream does not end with a sync flush", i)
					}
					if !bytes.HasSuffix(got, batch) {
						t.Fatalf("batch %d: decoded %d bytes, missing the batch's %d", i, len(got), len(batch))
					}
				}
			})
		}
	}
}

// Streams written by the standard library's flate (go-nsq's writer) and by
// klauspost's, with sync flushes between writes, decode in any piece sizes.
func TestDeflateDecoderInPieces(t *testing.T) {
	type writer interface {
		io.Writer
		Flush() error
	}
	writers := map[string]func(io.Writer) writer{
		"stdlib": func(w io.Writer) writer { fw, _ := stdflate.NewWriter(w, 6); return fw },
		"klauspost level 1": func(w io.Writer) writer {
			fw, _ := flate.NewWriter(w, 1)
			return fw
		},
	}
	for wname, newWriter := range writers {
		for name, plain := range testPlaintexts() {
			for _, sizes := range [][]int{{1}, {2, 5, 13}, {4096}, {1 << 22}} {
				t.Run(wname+"/"+name, func(t *testing.T) {
					var buf bytes.Buffer
					w := newWriter(&buf)
					w.Write(plain)
					w.Flush()
					w.Write([]byte("tail"))
					w.Flush()
					want := append(append([]byte{}, plain...), "tail"...)

					d := NewDeflateDecoder()
					defer d.Close()
					var got []byte
					var err error
					splitFeed(buf.Bytes(), sizes, func(p []byte) { d.Write(p) }, func() {
						for err == nil {
							before := len(got)
							if got, err = d.Decode(got, 4096); len(got) == before {
								break
							}
						}
					})
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
					}
				})
			}
		}
	}
}

// A tiny budget never inflates a bomb: 8 MiB of zeros compress to ~8 KiB,
// and Decode(max=1) stops after at most one read (32 KiB).
func TestDeflateDecoderBudget(t *testing.T) {
	e, _ := NewDeflateEncoder(9)
	stream := e.Encode(nil, make([]byte, 8<<20))
	d := NewDeflateDecoder()
	defer d.Close()
	d.Write(stream)
	got, err := d.Decode(nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) > 1+deflateReadSize {
		t.Fatalf("Decode(max=1) appended %d bytes, want 1..%d", len(got), 1+deflateReadSize)
	}
	for len(got) < 8<<20 {
		before := len(got)
		if got, err = d.Decode(got, 100000); err != nil {
			t.Fatal(err)
		}
		if len(got)-before > 100000+deflateReadSize || len(got) == before {
			t.Fatalf("Decode(max=100000) appended %d bytes", len(got)-before)
		}
	}
}

func TestDeflateDecoderErrors(t *testing.T) {
	t.Run("corrupt", func(t *testing.T) {
		d := NewDeflateDecoder()
		defer d.Close()
		d.Write([]byte{0xff, 0xff, 0xff, 0xff}) // block type 3 (reserved)
		if _, err := d.Decode(nil, 100); err == nil {
			t.Fatal("got nil error for a reserved block type")
		}
		if _, err := d.Decode(nil, 100); err == nil {
			t.Fatal("the error is not sticky")
		}
	})
	t.Run("final block", func(t *testing.T) {
		var buf bytes.Buffer
		fw, _ := stdflate.NewWriter(&buf, 6)
		fw.Write([]byte("last words"))
		fw.Close()
		d := NewDeflateDecoder()
		defer d.Close()
		d.Write(buf.Bytes())
		got, err := d.Decode(nil, 100)
		if string(got) != "last words" || err != io.EOF {
			t.Fatalf("got %q, %v; want %q, io.EOF", got, err, "last words")
		}
	})
	t.Run("closed", func(t *testing.T) {
		d := NewDeflateDecoder()
		d.Write([]byte{0})
		d.Decode(nil, 100) // start the coroutine; it starves mid-header
		d.Close()
		if _, err := d.Decode(nil, 100); !errors.Is(err, ErrDeflateClosed) {
			t.Fatalf("got %v, want ErrDeflateClosed", err)
		}
	})
}

// Close and Reset release the coroutine: no goroutine outlives its decoder.
func TestDeflateDecoderReleasesCoroutine(t *testing.T) {
	e, _ := NewDeflateEncoder(6)
	stream := e.Encode(nil, []byte("hello"))
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		d := NewDeflateDecoder()
		d.Write(stream[:3])
		d.Decode(nil, 100) // starving mid-stream
		d.Reset()
		d.Write(stream)
		if got, err := d.Decode(nil, 100); err != nil || string(got) != "hello" {
			t.Fatalf("after Reset got %q, %v", got, err)
		}
		d.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines, want ≤ %d", n, before)
	}
}

func BenchmarkDeflateEncode(b *testing.B) {
	for _, size := range []int{16, 256, 4096, 65536, 1 << 20} {
		b.Run("size="+itoa(size), func(b *testing.B) {
			src := bytes.Repeat([]byte("nsq message body "), size/17+1)[:size]
			e, _ := NewDeflateEncoder(6)
			dst := e.Encode(nil, src)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				dst = e.Encode(dst[:0], src)
			}
		})
	}
}

func BenchmarkDeflateDecode(b *testing.B) {
	for _, size := range []int{16, 256, 4096, 65536, 1 << 20} {
		b.Run("size="+itoa(size), func(b *testing.B) {
			src := bytes.Repeat([]byte("nsq message body "), size/17+1)[:size]
			e, _ := NewDeflateEncoder(6)
			d := NewDeflateDecoder()
			defer d.Close()
			dst := make([]byte, 0, size+deflateReadSize)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				d.Write(e.Encode(nil, src))
				dst = dst[:0]
				for len(dst) < size {
					dst, _ = d.Decode(dst, 1<<30)
				}
			}
		})
	}
}
