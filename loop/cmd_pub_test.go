package loop

import (
	"bytes"
	"encoding/binary"
	"testing"

	"nsqreactor/core"
)

// mpubFrame is "MPUB topic\n" and a body of n messages of size bytes each.
func mpubFrame(topic string, n, size int) []byte {
	b := []byte("MPUB " + topic + "\n")
	b = binary.BigEndian.AppendUint32(b, uint32(4+n*(4+size)))
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	msg := bytes.Repeat([]byte{'m'}, size)
	for range n {
		b = binary.BigEndian.AppendUint32(b, uint32(size))
		b = append(b, msg...)
	}
	return b
}

// A big MPUB arriving in many reads (as over a real network) is parsed a
// bounded number of times: header by header only in its first
// mpubEagerBytes, then once whole. Each parse costs a join of everything
// buffered, so one per read would make its copying quadratic.
func TestBigMPUBInPiecesParsedBoundedTimes(t *testing.T) {
	h := newHarness(t, func(o *core.Options) { o.MaxBodySize = 4 << 20 })
	cl := h.open()
	cl.send([]byte("  V2"))
	frame := mpubFrame("big", 2000, 1000) // ≈ 2 MB
	const piece = 1448                    // one TCP segment's payload
	before := cl.fc.peeks
	for off := 0; off < len(frame); off += piece {
		cl.send(frame[off:min(off+piece, len(frame))])
	}
	reads := (len(frame) + piece - 1) / piece
	peeks := cl.fc.peeks - before
	if want := mpubEagerBytes/piece + 3; peeks > want {
		t.Errorf("%d reads made %d parses of the buffered body, want at most %d", reads, peeks, want)
	}
	if got := cl.fc.out.String(); !bytes.Contains([]byte(got), []byte("OK")) {
		t.Fatalf("no OK after the MPUB: %q", got)
	}
	tp, err := h.srv.nsqd.GetExistingTopic("big")
	if err != nil || tp.Depth() != 2000 {
		t.Fatalf("topic big: %v, depth %d, want 2000", err, tp.Depth())
	}
}

// A bad message size early in an MPUB body is answered as soon as it
// arrives, without the rest of the declared body (upstream reads message by
// message and answers at once).
func TestMPUBBadSizeAnsweredOnArrival(t *testing.T) {
	h := newHarness(t, nil)
	cl := h.open()
	cl.send([]byte("  V2"))
	frame := mpubFrame("bad", 10, 100)
	// the third message's size says 0
	third := len("MPUB bad\n") + 4 + 4 + 2*(4+100)
	binary.BigEndian.PutUint32(frame[third:], 0)
	cl.send(frame[:third-10])
	if cl.fc.out.Len() != 0 {
		t.Fatalf("answered before the bad size arrived: %q", cl.fc.out.String())
	}
	cl.send(frame[third-10 : third+4]) // the bad size, and nothing after it
	if !bytes.Contains(cl.fc.out.Bytes(), []byte("E_BAD_MESSAGE")) || !cl.fc.closed {
		t.Fatalf("after the bad size: closed %v, output %q", cl.fc.closed, cl.fc.out.String())
	}
}

// A peer that closes after complete, valid MPUB messages but before the
// declared body size is answered E_BAD_BODY at the close (found by
// FuzzConnInput: the close path failed with a nil error and panicked, which
// would have taken the daemon down).
func TestMPUBShortBodyAtClose(t *testing.T) {
	h := newHarness(t, nil)
	fc := newFakeConn()
	h.srv.OnOpen(fc)
	cl := &client{h: h, fc: fc, c: fc.ctx.(*conn)}
	body := []byte("\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x01b") // 2 messages, 14 bytes
	frame := append([]byte("  V2MPUB t\n\x00\x00\x00\x30"), body...)     // declares 48
	cl.send(frame)
	if fc.out.Len() != 0 {
		t.Fatalf("answered before the body was complete: %q", fc.out.String())
	}
	h.srv.OnClose(fc, nil)
	if !bytes.Contains(fc.out.Bytes(), []byte("E_BAD_BODY MPUB failed to read body")) {
		t.Fatalf("at close: %q", fc.out.String())
	}
}
