package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendCommands(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"pub", AppendPub(nil, "t", []byte("ab")), "PUB t\n\x00\x00\x00\x02ab"},
		{"mpub", AppendMpub(nil, "t", [][]byte{[]byte("a"), []byte("bc")}),
			"MPUB t\n\x00\x00\x00\x0f\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x02bc"},
		{"sub", AppendSub(nil, "t", "c#ephemeral"), "SUB t c#ephemeral\n"},
		{"rdy", AppendRdy(nil, 2500), "RDY 2500\n"},
		{"fin", AppendFin(nil, []byte("0123456789abcdef")), "FIN 0123456789abcdef\n"},
		{"nop", AppendNop(nil), "NOP\n"},
		{"identify", AppendIdentify(nil, []byte("{}")), "IDENTIFY\n\x00\x00\x00\x02{}"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseMessage(t *testing.T) {
	data := binary.BigEndian.AppendUint64(nil, 42)
	data = binary.BigEndian.AppendUint16(data, 3)
	data = append(data, "0123456789abcdef"...)
	data = append(data, "body"...)
	ts, attempts, id, body, err := ParseMessage(data)
	if err != nil || ts != 42 || attempts != 3 || string(id) != "0123456789abcdef" || string(body) != "body" {
		t.Errorf("got %d %d %q %q %v", ts, attempts, id, body, err)
	}
	if _, _, _, _, err := ParseMessage(data[:10]); !errors.Is(err, ErrShortMessage) {
		t.Errorf("short frame: got %v, want ErrShortMessage", err)
	}
}

// TestNullServer publishes pipelined PUB and MPUB and reads one OK each, then checks that SUB is
// refused with an error frame.
func TestNullServer(t *testing.T) {
	s, err := StartNull("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, s.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Identify(); err != nil {
		t.Fatal(err)
	}
	var batch []byte
	for range 100 {
		batch = AppendPub(batch, "t", bytes.Repeat([]byte("x"), 200))
		batch = AppendMpub(batch, "t", [][]byte{[]byte("a"), []byte("b")})
	}
	if err := c.Write(batch); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := c.ExpectOK(); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	err = c.Subscribe("t", "c", 1)
	var fe *FrameError
	if !errors.As(err, &fe) || !strings.HasPrefix(fe.Msg, "E_INVALID") {
		t.Fatalf("SUB: got %v, want an E_INVALID error frame", err)
	}
}

// TestConnContextEnds checks that a read blocked on a silent server ends when the context does.
func TestConnContextEnds(t *testing.T) {
	s, err := StartNull("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c, err := Dial(ctx, s.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.ReadFrame(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}
