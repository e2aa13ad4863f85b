package codec

import (
	"errors"
	"math"
	"testing"
)

func TestError(t *testing.T) {
	tests := []struct {
		name      string
		err       *Error
		wantText  string
		wantFatal bool
	}{
		{"fatal", NewFatal(ErrCodeInvalid, "invalid command pub"), "E_INVALID invalid command pub", true},
		{"non-fatal", NewNonFatal(ErrCodeReqFailed, "REQ x failed exiting"), "E_REQ_FAILED REQ x failed exiting", false},
		{"bad protocol", ErrBadProtocol, "E_BAD_PROTOCOL ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.wantText {
				t.Errorf("Error() = %q, want %q", got, tt.wantText)
			}
			if tt.err.Fatal != tt.wantFatal {
				t.Errorf("Fatal = %v, want %v", tt.err.Fatal, tt.wantFatal)
			}
			var e *Error
			if !errors.As(error(tt.err), &e) || e != tt.err {
				t.Errorf("errors.As did not find the *Error")
			}
		})
	}
}

func TestErrorCodes(t *testing.T) {
	// spec §1.7: the code is the wire text, so each constant names itself
	codes := map[string]string{
		"E_BAD_PROTOCOL": ErrCodeBadProtocol, "E_INVALID": ErrCodeInvalid, "E_BAD_BODY": ErrCodeBadBody,
		"E_BAD_TOPIC": ErrCodeBadTopic, "E_BAD_CHANNEL": ErrCodeBadChannel, "E_BAD_MESSAGE": ErrCodeBadMessage,
		"E_PUB_FAILED": ErrCodePubFailed, "E_MPUB_FAILED": ErrCodeMpubFailed, "E_DPUB_FAILED": ErrCodeDpubFailed,
		"E_SUB_FAILED": ErrCodeSubFailed, "E_FIN_FAILED": ErrCodeFinFailed, "E_REQ_FAILED": ErrCodeReqFailed,
		"E_TOUCH_FAILED": ErrCodeTouchFailed, "E_IDENTIFY_FAILED": ErrCodeIdentifyFailed,
		"E_AUTH_DISABLED": ErrCodeAuthDisabled, "E_AUTH_FAILED": ErrCodeAuthFailed, "E_AUTH_FIRST": ErrCodeAuthFirst,
		"E_UNAUTHORIZED": ErrCodeUnauthorized, "E_AUTH_ERROR": ErrCodeAuthError,
	}
	for want, got := range codes {
		t.Run(want, func(t *testing.T) {
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `""`},
		{"plain", "t1", `"t1"`},
		{"NUL as \\x00", "a\x00b", `"a\x00b"`},
		{"quote and backslash", `a"b\`, `"a\"b\\"`},
		{"newline", "a\nb", `"a\nb"`},
		{"invalid UTF-8", "\xff", `"\xff"`},
		{"printable UTF-8 kept", "é", `"é"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote([]byte(tt.in)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestItoa(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"}, {-5, "-5"}, {1048576, "1048576"},
		{math.MaxInt64, "9223372036854775807"}, {math.MinInt64, "-9223372036854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Itoa(tt.in); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
