package codec

import "encoding/binary"

// ValidateMPUB checks an MPUB body (after its 4-byte size) in upstream's order
// and returns the message count. Every message is validated before any is
// published (all-or-nothing, as upstream).
//
// Deliberate difference from upstream: the body is exactly the declared size.
// Upstream range-checks the declared size but then reads whatever the inner
// lengths say, so a mismatch desynchronises the stream (spec §10.4). Here a
// message running past the declared size gets upstream's "failed to read"
// error, and bytes left over after the last message are E_BAD_BODY.
func ValidateMPUB(body []byte, maxMsgSize, maxBodySize int64) (int, *Error) {
	return validateMPUB(body, maxMsgSize, maxBodySize, false)
}

// ValidateMPUBPrefix checks the part of an MPUB body that has arrived so far,
// so that an invalid count or size is answered at once (as upstream, which
// validates while it reads) rather than after the whole declared body. It
// returns nil while what is present is valid.
func ValidateMPUBPrefix(partial []byte, maxMsgSize, maxBodySize int64) *Error {
	_, err := validateMPUB(partial, maxMsgSize, maxBodySize, true)
	return err
}

func validateMPUB(body []byte, maxMsgSize, maxBodySize int64, partial bool) (int, *Error) {
	if len(body) < 4 {
		if partial {
			return 0, nil
		}
		return 0, NewFatal(ErrCodeBadBody, "MPUB failed to read message count")
	}
	count := int32(binary.BigEndian.Uint32(body))
	if count <= 0 || int64(count) > (maxBodySize-4)/5 {
		return 0, NewFatal(ErrCodeBadBody, "MPUB invalid message count "+Itoa(int64(count)))
	}
	off := 4
	for i := 0; i < int(count); i++ {
		if len(body)-off < 4 {
			if partial {
				return 0, nil
			}
			return 0, NewFatal(ErrCodeBadMessage, "MPUB failed to read message("+Itoa(int64(i))+") body size")
		}
		size := int32(binary.BigEndian.Uint32(body[off:]))
		off += 4
		if size <= 0 {
			return 0, NewFatal(ErrCodeBadMessage, "MPUB invalid message("+Itoa(int64(i))+") body size "+Itoa(int64(size)))
		}
		if int64(size) > maxMsgSize {
			return 0, NewFatal(ErrCodeBadMessage, "MPUB message too big "+Itoa(int64(size))+" > "+Itoa(maxMsgSize))
		}
		if len(body)-off < int(size) {
			if partial {
				return 0, nil
			}
			return 0, NewFatal(ErrCodeBadMessage, "MPUB failed to read message body")
		}
		off += int(size)
	}
	if partial {
		// Leftover bytes are judged on the whole declared body, so that the
		// error text (which carries its size) does not depend on the split.
		return 0, nil
	}
	if off != len(body) {
		return 0, NewFatal(ErrCodeBadBody, "MPUB invalid body size "+Itoa(int64(len(body))))
	}
	return int(count), nil
}

// NextMPUBMessage returns the message at off in a body that ValidateMPUB
// accepted, and the offset of the next one. Start with off = 4.
func NextMPUBMessage(body []byte, off int) (msg []byte, next int) {
	size := int(binary.BigEndian.Uint32(body[off:]))
	off += 4
	return body[off : off+size], off + size
}
