package codec

import (
	"strconv"
)

// Error is a protocol error sent to the client as a type-1 frame with payload
// "<Code> <Desc>". A Fatal error is followed by closing the connection, as
// upstream's FatalClientErr; the others (E_FIN_FAILED, E_REQ_FAILED,
// E_TOUCH_FAILED) leave it open.
type Error struct {
	Code  string
	Desc  string
	Fatal bool
}

// Error returns the wire text, "CODE description".
func (e *Error) Error() string { return e.Code + " " + e.Desc }

// Wire error codes (spec §1.7).
const (
	ErrCodeBadProtocol    = "E_BAD_PROTOCOL"
	ErrCodeInvalid        = "E_INVALID"
	ErrCodeBadBody        = "E_BAD_BODY"
	ErrCodeBadTopic       = "E_BAD_TOPIC"
	ErrCodeBadChannel     = "E_BAD_CHANNEL"
	ErrCodeBadMessage     = "E_BAD_MESSAGE"
	ErrCodePubFailed      = "E_PUB_FAILED"
	ErrCodeMpubFailed     = "E_MPUB_FAILED"
	ErrCodeDpubFailed     = "E_DPUB_FAILED"
	ErrCodeSubFailed      = "E_SUB_FAILED"
	ErrCodeFinFailed      = "E_FIN_FAILED"
	ErrCodeReqFailed      = "E_REQ_FAILED"
	ErrCodeTouchFailed    = "E_TOUCH_FAILED"
	ErrCodeIdentifyFailed = "E_IDENTIFY_FAILED"
	ErrCodeAuthDisabled   = "E_AUTH_DISABLED"
	ErrCodeAuthFailed     = "E_AUTH_FAILED"
	ErrCodeAuthFirst      = "E_AUTH_FIRST"
	ErrCodeUnauthorized   = "E_UNAUTHORIZED"
	ErrCodeAuthError      = "E_AUTH_ERROR"
)

// Fatalf-style constructors. They allocate, which is fine: errors are off the
// hot path.

// NewFatal returns a fatal error.
func NewFatal(code, desc string) *Error { return &Error{Code: code, Desc: desc, Fatal: true} }

// NewNonFatal returns an error after which the connection stays open.
func NewNonFatal(code, desc string) *Error { return &Error{Code: code, Desc: desc} }

// ErrBadProtocol is the answer to a wrong magic; the connection is closed.
// Its frame payload is the code alone, with no description.
var ErrBadProtocol = &Error{Code: ErrCodeBadProtocol, Fatal: true}

// Quote renders b the way Go's %q does for the names upstream quotes in
// E_BAD_TOPIC / E_BAD_CHANNEL messages.
func Quote(b []byte) string { return strconv.Quote(string(b)) }

// Itoa formats n in decimal.
func Itoa(n int64) string { return strconv.FormatInt(n, 10) }
