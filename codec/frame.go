package codec

import "encoding/binary"

// Frame types, the second int32 of every server frame.
const (
	FrameTypeResponse int32 = 0
	FrameTypeError    int32 = 1
	FrameTypeMessage  int32 = 2
)

// MsgIDLength is the length of a message ID on the wire.
const MsgIDLength = 16

// MessageHeaderLen is the size of a message payload before its body:
// timestamp (8) + attempts (2) + id (16).
const MessageHeaderLen = 8 + 2 + MsgIDLength

// Fixed response payloads.
var (
	RespOK        = []byte("OK")
	RespCloseWait = []byte("CLOSE_WAIT")
	RespHeartbeat = []byte("_heartbeat_")
)

// AppendFrame appends a frame of the given type and payload to dst.
func AppendFrame(dst []byte, frameType int32, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)+4))
	dst = binary.BigEndian.AppendUint32(dst, uint32(frameType))
	return append(dst, payload...)
}

// AppendResponse appends a type-0 response frame.
func AppendResponse(dst, payload []byte) []byte {
	return AppendFrame(dst, FrameTypeResponse, payload)
}

// AppendError appends a type-1 error frame carrying e's wire text:
// "CODE DESC", or the code alone when Desc is empty (E_BAD_PROTOCOL).
func AppendError(dst []byte, e *Error) []byte {
	n := len(e.Code)
	if e.Desc != "" {
		n += 1 + len(e.Desc)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n+4))
	dst = binary.BigEndian.AppendUint32(dst, uint32(FrameTypeError))
	dst = append(dst, e.Code...)
	if e.Desc == "" {
		return dst
	}
	dst = append(dst, ' ')
	return append(dst, e.Desc...)
}

// AppendMessage appends a message payload (no frame header) to dst: the same
// bytes upstream stores as a disk-queue record.
func AppendMessage(dst []byte, timestamp int64, attempts uint16, id *[MsgIDLength]byte, body []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(timestamp))
	dst = binary.BigEndian.AppendUint16(dst, attempts)
	dst = append(dst, id[:]...)
	return append(dst, body...)
}

// AppendMessageFrame appends a complete type-2 message frame to dst.
func AppendMessageFrame(dst []byte, timestamp int64, attempts uint16, id *[MsgIDLength]byte, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+MessageHeaderLen+len(body)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(FrameTypeMessage))
	return AppendMessage(dst, timestamp, attempts, id, body)
}

// ParseFrame parses one server frame at the start of b. n == 0 with ok means
// more bytes are needed; ok is false only for a malformed size field (< 4,
// too small to hold the frame type). payload aliases b.
func ParseFrame(b []byte) (frameType int32, payload []byte, n int, ok bool) {
	if len(b) < 4 {
		return 0, nil, 0, true
	}
	size := int(binary.BigEndian.Uint32(b))
	if size < 4 {
		return 0, nil, 0, false
	}
	if len(b) < 4+size { // size >= 4, so this also covers the frame type
		return 0, nil, 0, true
	}
	return int32(binary.BigEndian.Uint32(b[4:])), b[8 : 4+size], 4 + size, true
}

// ParseMessage decodes a message payload (frame type 2, or a disk record).
// ok is false when p is shorter than the header. body aliases p.
func ParseMessage(p []byte) (timestamp int64, attempts uint16, id [MsgIDLength]byte, body []byte, ok bool) {
	if len(p) < MessageHeaderLen {
		return 0, 0, id, nil, false
	}
	timestamp = int64(binary.BigEndian.Uint64(p))
	attempts = binary.BigEndian.Uint16(p[8:])
	copy(id[:], p[10:26])
	return timestamp, attempts, id, p[26:], true
}
