package codec

import (
	"bytes"
	"encoding/binary"
	"io"
	"slices"
	"testing"
)

// ---- FuzzParseCommand ------------------------------------------------------

// cmdEvent is one command taken off a client stream, with copies of its bytes
// so that events from differently fed parsers can be compared.
type cmdEvent struct {
	name    string
	params  [MaxParams]string
	nilPar  [MaxParams]bool
	nparam  int
	lineLen int
	body    string
	err     string // set on the terminal event
}

// maxFuzzBody bounds the body sizes the fuzz stream parser waits for; a larger
// size ends the stream the way the server's size checks would.
const maxFuzzBody = 1 << 16

func hasBody(name []byte) bool {
	switch string(name) {
	case "PUB", "DPUB", "MPUB", "IDENTIFY", "AUTH":
		return true
	}
	return false
}

// parseOne takes one command (line plus body, if any) from the start of b.
// n == 0 and !done means more bytes are needed.
func parseOne(t *testing.T, b []byte, cmd *Command) (ev cmdEvent, n int, done bool) {
	n, err := ParseLine(b, cmd)
	if err != nil {
		if n != 0 {
			t.Fatalf("ParseLine returned n = %d with err %v, want 0", n, err)
		}
		return cmdEvent{err: err.Error()}, 0, true
	}
	if n == 0 {
		return cmdEvent{}, 0, false
	}
	checkLine(t, b[:n], cmd)
	ev = cmdEvent{name: string(cmd.Name), nparam: cmd.NParam, lineLen: n}
	for i := range MaxParams {
		ev.params[i] = string(cmd.Params[i])
		ev.nilPar[i] = cmd.Params[i] == nil
	}
	if !hasBody(cmd.Name) {
		return ev, n, false
	}
	size, ok := ParseSize(b[n:])
	if !ok {
		return cmdEvent{}, 0, false
	}
	if size <= 0 || size > maxFuzzBody {
		ev.err = "body size " + Itoa(int64(size))
		return ev, 0, true
	}
	end := n + 4 + int(size)
	if len(b) < end {
		return cmdEvent{}, 0, false
	}
	ev.body = string(b[n+4 : end])
	return ev, end, false
}

// checkLine checks the parsed command against the raw line: no separator
// inside a token, and the tokens rejoined give the line back.
func checkLine(t *testing.T, raw []byte, cmd *Command) {
	t.Helper()
	if len(raw) > MaxLineLen || raw[len(raw)-1] != '\n' || bytes.IndexByte(raw, '\n') != len(raw)-1 {
		t.Fatalf("ParseLine consumed %q, want one line of at most %d bytes", raw, MaxLineLen)
	}
	line := raw[:len(raw)-1]
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if got := bytes.Count(line, []byte{' '}); cmd.NParam != got {
		t.Fatalf("NParam = %d, want %d (spaces in %q)", cmd.NParam, got, line)
	}
	joined := slices.Clone(cmd.Name)
	for i := range min(cmd.NParam, MaxParams) {
		joined = append(append(joined, ' '), cmd.Params[i]...)
	}
	if !bytes.HasPrefix(line, joined) || (cmd.NParam <= MaxParams && len(joined) != len(line)) {
		t.Fatalf("tokens rejoin to %q, line is %q", joined, line)
	}
}

// streamParser is the loop's use of the codec in miniature: append what
// arrives, take whole commands off the front, keep the rest.
type streamParser struct {
	t      *testing.T
	buf    []byte
	cmd    Command // reused across commands, as the loop does
	fresh  bool    // use a new Command per call instead
	events []cmdEvent
	done   bool
}

func (p *streamParser) feed(b []byte) {
	p.buf = append(p.buf, b...)
	for !p.done {
		cmd := &p.cmd
		if p.fresh {
			cmd = new(Command)
		}
		ev, n, done := parseOne(p.t, p.buf, cmd)
		if done {
			p.events = append(p.events, ev)
			p.done = true
			return
		}
		if n == 0 {
			return
		}
		p.events = append(p.events, ev)
		p.buf = p.buf[n:]
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"NOP\n",
		"PUB t1\r\n\x00\x00\x00\x05hello",
		"SUB t c\nRDY 10\nFIN 0123456789abcdef\nREQ 0123456789abcdef 1000\nTOUCH 0123456789abcdef\nCLS\n",
		"PUB  t1\n\x00\x00\x00\x01x",
		"NOP x y z w\n\n\r\nRDY \n",
		"MPUB t\n\x00\x00\x00\x0d\x00\x00\x00\x01\x00\x00\x00\x05hello",
		"IDENTIFY\n\x00\x00\x00\x02{}AUTH\n\x00\x00\x00\x03abcNOP\n",
		"PUB t\n\x00\x00\x00\x00",
		"DPUB t 100\n\xff\xff\xff\xff",
	} {
		f.Add([]byte(s), []byte{1, 3, 0, 7, 255})
	}
	long := append(bytes.Repeat([]byte{'a'}, MaxLineLen-1), "\nNOP\n"...)
	f.Add(long, []byte{200, 0, 17})
	f.Add(append(bytes.Repeat([]byte{'a'}, MaxLineLen), '\n'), []byte{255, 255})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		whole := &streamParser{t: t, fresh: true}
		whole.feed(stream)

		pieces := &streamParser{t: t}
		rest := stream
		for _, c := range cuts {
			k := min(int(c), len(rest))
			pieces.feed(rest[:k])
			rest = rest[k:]
		}
		pieces.feed(rest)
		compareStreams(t, "random pieces", whole, pieces)

		if len(stream) <= 3*MaxLineLen {
			bytewise := &streamParser{t: t}
			for i := range stream {
				bytewise.feed(stream[i : i+1])
			}
			if len(stream) == 0 {
				bytewise.feed(nil)
			}
			compareStreams(t, "byte by byte", whole, bytewise)
		}
	})
}

func compareStreams(t *testing.T, how string, want, got *streamParser) {
	t.Helper()
	if !slices.Equal(got.events, want.events) {
		for i := range max(len(got.events), len(want.events)) {
			var g, w cmdEvent
			if i < len(got.events) {
				g = got.events[i]
			}
			if i < len(want.events) {
				w = want.events[i]
			}
			if g != w {
				t.Fatalf("%s: command %d = %+v, want %+v (whole stream)", how, i, g, w)
			}
		}
	}
	if got.done != want.done || !bytes.Equal(got.buf, want.buf) {
		t.Fatalf("%s: left %d bytes (done %v), want %d (done %v)", how, len(got.buf), got.done, len(want.buf), want.done)
	}
}

// ---- FuzzMessageFrameRoundTrip ---------------------------------------------

func FuzzMessageFrameRoundTrip(f *testing.F) {
	f.Add(int64(0x0102030405060708), uint16(1), "0123456789abcdef", []byte("hello, world!"), []byte(nil))
	f.Add(int64(-1), uint16(0xffff), "", []byte(nil), []byte("\x00\x00\x00\x06\x00\x00\x00\x00OK"))
	f.Add(int64(1700000000123456789), uint16(2), "short", bytes.Repeat([]byte{0}, 300), []byte("x"))
	f.Fuzz(func(t *testing.T, ts int64, attempts uint16, idStr string, body, prefix []byte) {
		var id [MsgIDLength]byte
		copy(id[:], idStr)
		dst := slices.Clone(prefix)
		out := AppendMessageFrame(dst, ts, attempts, &id, body)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatalf("prefix changed: got %q, want %q", out[:len(prefix)], prefix)
		}
		frame := out[len(prefix):]
		if want := 8 + MessageHeaderLen + len(body); len(frame) != want {
			t.Fatalf("frame of %d bytes, want %d", len(frame), want)
		}
		checkMessageFrame(t, frame, len(frame), ts, attempts, id, body)
		if msg := AppendMessage(nil, ts, attempts, &id, body); !bytes.Equal(msg, frame[8:]) {
			t.Fatalf("AppendMessage = %q, want frame payload %q", msg, frame[8:])
		}

		// n == 0 contract: every strict prefix needs more bytes
		step := max(1, len(frame)/512)
		for k := 0; k < len(frame); k += step {
			if ft, p, n, ok := ParseFrame(frame[:k]); n != 0 || !ok || p != nil || ft != 0 {
				t.Fatalf("ParseFrame(first %d of %d bytes) = %d, %q, %d, %v; want 0, nil, 0, true", k, len(frame), ft, p, n, ok)
			}
		}

		// two frames back to back, then a response: each parses in turn
		half := body[:len(body)/2]
		out = AppendMessageFrame(out, ts^1, attempts+1, &id, half)
		out = AppendResponse(out, RespOK)
		rest := out[len(prefix):]
		n := checkMessageFrame(t, rest, len(frame), ts, attempts, id, body)
		rest = rest[n:]
		n = checkMessageFrame(t, rest, 8+MessageHeaderLen+len(half), ts^1, attempts+1, id, half)
		rest = rest[n:]
		if ft, p, n, ok := ParseFrame(rest); ft != FrameTypeResponse || string(p) != "OK" || n != len(rest) || !ok {
			t.Fatalf("trailing OK parsed as %d, %q, %d, %v", ft, p, n, ok)
		}
	})
}

func checkMessageFrame(t *testing.T, b []byte, wantN int, ts int64, attempts uint16, id [MsgIDLength]byte, body []byte) int {
	t.Helper()
	ft, payload, n, ok := ParseFrame(b)
	if !ok || n != wantN || ft != FrameTypeMessage {
		t.Fatalf("ParseFrame = type %d, n %d, ok %v; want type 2, n %d, ok true", ft, n, ok, wantN)
	}
	gts, gatt, gid, gbody, ok := ParseMessage(payload)
	if !ok || gts != ts || gatt != attempts || gid != id || !bytes.Equal(gbody, body) {
		t.Fatalf("ParseMessage = %d, %d, %q, %q, %v; want %d, %d, %q, %q, true", gts, gatt, gid, gbody, ok, ts, attempts, id, body)
	}
	return n
}

// ---- FuzzValidateMPUB ------------------------------------------------------

// upstreamReadMPUB is upstream's readMPUB (nsqd/protocol_v2.go) transcribed:
// sequential reads from an io.Reader, no knowledge of the declared size. It
// returns the messages and how many bytes were read.
func upstreamReadMPUB(body []byte, maxMessageSize, maxBodySize int64) ([][]byte, int, *Error) {
	r := bytes.NewReader(body)
	tmp := make([]byte, 4)
	readLen := func() (int32, error) {
		if _, err := io.ReadFull(r, tmp); err != nil {
			return 0, err
		}
		return int32(binary.BigEndian.Uint32(tmp)), nil
	}
	numMessages, err := readLen()
	if err != nil {
		return nil, 0, NewFatal("E_BAD_BODY", "MPUB failed to read message count")
	}
	// 4 == total num, 5 == length + min 1
	maxMessages := (maxBodySize - 4) / 5
	if numMessages <= 0 || int64(numMessages) > maxMessages {
		return nil, 0, NewFatal("E_BAD_BODY", "MPUB invalid message count "+Itoa(int64(numMessages)))
	}
	var messages [][]byte
	for i := int32(0); i < numMessages; i++ {
		messageSize, err := readLen()
		if err != nil {
			return nil, 0, NewFatal("E_BAD_MESSAGE", "MPUB failed to read message("+Itoa(int64(i))+") body size")
		}
		if messageSize <= 0 {
			return nil, 0, NewFatal("E_BAD_MESSAGE", "MPUB invalid message("+Itoa(int64(i))+") body size "+Itoa(int64(messageSize)))
		}
		if int64(messageSize) > maxMessageSize {
			return nil, 0, NewFatal("E_BAD_MESSAGE", "MPUB message too big "+Itoa(int64(messageSize))+" > "+Itoa(maxMessageSize))
		}
		if int(messageSize) > r.Len() { // io.ReadFull would fail; don't allocate
			return nil, 0, NewFatal("E_BAD_MESSAGE", "MPUB failed to read message body")
		}
		msgBody := make([]byte, messageSize)
		if _, err := io.ReadFull(r, msgBody); err != nil {
			return nil, 0, NewFatal("E_BAD_MESSAGE", "MPUB failed to read message body")
		}
		messages = append(messages, msgBody)
	}
	return messages, len(body) - r.Len(), nil
}

func FuzzValidateMPUB(f *testing.F) {
	f.Add(mpubBody([]byte("a"), []byte("bc")), int64(defMaxMsgSize), int64(defMaxBodySize))
	f.Add(cat(be32(1), be32(1), "a", "extra"), int64(defMaxMsgSize), int64(defMaxBodySize))
	f.Add(cat(be32(2), be32(1), "a", be32(0)), int64(defMaxMsgSize), int64(defMaxBodySize))
	f.Add(cat(be32(1), be32(11), bytes.Repeat([]byte{'x'}, 11)), int64(10), int64(100))
	f.Add(be32(1048576), int64(defMaxMsgSize), int64(defMaxBodySize))
	f.Add([]byte{0, 0}, int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, body []byte, maxMsgSize, maxBodySize int64) {
		count, err := ValidateMPUB(body, maxMsgSize, maxBodySize)
		msgs, read, uerr := upstreamReadMPUB(body, maxMsgSize, maxBodySize)
		switch {
		case uerr != nil:
			if err == nil || *err != *uerr {
				t.Fatalf("got %v (count %d), upstream gives %v", err, count, uerr)
			}
		case read != len(body):
			// upstream would leave len(body)-read bytes to be parsed as
			// commands; we refuse the body instead (documented).
			want := "E_BAD_BODY MPUB invalid body size " + Itoa(int64(len(body)))
			if err == nil || err.Error() != want || !err.Fatal {
				t.Fatalf("got %v (count %d), want %q", err, count, want)
			}
		default:
			if err != nil || count != len(msgs) {
				t.Fatalf("got %v (count %d), want nil (count %d)", err, count, len(msgs))
			}
			got, end := walkMPUB(body, count)
			if end != len(body) {
				t.Fatalf("walk ended at %d, want %d", end, len(body))
			}
			for i := range got {
				if !bytes.Equal(got[i], msgs[i]) {
					t.Fatalf("message %d = %q, want %q", i, got[i], msgs[i])
				}
			}
		}
		if err != nil && count != 0 {
			t.Fatalf("count = %d with error %v, want 0", count, err)
		}

		// an early answer on a prefix is the answer on the whole body; each
		// check is O(prefix), so long bodies are sampled
		step := max(1, len(body)/64)
		for i := 0; i <= len(body); i += step {
			checkPrefix(t, body[:i], err, maxMsgSize, maxBodySize)
		}
		for i := max(0, len(body)-8); i <= len(body); i++ {
			checkPrefix(t, body[:i], err, maxMsgSize, maxBodySize)
		}
	})
}

func checkPrefix(t *testing.T, partial []byte, whole *Error, maxMsgSize, maxBodySize int64) {
	t.Helper()
	early := ValidateMPUBPrefix(partial, maxMsgSize, maxBodySize)
	if early != nil && (whole == nil || *early != *whole) {
		t.Fatalf("prefix of %d bytes: got %v, whole body gives %v", len(partial), early, whole)
	}
}
