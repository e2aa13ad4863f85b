package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame types, as upstream nsqd sends them.
const (
	FrameTypeResponse int32 = 0
	FrameTypeError    int32 = 1
	FrameTypeMessage  int32 = 2
)

// Wire strings the client reacts to.
var (
	respOK        = []byte("OK")
	respHeartbeat = []byte("_heartbeat_")
)

// ErrShortMessage is returned by ParseMessage for a message frame too short to hold its header.
var ErrShortMessage = errors.New("wire: message frame shorter than 26 bytes")

// ErrUnexpectedFrame is wrapped by errors for a frame of the wrong type or content.
var ErrUnexpectedFrame = errors.New("wire: unexpected frame")

// FrameError is an error frame sent by the daemon (E_INVALID, E_BAD_TOPIC, E_FIN_FAILED, ...).
type FrameError struct {
	Msg string // the frame's data, e.g. "E_INVALID cannot SUB in current state"
}

func (e *FrameError) Error() string { return "wire: daemon sent error frame: " + e.Msg }

// IsOK reports whether a response frame's data is "OK".
func IsOK(data []byte) bool { return string(data) == string(respOK) }

// IsHeartbeat reports whether a response frame's data is "_heartbeat_".
func IsHeartbeat(data []byte) bool { return string(data) == string(respHeartbeat) }

// MessageHeaderSize is the size of a message frame's data before the body.
const MessageHeaderSize = 8 + 2 + 16

// ParseMessage splits a message frame's data into its parts. The returned slices alias data.
func ParseMessage(data []byte) (timestamp int64, attempts uint16, id, body []byte, err error) {
	if len(data) < MessageHeaderSize {
		return 0, 0, nil, nil, ErrShortMessage
	}
	timestamp = int64(binary.BigEndian.Uint64(data[0:8]))
	attempts = binary.BigEndian.Uint16(data[8:10])
	return timestamp, attempts, data[10:26], data[26:], nil
}

// unexpected builds the error for a frame that is neither what was wanted nor an error frame.
func unexpected(typ int32, data []byte) error {
	if len(data) > 64 {
		data = data[:64]
	}
	return fmt.Errorf("%w: type %d data %q", ErrUnexpectedFrame, typ, data)
}
