package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// wantCmd is the expected result of parsing one line. params lists only the
// kept parameters (at most MaxParams); nparam is the full count.
type wantCmd struct {
	name   string
	params []string
	nparam int
}

func checkCmd(t *testing.T, got *Command, want wantCmd) {
	t.Helper()
	if string(got.Name) != want.name {
		t.Errorf("Name = %q, want %q", got.Name, want.name)
	}
	if got.NParam != want.nparam {
		t.Errorf("NParam = %d, want %d", got.NParam, want.nparam)
	}
	for i := 0; i < MaxParams; i++ {
		if i < len(want.params) {
			if got.Params[i] == nil {
				t.Errorf("Params[%d] = nil, want %q", i, want.params[i])
			} else if string(got.Params[i]) != want.params[i] {
				t.Errorf("Params[%d] = %q, want %q", i, got.Params[i], want.params[i])
			}
			if p := got.Param(i); string(p) != want.params[i] || p == nil {
				t.Errorf("Param(%d) = %q, want %q", i, p, want.params[i])
			}
		} else {
			if got.Params[i] != nil {
				t.Errorf("Params[%d] = %q, want nil", i, got.Params[i])
			}
			if p := got.Param(i); p != nil {
				t.Errorf("Param(%d) = %q, want nil", i, p)
			}
		}
	}
}

func TestParseLine(t *testing.T) {
	id := "0123456789abcdef"
	tests := []struct {
		name  string
		in    string
		wantN int
		want  wantCmd
	}{
		{"verb only", "NOP\n", 4, wantCmd{name: "NOP"}},
		{"one param", "PUB t1\n", 7, wantCmd{"PUB", []string{"t1"}, 1}},
		{"CRLF strips the CR", "PUB t1\r\n", 8, wantCmd{"PUB", []string{"t1"}, 1}},
		{"CRLF on bare verb", "NOP\r\n", 5, wantCmd{name: "NOP"}},
		{"only one CR stripped", "PUB t1\r\r\n", 9, wantCmd{"PUB", []string{"t1\r"}, 1}},
		{"interior CR kept", "A\rB\n", 4, wantCmd{name: "A\rB"}},
		{"two params", "SUB topic ch\n", 13, wantCmd{"SUB", []string{"topic", "ch"}, 2}},
		{"FIN with 16-byte id", "FIN " + id + "\n", 21, wantCmd{"FIN", []string{id}, 1}},
		{"REQ id and timeout", "REQ " + id + " 1000\n", 26, wantCmd{"REQ", []string{id, "1000"}, 2}},
		{"double space gives empty first param", "PUB  t1\n", 8, wantCmd{"PUB", []string{"", "t1"}, 2}},
		{"consecutive spaces give empty params", "SUB a  b\n", 9, wantCmd{"SUB", []string{"a", "", "b"}, 3}},
		{"trailing space gives empty last param", "PUB t1 \n", 8, wantCmd{"PUB", []string{"t1", ""}, 2}},
		{"RDY with empty param", "RDY \n", 5, wantCmd{"RDY", []string{""}, 1}},
		{"space only", " \n", 2, wantCmd{"", []string{""}, 1}},
		{"leading space gives empty verb", " PUB t\n", 7, wantCmd{"", []string{"PUB", "t"}, 2}},
		{"extra params kept up to MaxParams", "PUB t1 extra params\n", 20, wantCmd{"PUB", []string{"t1", "extra", "params"}, 3}},
		{"MaxParams overflow keeps NParam", "NOP x y z w v\n", 14, wantCmd{"NOP", []string{"x", "y", "z"}, 5}},
		{"MaxParams overflow with empties", "NOP     \n", 9, wantCmd{"NOP", []string{"", "", ""}, 5}},
		{"empty line", "\n", 1, wantCmd{}},
		{"empty line with CR", "\r\n", 2, wantCmd{}},
		{"verb is case-sensitive and kept as is", "pub t\n", 6, wantCmd{"pub", []string{"t"}, 1}},
		{"tab is not a separator", "PUB\tt\n", 6, wantCmd{name: "PUB\tt"}},
		{"stops at first newline", "PUB t1\nNOP\n", 7, wantCmd{"PUB", []string{"t1"}, 1}},
		{"body after line not consumed", "MPUB t\n\x00\x00\x00\x05\nabcd", 7, wantCmd{"MPUB", []string{"t"}, 1}},
		{"binary bytes pass through", "PUB \x00\xff\n", 7, wantCmd{"PUB", []string{"\x00\xff"}, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cmd Command
			n, err := ParseLine([]byte(tt.in), &cmd)
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if n != tt.wantN {
				t.Fatalf("n = %d, want %d", n, tt.wantN)
			}
			checkCmd(t, &cmd, tt.want)
		})
	}
}

func TestParseLineIncomplete(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty buffer", ""},
		{"verb without newline", "NOP"},
		{"CR without newline", "PUB t1\r"},
		{"params without newline", "SUB a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := Command{Name: []byte("keep")}
			n, err := ParseLine([]byte(tt.in), &cmd)
			if n != 0 || err != nil {
				t.Fatalf("ParseLine(%q) = %d, %v; want 0, nil", tt.in, n, err)
			}
		})
	}
	t.Run("every strict prefix needs more", func(t *testing.T) {
		line := []byte("REQ 0123456789abcdef 1000\r\n")
		for i := 0; i < len(line); i++ {
			var cmd Command
			if n, err := ParseLine(line[:i], &cmd); n != 0 || err != nil {
				t.Fatalf("prefix %d: got %d, %v; want 0, nil", i, n, err)
			}
		}
	})
}

func TestParseLineReusedCommandIsReset(t *testing.T) {
	var cmd Command
	if _, err := ParseLine([]byte("SUB a b c d\n"), &cmd); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseLine([]byte("NOP\n"), &cmd); err != nil {
		t.Fatal(err)
	}
	checkCmd(t, &cmd, wantCmd{name: "NOP"})
}

func TestParseLineLength(t *testing.T) {
	line := func(contentLen int, end string) []byte {
		b := bytes.Repeat([]byte{'a'}, contentLen)
		copy(b, "PUB ")
		return append(b, end...)
	}
	tests := []struct {
		name    string
		in      []byte
		wantN   int
		wantErr error
	}{
		{"16383-byte line plus LF fits", line(MaxLineLen-1, "\n"), MaxLineLen, nil},
		{"16382-byte line plus CRLF fits", line(MaxLineLen-2, "\r\n"), MaxLineLen, nil},
		{"16383-byte line plus LF with more data after", line(MaxLineLen-1, "\nNOP\n"), MaxLineLen, nil},
		{"16383 bytes without LF needs more", line(MaxLineLen-1, ""), 0, nil},
		{"16384-byte line is too long", line(MaxLineLen, "\n"), 0, ErrLineTooLong},
		{"16383-byte line plus CRLF is too long", line(MaxLineLen-1, "\r\n"), 0, ErrLineTooLong},
		{"16384 bytes without LF is too long", line(MaxLineLen, ""), 0, ErrLineTooLong},
		{"64 KiB without LF is too long", line(64<<10, ""), 0, ErrLineTooLong},
		{"LF just past the limit is too long", line(MaxLineLen, "\nNOP\n"), 0, ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cmd Command
			n, err := ParseLine(tt.in, &cmd)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != tt.wantN {
				t.Fatalf("n = %d, want %d", n, tt.wantN)
			}
			if tt.wantN > 0 {
				want := strings.TrimRight(string(tt.in[4:n]), "\r\n")
				if string(cmd.Params[0]) != want || cmd.NParam != 1 {
					t.Fatalf("param of %d bytes (NParam %d), want %d bytes (NParam 1)", len(cmd.Params[0]), cmd.NParam, len(want))
				}
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		want   int32
		wantOK bool
	}{
		{"empty", nil, 0, false},
		{"three bytes", []byte{0, 0, 1}, 0, false},
		{"zero", []byte{0, 0, 0, 0}, 0, true},
		{"big-endian 258", []byte{0, 0, 1, 2}, 258, true},
		{"max int32", []byte{0x7f, 0xff, 0xff, 0xff}, math.MaxInt32, true},
		{"all ones is -1", []byte{0xff, 0xff, 0xff, 0xff}, -1, true},
		{"min int32", []byte{0x80, 0, 0, 0}, math.MinInt32, true},
		{"-5", []byte{0xff, 0xff, 0xff, 0xfb}, -5, true},
		{"trailing bytes ignored", []byte{0, 0, 0, 9, 'x', 'y'}, 9, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseSize(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("ParseSize(% x) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestParseUint(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   uint64
		wantOK bool
	}{
		{"empty is zero", "", 0, true},
		{"zero", "0", 0, true},
		{"plain", "1000", 1000, true},
		{"leading zeros", "007", 7, true},
		{"all zeros", "0000", 0, true},
		{"max int64", "9223372036854775807", math.MaxInt64, true},
		{"max int64 plus one", "9223372036854775808", 1 << 63, true},
		{"max uint64", "18446744073709551615", math.MaxUint64, true},
		{"overflow wraps to zero", "18446744073709551616", 0, true},
		{"overflow wraps to one", "18446744073709551617", 1, true},
		{"overflow wraps, 20 nines", "99999999999999999999", 7766279631452241919, true},
		{"minus one", "-1", 0, false},
		{"plus one", "+1", 0, false},
		{"trailing letter", "1x", 0, false},
		{"leading space", " 1", 0, false},
		{"trailing space", "1 ", 0, false},
		{"hex", "0x10", 0, false},
		{"decimal point", "1.0", 0, false},
		{"exponent", "1e3", 0, false},
		{"non-ASCII digit", "１", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseUint([]byte(tt.in))
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("ParseUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestVerbs(t *testing.T) {
	verbs := map[string][]byte{
		"IDENTIFY": VerbIdentify, "AUTH": VerbAuth, "SUB": VerbSub, "RDY": VerbRdy,
		"FIN": VerbFin, "REQ": VerbReq, "TOUCH": VerbTouch, "CLS": VerbCls,
		"NOP": VerbNop, "PUB": VerbPub, "MPUB": VerbMpub, "DPUB": VerbDpub,
	}
	for want, got := range verbs {
		t.Run(want, func(t *testing.T) {
			if string(got) != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			var cmd Command
			if _, err := ParseLine(fmt.Appendf(nil, "%s x\n", want), &cmd); err != nil || !bytes.Equal(cmd.Name, got) {
				t.Fatalf("parsed name %q (err %v), want %q", cmd.Name, err, got)
			}
		})
	}
}

func TestMagic(t *testing.T) {
	if want := []byte{0x20, 0x20, 0x56, 0x32}; Magic != string(want) {
		t.Fatalf("Magic = % x, want % x", Magic, want)
	}
}
