package codec

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// Upstream defaults: --max-msg-size and --max-body-size.
const (
	defMaxMsgSize  = 1048576
	defMaxBodySize = 5242880
)

// be32 is n as 4 big-endian bytes.
func be32(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// mpubBody builds a well-formed MPUB body holding msgs.
func mpubBody(msgs ...[]byte) []byte {
	b := be32(int32(len(msgs)))
	for _, m := range msgs {
		b = append(b, be32(int32(len(m)))...)
		b = append(b, m...)
	}
	return b
}

// walkMPUB collects the messages of a body ValidateMPUB accepted.
func walkMPUB(body []byte, count int) (msgs [][]byte, end int) {
	off := 4
	for range count {
		var m []byte
		m, off = NextMPUBMessage(body, off)
		msgs = append(msgs, m)
	}
	return msgs, off
}

func TestValidateMPUBValid(t *testing.T) {
	tests := []struct {
		name        string
		msgs        [][]byte
		maxMsgSize  int64
		maxBodySize int64
	}{
		{"one one-byte message", [][]byte{[]byte("a")}, defMaxMsgSize, defMaxBodySize},
		{"three messages", [][]byte{[]byte("a"), []byte("bb"), []byte("ccc")}, defMaxMsgSize, defMaxBodySize},
		{"binary bodies", [][]byte{{0, 0, 0, 0}, {0xff}}, defMaxMsgSize, defMaxBodySize},
		{"message of exactly max-msg-size", [][]byte{[]byte("0123456789")}, 10, defMaxBodySize},
		{"count of exactly (max-body-size-4)/5", [][]byte{{1}, {2}, {3}, {4}}, 10, 24},
		// content may exceed --max-body-size (spec §1.6.8, 19×14 bytes with max 100)
		{"content over max-body-size", [][]byte{
			[]byte("0123456789"), []byte("0123456789"), []byte("0123456789"),
			[]byte("0123456789"), []byte("0123456789")}, 10, 29},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := mpubBody(tt.msgs...)
			count, err := ValidateMPUB(body, tt.maxMsgSize, tt.maxBodySize)
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if count != len(tt.msgs) {
				t.Fatalf("count = %d, want %d", count, len(tt.msgs))
			}
			msgs, end := walkMPUB(body, count)
			if end != len(body) {
				t.Fatalf("walk ended at %d, want %d", end, len(body))
			}
			for i := range msgs {
				if !bytes.Equal(msgs[i], tt.msgs[i]) {
					t.Fatalf("message %d = %q, want %q", i, msgs[i], tt.msgs[i])
				}
			}
		})
	}
}

func TestValidateMPUBErrors(t *testing.T) {
	big := bytes.Repeat([]byte{'x'}, 11)
	tests := []struct {
		name        string
		body        []byte
		maxMsgSize  int64
		maxBodySize int64
		wantCode    string
		wantDesc    string
	}{
		// spec §1.6.8 step 6
		{"empty body: failed to read message count", nil, defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB failed to read message count"},
		{"3-byte body: failed to read message count", []byte{0, 0, 1}, defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB failed to read message count"},
		{"count 0", be32(0), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid message count 0"},
		{"count -1", be32(-1), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid message count -1"},
		{"count min int32", be32(-1 << 31), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid message count -2147483648"},
		{"count 1048576 over default bound 1048575", be32(1048576), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid message count 1048576"},
		{"count 5 over bound (24-4)/5", cat(be32(5), be32(1), "a"), defMaxMsgSize, 24,
			ErrCodeBadBody, "MPUB invalid message count 5"},
		{"count checked before any message", cat(be32(0), be32(-1)), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid message count 0"},
		// count 1048575 passes the bound; the first message is then missing
		{"count 1048575 within default bound", be32(1048575), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB failed to read message(0) body size"},
		// step 7, per message, in order
		{"message 0 size missing", be32(1), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB failed to read message(0) body size"},
		{"message 0 size partial", cat(be32(1), []byte{0, 0}), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB failed to read message(0) body size"},
		{"message 1 size missing", cat(be32(2), be32(1), "a"), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB failed to read message(1) body size"},
		{"message 0 size 0", cat(be32(1), be32(0)), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB invalid message(0) body size 0"},
		{"message 0 size -5", cat(be32(1), be32(-5), "abcde"), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB invalid message(0) body size -5"},
		{"message 2 size 0", cat(be32(3), be32(1), "a", be32(1), "b", be32(0)), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB invalid message(2) body size 0"},
		{"message too big", cat(be32(1), be32(11), big), 10, defMaxBodySize,
			ErrCodeBadMessage, "MPUB message too big 11 > 10"},
		{"message too big, default limit", cat(be32(1), be32(1048577)), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB message too big 1048577 > 1048576"},
		{"message body short", cat(be32(1), be32(5), "abcd"), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB failed to read message body"},
		{"message 1 body short", cat(be32(2), be32(1), "a", be32(3), "b"), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB failed to read message body"},
		{"too big checked before body length", cat(be32(1), be32(11)), 10, defMaxBodySize,
			ErrCodeBadMessage, "MPUB message too big 11 > 10"},
		{"first bad message wins", cat(be32(2), be32(11), big, be32(0)), 10, defMaxBodySize,
			ErrCodeBadMessage, "MPUB message too big 11 > 10"},
		// Our documented difference (ValidateMPUB doc, spec §10.4): the body is
		// exactly the declared size, so leftover bytes are E_BAD_BODY.
		{"declared size larger than content", cat(be32(1), be32(1), "a", "extra"), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid body size 14"},
		{"one leftover byte", cat(be32(1), be32(1), "a", "\x00"), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid body size 10"},
		{"leftover that looks like another message", cat(mpubBody([]byte("a")), be32(1), "b"), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadBody, "MPUB invalid body size 14"},
		// declared size smaller than content: the message runs past the body
		{"declared size smaller than content", cat(be32(2), be32(1), "a", be32(1)), defMaxMsgSize, defMaxBodySize,
			ErrCodeBadMessage, "MPUB failed to read message body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count, err := ValidateMPUB(tt.body, tt.maxMsgSize, tt.maxBodySize)
			if err == nil {
				t.Fatalf("count = %d, err = nil; want %s %s", count, tt.wantCode, tt.wantDesc)
			}
			if count != 0 {
				t.Errorf("count = %d, want 0 on error", count)
			}
			if err.Code != tt.wantCode || err.Desc != tt.wantDesc {
				t.Fatalf("got %q, want %q", err.Error(), tt.wantCode+" "+tt.wantDesc)
			}
			if !err.Fatal {
				t.Fatal("got non-fatal, want fatal")
			}
		})
	}
}

// TestValidateMPUBErrorTexts pins the error texts in spec §1.6.8 order, so a
// reworded message fails here as well as in the case that produces it.
func TestValidateMPUBErrorTexts(t *testing.T) {
	steps := []struct {
		name string
		body []byte
		want string
	}{
		{"count unreadable", nil, "E_BAD_BODY MPUB failed to read message count"},
		{"count out of range", be32(0), "E_BAD_BODY MPUB invalid message count 0"},
		{"size unreadable", be32(1), "E_BAD_MESSAGE MPUB failed to read message(0) body size"},
		{"size not positive", cat(be32(1), be32(-1)), "E_BAD_MESSAGE MPUB invalid message(0) body size -1"},
		{"size too big", cat(be32(1), be32(defMaxMsgSize+1)), "E_BAD_MESSAGE MPUB message too big 1048577 > 1048576"},
		{"body unreadable", cat(be32(1), be32(2), "a"), "E_BAD_MESSAGE MPUB failed to read message body"},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			_, err := ValidateMPUB(s.body, defMaxMsgSize, defMaxBodySize)
			if err == nil || err.Error() != s.want {
				t.Fatalf("step %d: got %v, want %q", i+1, err, s.want)
			}
			if !strings.HasPrefix(s.want, err.Code+" MPUB ") {
				t.Fatalf("code %q does not prefix %q", err.Code, s.want)
			}
		})
	}
}

func TestNextMPUBMessage(t *testing.T) {
	tests := []struct {
		name string
		msgs []string
	}{
		{"one", []string{"x"}},
		{"several", []string{"a", "bb", "ccc", "dddd"}},
		{"binary with embedded sizes", []string{"\x00\x00\x00\x01", "\xff\xff\xff\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in [][]byte
			for _, m := range tt.msgs {
				in = append(in, []byte(m))
			}
			body := mpubBody(in...)
			off := 4
			for i, want := range tt.msgs {
				var m []byte
				start := off
				m, off = NextMPUBMessage(body, off)
				if string(m) != want {
					t.Fatalf("message %d = %q, want %q", i, m, want)
				}
				if off != start+4+len(want) {
					t.Fatalf("next = %d, want %d", off, start+4+len(want))
				}
				if len(m) > 0 && &m[0] != &body[start+4] {
					t.Fatalf("message %d does not alias the body", i)
				}
			}
			if off != len(body) {
				t.Fatalf("ended at %d, want %d", off, len(body))
			}
		})
	}
}

func TestValidateMPUBPrefix(t *testing.T) {
	tests := []struct {
		name    string
		partial []byte
		want    string // "" for nil
	}{
		{"nothing yet", nil, ""},
		{"partial count", []byte{0, 0}, ""},
		{"count only", be32(2), ""},
		{"bad count answered at once", be32(0), "E_BAD_BODY MPUB invalid message count 0"},
		{"count over bound answered at once", be32(1048576), "E_BAD_BODY MPUB invalid message count 1048576"},
		{"partial message size", cat(be32(2), []byte{0, 0, 0}), ""},
		{"partial message body", cat(be32(2), be32(5), "ab"), ""},
		{"bad size answered at once", cat(be32(2), be32(0)), "E_BAD_MESSAGE MPUB invalid message(0) body size 0"},
		{"too big answered at once", cat(be32(2), be32(defMaxMsgSize+1)), "E_BAD_MESSAGE MPUB message too big 1048577 > 1048576"},
		{"second message bad size", cat(be32(2), be32(1), "a", be32(-3)), "E_BAD_MESSAGE MPUB invalid message(1) body size -3"},
		{"all messages present", mpubBody([]byte("a"), []byte("b")), ""},
		// bytes past the last message: only the whole declared body can say
		// how many, so the verdict waits for it (see the split test below)
		{"leftover after last message waits", cat(mpubBody([]byte("a")), "xyz"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateMPUBPrefix(tt.partial, defMaxMsgSize, defMaxBodySize)
			got := ""
			if err != nil {
				got = err.Error()
				if !err.Fatal {
					t.Errorf("got non-fatal, want fatal")
				}
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestValidateMPUBPrefixAgreesWithWhole checks, for every split point, that
// an early answer from ValidateMPUBPrefix is exactly what ValidateMPUB gives
// on the whole declared body, and that a valid body is never refused early.
func TestValidateMPUBPrefixAgreesWithWhole(t *testing.T) {
	bodies := []struct {
		name string
		body []byte
	}{
		{"valid", mpubBody([]byte("a"), []byte("bcd"), []byte("e"))},
		{"bad count", cat(be32(-1), be32(1), "a")},
		{"bad second size", cat(be32(2), be32(1), "a", be32(0), "zz")},
		{"declared size larger than content", cat(mpubBody([]byte("a")), "extra")},
		{"declared size smaller than content", cat(be32(2), be32(1), "a", be32(4), "ab")},
	}
	for _, tt := range bodies {
		t.Run(tt.name, func(t *testing.T) {
			_, whole := ValidateMPUB(tt.body, defMaxMsgSize, defMaxBodySize)
			for i := 0; i < len(tt.body); i++ {
				early := ValidateMPUBPrefix(tt.body[:i], defMaxMsgSize, defMaxBodySize)
				if early == nil {
					continue
				}
				if whole == nil || early.Error() != whole.Error() {
					t.Fatalf("prefix of %d bytes: got %q, whole body gives %v", i, early.Error(), whole)
				}
			}
		})
	}
}
