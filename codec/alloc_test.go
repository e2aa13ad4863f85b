//go:build !race

// Race instrumentation allocates, so these only run without -race.

package codec

import (
	"bytes"
	"testing"
)

// checkAllocs fails unless fn runs without allocating.
func checkAllocs(t *testing.T, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, fn); n != 0 {
		t.Fatalf("got %v allocs per run, want 0", n)
	}
}

func TestAllocsParseLine(t *testing.T) {
	lines := []struct {
		name string
		line string
	}{
		{"PUB", "PUB topic\n\x00\x00\x00\x05hello"},
		{"MPUB", "MPUB topic\n\x00\x00\x00\x0d"},
		{"DPUB", "DPUB topic 1000\n"},
		{"FIN", "FIN 0123456789abcdef\n"},
		{"RDY", "RDY 2500\n"},
		{"REQ", "REQ 0123456789abcdef 1000\r\n"},
		{"TOUCH", "TOUCH 0123456789abcdef\n"},
		{"SUB", "SUB topic channel\n"},
		{"NOP", "NOP\n"},
		{"MaxParams overflow", "NOP a b c d e f\n"},
		{"incomplete", "PUB topic"},
	}
	for _, tt := range lines {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.line)
			var cmd Command
			checkAllocs(t, func() {
				if _, err := ParseLine(b, &cmd); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
	t.Run("too long", func(t *testing.T) {
		b := bytes.Repeat([]byte{'a'}, MaxLineLen+1)
		var cmd Command
		checkAllocs(t, func() { _, _ = ParseLine(b, &cmd) })
	})
}

func TestAllocsParseNumbers(t *testing.T) {
	b := []byte("\x00\x00\x00\x05hello")
	num := []byte("18446744073709551615")
	t.Run("ParseSize", func(t *testing.T) { checkAllocs(t, func() { _, _ = ParseSize(b) }) })
	t.Run("ParseUint", func(t *testing.T) { checkAllocs(t, func() { _, _ = ParseUint(num) }) })
}

func TestAllocsAppend(t *testing.T) {
	body := bytes.Repeat([]byte{'x'}, 1024)
	buf := make([]byte, 0, 64<<10)
	t.Run("AppendMessageFrame", func(t *testing.T) {
		checkAllocs(t, func() { buf = AppendMessageFrame(buf[:0], 1, 1, &testID, body) })
	})
	t.Run("AppendMessage", func(t *testing.T) {
		checkAllocs(t, func() { buf = AppendMessage(buf[:0], 1, 1, &testID, body) })
	})
	t.Run("AppendResponse", func(t *testing.T) {
		checkAllocs(t, func() { buf = AppendResponse(buf[:0], RespOK) })
	})
	t.Run("AppendResponse heartbeat", func(t *testing.T) {
		checkAllocs(t, func() { buf = AppendResponse(buf[:0], RespHeartbeat) })
	})
	t.Run("AppendError", func(t *testing.T) {
		e := NewNonFatal(ErrCodeFinFailed, "FIN 0123456789abcdef failed ID not in flight")
		checkAllocs(t, func() { buf = AppendError(buf[:0], e) })
	})
}

func TestAllocsParseFrame(t *testing.T) {
	frame := AppendMessageFrame(nil, 1, 1, &testID, []byte("hello"))
	checkAllocs(t, func() {
		_, p, _, _ := ParseFrame(frame)
		_, _, _, _, _ = ParseMessage(p)
	})
}

func TestAllocsMPUB(t *testing.T) {
	var msgs [][]byte
	for i := range 100 {
		msgs = append(msgs, bytes.Repeat([]byte{byte(i)}, 1+i))
	}
	body := mpubBody(msgs...)
	t.Run("ValidateMPUB", func(t *testing.T) {
		checkAllocs(t, func() {
			if _, err := ValidateMPUB(body, defMaxMsgSize, defMaxBodySize); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("ValidateMPUBPrefix", func(t *testing.T) {
		checkAllocs(t, func() {
			if err := ValidateMPUBPrefix(body[:len(body)/2], defMaxMsgSize, defMaxBodySize); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("NextMPUBMessage walk", func(t *testing.T) {
		checkAllocs(t, func() {
			for off := 4; off < len(body); {
				_, off = NextMPUBMessage(body, off)
			}
		})
	})
}
