package codec

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a hex dump with optional spaces and "|" separators.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// cat concatenates byte slices and strings.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		default:
			panic("cat: unsupported type")
		}
	}
	return b
}

var testID = [MsgIDLength]byte([]byte("0123456789abcdef"))

func TestAppendResponse(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    []byte
	}{
		// spec §2.1 example (verified against upstream)
		{"OK", RespOK, unhex(t, "00 00 00 06 | 00 00 00 00 | 4F 4B")},
		{"CLOSE_WAIT", RespCloseWait, cat(unhex(t, "00 00 00 0e 00 00 00 00"), "CLOSE_WAIT")},
		{"heartbeat", RespHeartbeat, cat(unhex(t, "00 00 00 0f 00 00 00 00"), "_heartbeat_")},
		{"empty payload", nil, unhex(t, "00 00 00 04 00 00 00 00")},
		{"JSON", []byte(`{"a":1}`), cat(unhex(t, "00 00 00 0b 00 00 00 00"), `{"a":1}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AppendResponse(nil, tt.payload); !bytes.Equal(got, tt.want) {
				t.Fatalf("got % x, want % x", got, tt.want)
			}
			if got := AppendFrame(nil, FrameTypeResponse, tt.payload); !bytes.Equal(got, tt.want) {
				t.Fatalf("AppendFrame: got % x, want % x", got, tt.want)
			}
		})
	}
	t.Run("appends after existing bytes", func(t *testing.T) {
		got := AppendResponse([]byte("xy"), RespOK)
		want := cat("xy", unhex(t, "00 00 00 06 00 00 00 00 4F 4B"))
		if !bytes.Equal(got, want) {
			t.Fatalf("got % x, want % x", got, want)
		}
	})
	t.Run("uses spare capacity in place", func(t *testing.T) {
		buf := make([]byte, 0, 64)
		got := AppendResponse(buf, RespOK)
		if &got[0] != &buf[:1][0] {
			t.Fatal("AppendResponse reallocated a buffer with enough capacity")
		}
	})
}

func TestAppendFrameTypes(t *testing.T) {
	tests := []struct {
		name      string
		frameType int32
		want      []byte
	}{
		{"response", FrameTypeResponse, unhex(t, "00 00 00 05 00 00 00 00 78")},
		{"error", FrameTypeError, unhex(t, "00 00 00 05 00 00 00 01 78")},
		{"message", FrameTypeMessage, unhex(t, "00 00 00 05 00 00 00 02 78")},
		{"unknown type 7", 7, unhex(t, "00 00 00 05 00 00 00 07 78")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AppendFrame(nil, tt.frameType, []byte("x")); !bytes.Equal(got, tt.want) {
				t.Fatalf("got % x, want % x", got, tt.want)
			}
		})
	}
}

func TestAppendError(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want []byte
	}{
		// spec §1.1.3: 00 00 00 12 | 00 00 00 01 | "E_BAD_PROTOCOL", no description
		{"E_BAD_PROTOCOL has no description", ErrBadProtocol, cat(unhex(t, "00 00 00 12 00 00 00 01"), "E_BAD_PROTOCOL")},
		{"code space description", NewFatal(ErrCodeInvalid, "invalid command pub"),
			cat(unhex(t, "00 00 00 21 00 00 00 01"), "E_INVALID invalid command pub")},
		// spec §1.2: empty line → "E_INVALID invalid command " with the trailing space
		{"empty command keeps trailing space", NewFatal(ErrCodeInvalid, "invalid command "),
			cat(unhex(t, "00 00 00 1e 00 00 00 01"), "E_INVALID invalid command ")},
		{"non-fatal has the same bytes", NewNonFatal(ErrCodeFinFailed, "FIN 0123456789abcdef failed ID not in flight"),
			cat(unhex(t, "00 00 00 3d 00 00 00 01"), "E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight")},
		{"duplicated MPUB topic code passes through", NewFatal(ErrCodeBadTopic, `E_BAD_TOPIC MPUB topic name "" is not valid`),
			cat(unhex(t, "00 00 00 3b 00 00 00 01"), `E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "" is not valid`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendError(nil, tt.err)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got % x, want % x", got, tt.want)
			}
			// the payload is exactly Error() unless the description is empty
			wantText := tt.err.Error()
			if tt.err.Desc == "" {
				wantText = tt.err.Code
			}
			if !bytes.Equal(got[8:], []byte(wantText)) {
				t.Fatalf("payload %q, want %q", got[8:], wantText)
			}
			if same := AppendFrame(nil, FrameTypeError, []byte(wantText)); !bytes.Equal(got, same) {
				t.Fatalf("AppendFrame gives % x, want % x", same, got)
			}
		})
	}
}

func TestAppendMessageFrame(t *testing.T) {
	tests := []struct {
		name      string
		timestamp int64
		attempts  uint16
		body      []byte
		want      []byte
	}{
		{"13-byte body has size 43", 0x0102030405060708, 1, []byte("hello, world!"), cat(
			unhex(t, "00 00 00 2b | 00 00 00 02 | 01 02 03 04 05 06 07 08 | 00 01"), testID[:], "hello, world!")},
		{"empty body has size 30", 0, 0, nil, cat(
			unhex(t, "00 00 00 1e | 00 00 00 02 | 00 00 00 00 00 00 00 00 | 00 00"), testID[:])},
		{"negative timestamp and max attempts", -1, 0xffff, []byte{0}, cat(
			unhex(t, "00 00 00 1f | 00 00 00 02 | ff ff ff ff ff ff ff ff | ff ff"), testID[:], []byte{0})},
		{"attempts are big-endian", 1700000000123456789, 0x0102, []byte("x"), cat(
			unhex(t, "00 00 00 1f | 00 00 00 02 | 17 97 9c fe 3d 85 cd 15 | 01 02"), testID[:], "x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendMessageFrame(nil, tt.timestamp, tt.attempts, &testID, tt.body)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got\n% x\nwant\n% x", got, tt.want)
			}
			if n := len(got) - 4; n != 4+MessageHeaderLen+len(tt.body) {
				t.Fatalf("size %d, want 4+26+%d", n, len(tt.body))
			}
			msg := AppendMessage(nil, tt.timestamp, tt.attempts, &testID, tt.body)
			if !bytes.Equal(msg, got[8:]) {
				t.Fatalf("AppendMessage = % x, want the frame payload % x", msg, got[8:])
			}
		})
	}
	t.Run("appends after existing bytes", func(t *testing.T) {
		prefix := AppendResponse(nil, RespOK)
		got := AppendMessageFrame(prefix, 1, 2, &testID, []byte("b"))
		want := cat(AppendResponse(nil, RespOK), AppendMessageFrame(nil, 1, 2, &testID, []byte("b")))
		if !bytes.Equal(got, want) {
			t.Fatalf("got % x, want % x", got, want)
		}
	})
}

func TestParseFrame(t *testing.T) {
	ok := AppendResponse(nil, RespOK)
	tests := []struct {
		name        string
		in          []byte
		wantType    int32
		wantPayload string
		wantN       int
		wantOK      bool
	}{
		{"empty needs more", nil, 0, "", 0, true},
		{"partial size needs more", ok[:3], 0, "", 0, true},
		{"size only needs more", ok[:4], 0, "", 0, true},
		{"partial frame type needs more", ok[:7], 0, "", 0, true},
		{"partial payload needs more", ok[:9], 0, "", 0, true},
		{"OK response", ok, FrameTypeResponse, "OK", 10, true},
		{"trailing bytes left alone", cat(ok, "\x00\x00"), FrameTypeResponse, "OK", 10, true},
		{"empty payload", unhex(t, "00 00 00 04 00 00 00 01"), FrameTypeError, "", 8, true},
		{"size 3 is malformed", unhex(t, "00 00 00 03 00 00 00 00"), 0, "", 0, false},
		{"size 0 is malformed", unhex(t, "00 00 00 00"), 0, "", 0, false},
		{"size 3 malformed before the frame type arrives", unhex(t, "00 00 00 03 00"), 0, "", 0, false},
		{"huge size needs more", unhex(t, "ff ff ff ff 00 00 00 00"), 0, "", 0, true},
		{"error frame", AppendError(nil, ErrBadProtocol), FrameTypeError, "E_BAD_PROTOCOL", 22, true},
		{"message frame", AppendMessageFrame(nil, 5, 1, &testID, []byte("b")), FrameTypeMessage,
			"\x00\x00\x00\x00\x00\x00\x00\x05\x00\x01" + string(testID[:]) + "b", 35, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft, p, n, ok := ParseFrame(tt.in)
			if ft != tt.wantType || string(p) != tt.wantPayload || n != tt.wantN || ok != tt.wantOK {
				t.Fatalf("ParseFrame(% x) = %d, %q, %d, %v; want %d, %q, %d, %v",
					tt.in, ft, p, n, ok, tt.wantType, tt.wantPayload, tt.wantN, tt.wantOK)
			}
		})
	}
	t.Run("payload aliases input", func(t *testing.T) {
		_, p, _, _ := ParseFrame(ok)
		if &p[0] != &ok[8] {
			t.Fatal("payload does not alias the input")
		}
	})
}

func TestParseMessage(t *testing.T) {
	full := AppendMessage(nil, 0x0102030405060708, 3, &testID, []byte("body"))
	tests := []struct {
		name     string
		in       []byte
		wantTS   int64
		wantAtt  uint16
		wantID   [MsgIDLength]byte
		wantBody string
		wantOK   bool
	}{
		{"empty", nil, 0, 0, [MsgIDLength]byte{}, "", false},
		{"25 bytes is short", full[:25], 0, 0, [MsgIDLength]byte{}, "", false},
		{"26 bytes is an empty body", full[:26], 0x0102030405060708, 3, testID, "", true},
		{"with body", full, 0x0102030405060708, 3, testID, "body", true},
		{"negative timestamp", AppendMessage(nil, -42, 0, &testID, []byte("z")), -42, 0, testID, "z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, att, id, body, ok := ParseMessage(tt.in)
			if ts != tt.wantTS || att != tt.wantAtt || id != tt.wantID || string(body) != tt.wantBody || ok != tt.wantOK {
				t.Fatalf("ParseMessage = %d, %d, %q, %q, %v; want %d, %d, %q, %q, %v",
					ts, att, id, body, ok, tt.wantTS, tt.wantAtt, tt.wantID, tt.wantBody, tt.wantOK)
			}
		})
	}
	t.Run("body aliases input", func(t *testing.T) {
		_, _, _, body, _ := ParseMessage(full)
		if &body[0] != &full[26] {
			t.Fatal("body does not alias the input")
		}
	})
}

func TestFrameConstants(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		{"FrameTypeResponse", int(FrameTypeResponse), 0},
		{"FrameTypeError", int(FrameTypeError), 1},
		{"FrameTypeMessage", int(FrameTypeMessage), 2},
		{"MsgIDLength", MsgIDLength, 16},
		{"MessageHeaderLen", MessageHeaderLen, 26},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %d, want %d", tt.got, tt.want)
			}
		})
	}
}
