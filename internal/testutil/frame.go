package testutil

import (
	"encoding/binary"
	"fmt"
)

// Wire constants of protocol V2 (spec §1.1, §2).
const (
	Magic          = "  V2"        // protocol magic sent by the client first
	Heartbeat      = "_heartbeat_" // payload of a heartbeat response frame
	MsgHeaderSize  = 26            // timestamp(8) + attempts(2) + id(16)
	FrameResponse  = int32(0)      // frame type of a response (OK, CLOSE_WAIT, JSON, heartbeat)
	FrameError     = int32(1)      // frame type of an error ("E_CODE text")
	FrameMessage   = int32(2)      // frame type of a message
	maxFrameLength = 64 << 20      // larger size fields are treated as garbage
)

// FrameTypeName names a frame type for test messages.
func FrameTypeName(ft int32) string {
	switch ft {
	case FrameResponse:
		return "response"
	case FrameError:
		return "error"
	case FrameMessage:
		return "message"
	}
	return fmt.Sprintf("frame type %d", ft)
}

// MessageID is the 16-byte message id used by FIN, REQ and TOUCH.
type MessageID [16]byte

// String returns the id's bytes (upstream ids are 16 lowercase hex digits).
func (id MessageID) String() string { return string(id[:]) }

// Message is a decoded message frame payload (spec §2.2).
type Message struct {
	Timestamp int64  // publish time, UnixNano
	Attempts  uint16 // deliveries including this one
	ID        MessageID
	Body      []byte
}

// DecodeMessage decodes the payload of a frame of type FrameMessage:
//
//	[8 timestamp][2 attempts][16 id][body...]
//
// The returned Body aliases payload.
func DecodeMessage(payload []byte) (Message, error) {
	if len(payload) < MsgHeaderSize {
		return Message{}, fmt.Errorf("message payload of %d bytes, want at least %d", len(payload), MsgHeaderSize)
	}
	var m Message
	m.Timestamp = int64(binary.BigEndian.Uint64(payload[0:8]))
	m.Attempts = binary.BigEndian.Uint16(payload[8:10])
	copy(m.ID[:], payload[10:26])
	m.Body = payload[26:]
	return m, nil
}

// EncodeFrame returns the bytes of a server frame: [4 size][4 type][payload].
// Tests use it to state expected frames byte for byte.
func EncodeFrame(frameType int32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b[0:4], uint32(4+len(payload)))
	binary.BigEndian.PutUint32(b[4:8], uint32(frameType))
	return append(b, payload...)
}

// AppendSize appends n as a 4-byte big-endian int32.
func AppendSize(dst []byte, n int32) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// MPUBBody returns an MPUB body: [4 count]([4 size][bytes])*.
func MPUBBody(bodies ...[]byte) []byte {
	b := AppendSize(nil, int32(len(bodies)))
	for _, body := range bodies {
		b = AppendSize(b, int32(len(body)))
		b = append(b, body...)
	}
	return b
}
