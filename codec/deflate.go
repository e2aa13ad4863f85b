package codec

import (
	"bufio"
	"errors"
	"io"
	"iter"
	"slices"

	"github.com/klauspost/compress/flate"
)

// Raw DEFLATE (RFC 1951, no zlib or gzip header), the stream layer an
// IDENTIFY with "deflate":true switches on. Each side compresses its bytes as
// one endless stream and ends every write batch with a sync flush: the
// current block is closed and an empty stored block (00 00 ff ff) brings the
// stream to a byte boundary, so everything written so far can be decoded.
// The stream never has a final block.

// MaxDeflateLevel is the highest compression level (and the largest valid
// --max-deflate-level).
const MaxDeflateLevel = flate.BestCompression

// ErrDeflateClosed is returned by DeflateDecoder.Decode after Close.
var ErrDeflateClosed = errors.New("codec: deflate decoder closed")

// DeflateEncoder compresses plaintext batches into one raw DEFLATE stream,
// sync-flushing after every batch. It is not safe for concurrent use.
type DeflateEncoder struct {
	fw  *flate.Writer
	out appendWriter
}

// NewDeflateEncoder returns an encoder at level (1 fastest … 9 best). It
// fails only for a level flate does not know.
func NewDeflateEncoder(level int) (*DeflateEncoder, error) {
	e := &DeflateEncoder{}
	fw, err := flate.NewWriter(&e.out, level)
	if err != nil {
		return nil, err
	}
	e.fw = fw
	return e, nil
}

// Encode appends the compressed form of src to dst, followed by a sync
// flush, and returns the extended buffer. Nothing stays behind in the
// compressor: the receiver can decode all of src from the bytes appended.
// src is not retained; dst must not alias src.
func (e *DeflateEncoder) Encode(dst, src []byte) []byte {
	e.out.buf = dst
	e.fw.Write(src) // appendWriter never fails, so neither does the compressor
	e.fw.Flush()
	dst = e.out.buf
	e.out.buf = nil
	return dst
}

// Reset discards the stream state so e starts a new stream at the same
// level.
func (e *DeflateEncoder) Reset() { e.fw.Reset(&e.out) }

// appendWriter is an io.Writer that appends to buf.
type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// DeflateDecoder decodes a raw DEFLATE stream that arrives in arbitrary
// pieces: a block, a Huffman code or a single symbol may be split across
// writes. It is not safe for concurrent use.
//
// flate's Reader pulls its input from an io.Reader and keeps a sticky error
// once that reader runs dry, so it cannot resume mid-block on a non-blocking
// connection. DeflateDecoder runs the flate Reader as a coroutine
// (iter.Pull): when the pending input is exhausted the decompressor is
// suspended exactly where it stands, and the next Decode resumes it. The
// coroutine only ever runs while Decode is on the stack, on the caller's
// goroutine, so there is no concurrency and no scheduler hop; it costs one
// parked goroutine per decoder, which Close releases. Close must be called.
//
// Input is given with Write, which copies it. Decode produces plaintext on
// demand, at most max (+32 KiB) bytes per call, so a caller that stops
// asking never inflates the rest of a compressed body.
type DeflateDecoder struct {
	src deflateSource
	br  *bufio.Reader
	fr  io.ReadCloser
	wt  io.WriterTo // fr's WriteTo: plaintext straight from flate's window

	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool // the running coroutine's yield

	// exchanged with the coroutine during Decode
	dst      []byte
	room     int // plaintext still wanted in this Decode call
	err      error
	starving bool // the coroutine is waiting for input
}

// deflateReadSize is the most plaintext flate hands out at once (its
// window), so the most a Decode call can overshoot its budget by.
const deflateReadSize = 32 * 1024

// NewDeflateDecoder returns a decoder for a new stream.
func NewDeflateDecoder() *DeflateDecoder {
	d := &DeflateDecoder{}
	d.src.d = d
	d.br = bufio.NewReaderSize(&d.src, 16*1024)
	d.setReader(newFlateReader(d.br))
	return d
}

// setReader installs flate's decompressor; klauspost's implements
// io.WriterTo, which run relies on.
func (d *DeflateDecoder) setReader(fr io.ReadCloser) {
	d.fr, d.wt = fr, fr.(io.WriterTo)
}

// newFlateReader returns flate's decompressor over r. As upstream's (Go's
// compress/flate), it hands out plaintext at each sync flush (and whenever
// its 32 KiB window fills), not at every block end: a command is complete
// only once the client's flush is, so a peer whose flush arrives in two
// writes is not answered (or closed on) between them.
func newFlateReader(r *bufio.Reader) io.ReadCloser {
	return flate.NewReader(r)
}

// Write appends compressed input; it never fails. p may be reused as soon as
// Write returns.
func (d *DeflateDecoder) Write(p []byte) (int, error) {
	s := &d.src
	if s.off > 0 && s.off == len(s.in) {
		s.in, s.off = s.in[:0], 0
	}
	s.in = append(s.in, p...)
	return len(p), nil
}

// Space returns at least n bytes of room after the pending input, for a
// caller that produces compressed input in place; Commit(k) then appends the
// first k of them (Write without the copy). The room is valid until the next
// call to any method of d.
func (d *DeflateDecoder) Space(n int) []byte {
	s := &d.src
	if s.off > 0 && s.off == len(s.in) {
		s.in, s.off = s.in[:0], 0
	}
	s.in = slices.Grow(s.in, n)
	return s.in[len(s.in):cap(s.in)]
}

// Commit appends the first k bytes of the room Space returned to the
// pending input.
func (d *DeflateDecoder) Commit(k int) { d.src.in = d.src.in[:len(d.src.in)+k] }

// Buffered returns the number of written bytes the decompressor has not yet
// taken (it may also hold up to 16 KiB read ahead).
func (d *DeflateDecoder) Buffered() int { return len(d.src.in) - d.src.off }

// Decode appends plaintext decoded from the input written so far to dst and
// returns the extended buffer. It returns once it has appended at least max
// bytes or the decompressor needs more input (it may append up to 32 KiB
// more than max). A corrupt stream returns a flate error, a final block
// io.EOF (after its plaintext); either way the stream is over and every
// later call returns the same error.
func (d *DeflateDecoder) Decode(dst []byte, max int) ([]byte, error) {
	if d.err != nil {
		return dst, d.err
	}
	if d.next == nil {
		d.next, d.stop = iter.Pull(d.run)
	}
	if d.starving && d.Buffered() == 0 {
		return dst, nil // nothing new: do not resume just to starve again
	}
	d.dst, d.room = dst, max
	d.next()
	dst, d.dst = d.dst, nil
	return dst, d.err
}

// run is the coroutine: flate's WriteTo hands each stretch of plaintext
// from its window to deflateSink, which appends it to the current Decode
// call's buffer and yields whenever the call's budget is spent; the
// coroutine also yields when the input runs dry (inside deflateSource.Read).
// Writing from flate's window saves the copy through a read buffer that
// Read would need. When the stream ends (a final block: WriteTo returns
// nil) or fails, run parks with the error.
func (d *DeflateDecoder) run(yield func(struct{}) bool) {
	d.yield = yield
	_, err := d.wt.WriteTo((*deflateSink)(d))
	if err == nil {
		err = io.EOF
	}
	d.err = err
	for yield(struct{}{}) {
	}
}

// deflateSink is the DeflateDecoder as flate's WriteTo sees it.
type deflateSink DeflateDecoder

// Write appends p to the current Decode call's buffer, at most the call's
// budget at a time, yielding to the caller in between. d.dst is always the
// current call's buffer: p is flate's window, never caller memory.
func (s *deflateSink) Write(p []byte) (int, error) {
	d := (*DeflateDecoder)(s)
	total := len(p)
	for len(p) > 0 {
		for d.room <= 0 {
			if !d.yield(struct{}{}) {
				return total - len(p), ErrDeflateClosed
			}
		}
		k := min(len(p), d.room)
		d.dst = append(d.dst, p[:k]...)
		d.room -= k
		p = p[k:]
	}
	return total, nil
}

// Close releases the coroutine. Decode then returns ErrDeflateClosed.
func (d *DeflateDecoder) Close() error {
	if d.stop != nil {
		d.stop()
		d.next, d.stop = nil, nil
	}
	if d.err == nil {
		d.err = ErrDeflateClosed
	}
	return nil
}

// Reset discards the stream state (and any pending input) so d can decode a
// new stream; its buffers are kept.
func (d *DeflateDecoder) Reset() {
	if d.stop != nil {
		d.stop()
		d.next, d.stop = nil, nil
	}
	d.src.in, d.src.off = d.src.in[:0], 0
	d.br.Reset(&d.src)
	// a new decompressor, not flate's Resetter: in klauspost/compress
	// v1.20.4 a Reset decompressor keeps Huffman-table state that changes
	// its verdict on some corrupt streams (FuzzDeflateStream found it: a
	// fresh reader says "corrupt input", a reset one waits for more)
	d.setReader(newFlateReader(d.br))
	d.err, d.starving, d.yield = nil, false, nil
}

// deflateSource is the flate Reader's input: the bytes given to Write. When
// they run out it suspends the coroutine instead of returning an error.
type deflateSource struct {
	d   *DeflateDecoder
	in  []byte
	off int
}

func (s *deflateSource) Read(p []byte) (int, error) {
	for s.off == len(s.in) {
		s.d.starving = true
		if !s.d.yield(struct{}{}) {
			return 0, ErrDeflateClosed
		}
	}
	s.d.starving = false
	n := copy(p, s.in[s.off:])
	s.off += n
	if s.off == len(s.in) {
		s.in, s.off = s.in[:0], 0
	}
	return n, nil
}
