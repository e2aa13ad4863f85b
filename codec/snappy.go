package codec

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"

	"github.com/golang/snappy"
)

// Snappy framing format (https://github.com/google/snappy/blob/main/framing_format.txt),
// the stream layer an IDENTIFY with "snappy":true switches on. Every chunk is
//
//	[1 type][3 length, little-endian][length bytes of data]
//
//	type 0xff  stream identifier, data "sNaPpY"; first in every stream
//	type 0x00  compressed:   [4 masked CRC-32C of the plaintext][snappy block]
//	type 0x01  uncompressed: [4 masked CRC-32C of the plaintext][plaintext]
//	type 0x80-0xfe skippable (0xfe is padding); 0x02-0x7f reserved, unskippable
//
// A chunk carries at most 64 KiB of plaintext. golang/snappy's framing Reader
// and Writer (what go-nsq and upstream use) read from an io.Reader and keep a
// sticky error when it runs dry, so they cannot resume on a non-blocking
// connection. SnappyEncoder and SnappyDecoder implement the framing here over
// golang/snappy's block codec instead, byte-compatible with both.

const (
	snappyChunkCompressed   = 0x00
	snappyChunkUncompressed = 0x01
	snappyChunkPadding      = 0xfe
	snappyChunkStreamID     = 0xff

	snappyMaxBlockSize = 65536 // plaintext per chunk
	snappyChecksumSize = 4
	snappyHeaderSize   = 4
	snappyMagicBody    = "sNaPpY"
)

// snappyStreamID is the stream identifier chunk that opens every stream
// (ff 06 00 00 73 4e 61 50 70 59).
const snappyStreamID = "\xff\x06\x00\x00" + snappyMagicBody

// snappyMaxCompressedChunk is the largest data length of a compressed chunk:
// the checksum plus the worst-case encoding of a full block.
var snappyMaxCompressedChunk = snappyChecksumSize + snappy.MaxEncodedLen(snappyMaxBlockSize)

// ErrSnappyCorrupt is returned by SnappyDecoder.Decode for input that is not a
// valid snappy framing stream (bad checksum, bad chunk, missing stream
// identifier). The decoder stays in error; the connection must be closed.
var ErrSnappyCorrupt = errors.New("codec: corrupt snappy stream")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// snappyCRC is the framing format's masked CRC-32C.
func snappyCRC(b []byte) uint32 {
	c := crc32.Update(0, crcTable, b)
	return (c>>15 | c<<17) + 0xa282ead8
}

// SnappyEncoder turns plaintext batches into a snappy framing stream. The zero
// value is ready to use. It is not safe for concurrent use.
type SnappyEncoder struct {
	started bool // the stream identifier has been written
}

// Encode appends to dst the framing-format encoding of src (the stream
// identifier first, on the first call) and returns the extended buffer.
// Every call ends on a chunk boundary, so nothing is held back: the bytes
// appended are all the receiver needs to decode src. Encode allocates only
// when dst must grow.
func (e *SnappyEncoder) Encode(dst, src []byte) []byte {
	if !e.started {
		dst = append(dst, snappyStreamID...)
		e.started = true
	}
	for len(src) > 0 {
		block := src
		if len(block) > snappyMaxBlockSize {
			block = block[:snappyMaxBlockSize]
		}
		src = src[len(block):]
		dst = appendSnappyChunk(dst, block)
	}
	return dst
}

// appendSnappyChunk appends one chunk holding block (≤ 64 KiB): compressed,
// unless compression saves less than 12.5% (the same rule as golang/snappy's
// Writer).
func appendSnappyChunk(dst, block []byte) []byte {
	start := len(dst)
	maxLen := snappy.MaxEncodedLen(len(block))
	dst = extend(dst, snappyHeaderSize+snappyChecksumSize+maxLen)
	body := dst[start+snappyHeaderSize+snappyChecksumSize : start+snappyHeaderSize+snappyChecksumSize+maxLen]
	enc := snappy.Encode(body, block) // in place: body is large enough
	chunkType := byte(snappyChunkCompressed)
	n := len(enc)
	if n >= len(block)-len(block)/8 {
		chunkType = snappyChunkUncompressed
		n = copy(body[:len(block)], block)
	}
	dataLen := snappyChecksumSize + n
	hdr := dst[start : start+snappyHeaderSize+snappyChecksumSize]
	hdr[0] = chunkType
	hdr[1] = byte(dataLen)
	hdr[2] = byte(dataLen >> 8)
	hdr[3] = byte(dataLen >> 16)
	binary.LittleEndian.PutUint32(hdr[4:], snappyCRC(block))
	return dst[:start+snappyHeaderSize+dataLen]
}

// Reset makes e start a new stream (the next Encode writes the stream
// identifier again).
func (e *SnappyEncoder) Reset() { e.started = false }

// SnappyDecoder decodes a snappy framing stream that arrives in arbitrary
// pieces. The zero value is ready to use. It is not safe for concurrent use.
//
// Input is given with Write, which copies it: the caller's buffer may be
// reused as soon as Write returns (the event loop hands in bytes peeked from
// gnet, valid only until Discard). Decode then produces plaintext on demand,
// so a caller that stops asking (because the command being decoded is
// already known to be too big) never inflates the rest. Besides what Write
// was given and Decode has not been asked to consume, the decoder holds at
// most one incomplete chunk (≤ 76 KiB).
type SnappyDecoder struct {
	in      []byte // pending input; in[off:] is not yet consumed
	off     int
	started bool // the stream identifier was seen
	err     error
}

// Write appends compressed input. It never fails (the error is for
// io.Writer); a corrupt stream is reported by Decode.
func (d *SnappyDecoder) Write(p []byte) (int, error) {
	if d.off > 0 && d.off == len(d.in) {
		d.in, d.off = d.in[:0], 0
	}
	d.in = append(d.in, p...)
	return len(p), nil
}

// Space returns at least n bytes of room after the pending input, for a
// caller that produces compressed input in place (a TLS record layer
// decrypting into it); Commit(k) then appends the first k of them. Together
// they are Write without the copy. The room is valid until the next call to
// any method of d.
func (d *SnappyDecoder) Space(n int) []byte {
	if d.off > 0 && d.off == len(d.in) {
		d.in, d.off = d.in[:0], 0
	}
	d.in = slices.Grow(d.in, n)
	return d.in[len(d.in):cap(d.in)]
}

// Commit appends the first k bytes of the room Space returned to the
// pending input.
func (d *SnappyDecoder) Commit(k int) { d.in = d.in[:len(d.in)+k] }

// Buffered returns the number of input bytes not yet consumed.
func (d *SnappyDecoder) Buffered() int { return len(d.in) - d.off }

// Decode appends plaintext decoded from the input written so far to dst and
// returns the extended buffer. It stops once it has appended at least max
// bytes or the input holds no complete chunk; it decodes whole chunks, so it
// appends at most max + 64 KiB - 1 bytes. An incomplete chunk stays buffered
// until the rest is written. After a corrupt chunk it returns
// ErrSnappyCorrupt, now and on every later call.
func (d *SnappyDecoder) Decode(dst []byte, max int) ([]byte, error) {
	produced := 0
	for d.err == nil && produced < max {
		in := d.in[d.off:]
		if len(in) < snappyHeaderSize {
			break
		}
		chunkType := in[0]
		chunkLen := int(in[1]) | int(in[2])<<8 | int(in[3])<<16
		if e := d.checkHeader(chunkType, chunkLen); e != nil {
			d.err = e
			break
		}
		if len(in) < snappyHeaderSize+chunkLen {
			break
		}
		data := in[snappyHeaderSize : snappyHeaderSize+chunkLen]
		before := len(dst)
		dst, d.err = d.decodeChunk(dst, chunkType, data)
		produced += len(dst) - before
		d.off += snappyHeaderSize + chunkLen
	}
	if d.off == len(d.in) {
		d.in, d.off = d.in[:0], 0
	} else if d.off > 64*1024 && d.off > len(d.in)/2 {
		n := copy(d.in, d.in[d.off:])
		d.in, d.off = d.in[:n], 0
	}
	return dst, d.err
}

// checkHeader rejects a chunk header before its data is buffered, with the
// limits golang/snappy's Reader (upstream's and go-nsq's) applies: no chunk,
// skippable ones included, may exceed the largest compressed chunk.
func (d *SnappyDecoder) checkHeader(chunkType byte, chunkLen int) error {
	if !d.started && chunkType != snappyChunkStreamID || chunkLen > snappyMaxCompressedChunk {
		return ErrSnappyCorrupt
	}
	switch {
	case chunkType == snappyChunkStreamID:
		if chunkLen != len(snappyMagicBody) {
			return ErrSnappyCorrupt
		}
	case chunkType == snappyChunkCompressed:
		if chunkLen < snappyChecksumSize || chunkLen > snappyMaxCompressedChunk {
			return ErrSnappyCorrupt
		}
	case chunkType == snappyChunkUncompressed:
		if chunkLen < snappyChecksumSize || chunkLen > snappyChecksumSize+snappyMaxBlockSize {
			return ErrSnappyCorrupt
		}
	case chunkType < 0x80: // reserved unskippable
		return ErrSnappyCorrupt
	}
	return nil
}

// decodeChunk appends the plaintext of one complete chunk to dst.
func (d *SnappyDecoder) decodeChunk(dst []byte, chunkType byte, data []byte) ([]byte, error) {
	switch chunkType {
	case snappyChunkStreamID:
		if string(data) != snappyMagicBody {
			return dst, ErrSnappyCorrupt
		}
		d.started = true
		return dst, nil
	case snappyChunkCompressed:
	case snappyChunkUncompressed:
		crc := binary.LittleEndian.Uint32(data)
		plain := data[snappyChecksumSize:]
		if snappyCRC(plain) != crc {
			return dst, ErrSnappyCorrupt
		}
		return append(dst, plain...), nil
	default: // skippable or padding
		return dst, nil
	}
	crc := binary.LittleEndian.Uint32(data)
	block := data[snappyChecksumSize:]
	n, err := snappy.DecodedLen(block)
	if err != nil || n > snappyMaxBlockSize {
		return dst, ErrSnappyCorrupt
	}
	start := len(dst)
	dst = extend(dst, n)
	plain, err := snappy.Decode(dst[start:start+n], block) // in place
	if err != nil || len(plain) != n || snappyCRC(plain) != crc {
		return dst[:start], ErrSnappyCorrupt
	}
	return dst[:start+n], nil
}

// Reset discards all state so d can decode a new stream; its buffers are
// kept.
func (d *SnappyDecoder) Reset() {
	*d = SnappyDecoder{in: d.in[:0]}
}

// extend returns dst lengthened by n bytes (their contents unspecified),
// reallocating only when its capacity is too small.
func extend(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst[:len(dst)+n]
	}
	nb := make([]byte, len(dst)+n, 2*cap(dst)+n)
	copy(nb, dst)
	return nb
}
