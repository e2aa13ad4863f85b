package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Magic is the 4-byte protocol V2 preamble a client sends first.
const Magic = "  V2"

// MaxLineLen is the longest command line accepted, including the '\n'.
// Upstream reads lines through a 16 KiB bufio.Reader and drops the connection
// (without an error frame) when a line does not fit.
const MaxLineLen = 16384

// MaxParams is how many parameters after the verb are kept. Upstream ignores
// extra parameters, and no command uses more than two.
const MaxParams = 3

// ErrLineTooLong is returned by ParseLine when no '\n' appears within
// MaxLineLen bytes. Upstream closes the connection without an error frame.
var ErrLineTooLong = errors.New("codec: command line too long")

// Command is one parsed command line. Its slices alias the parsed buffer.
type Command struct {
	Name   []byte            // the verb, case-sensitive ("PUB")
	Params [MaxParams][]byte // parameters split on every single space
	NParam int               // number of parameters present (may exceed MaxParams)
}

// Param returns parameter i, or nil when absent.
func (c *Command) Param(i int) []byte {
	if i >= c.NParam || i >= MaxParams {
		return nil
	}
	return c.Params[i]
}

// ParseLine parses the command line at the start of b into cmd and returns the
// number of bytes it occupies including the '\n'. n == 0 means b holds no
// complete line yet. One '\r' before the '\n' is dropped, and the line is
// split on every single space, so consecutive spaces yield empty parameters
// (as upstream's bytes.Split). ParseLine does not allocate.
func ParseLine(b []byte, cmd *Command) (n int, err error) {
	limit := b
	if len(limit) > MaxLineLen {
		limit = limit[:MaxLineLen]
	}
	i := bytes.IndexByte(limit, '\n')
	if i < 0 {
		if len(b) >= MaxLineLen {
			return 0, ErrLineTooLong
		}
		return 0, nil
	}
	line := b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	*cmd = Command{}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		cmd.Name = line
		return i + 1, nil
	}
	cmd.Name = line[:sp]
	rest := line[sp+1:]
	for {
		sp = bytes.IndexByte(rest, ' ')
		if cmd.NParam < MaxParams {
			if sp < 0 {
				cmd.Params[cmd.NParam] = rest
			} else {
				cmd.Params[cmd.NParam] = rest[:sp]
			}
		}
		cmd.NParam++
		if sp < 0 {
			break
		}
		rest = rest[sp+1:]
	}
	return i + 1, nil
}

// ParseSize reads the big-endian signed 32-bit size at the start of b.
// ok is false when b is shorter than 4 bytes.
func ParseSize(b []byte) (size int32, ok bool) {
	if len(b) < 4 {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(b)), true
}

// ParseUint parses an unsigned decimal the way upstream's protocol.ByteToBase10
// does: only '0'-'9', the empty string is 0, overflow wraps. ok is false on
// any other byte.
func ParseUint(b []byte) (n uint64, ok bool) {
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// Verb constants, exactly as on the wire.
var (
	VerbIdentify = []byte("IDENTIFY")
	VerbAuth     = []byte("AUTH")
	VerbSub      = []byte("SUB")
	VerbRdy      = []byte("RDY")
	VerbFin      = []byte("FIN")
	VerbReq      = []byte("REQ")
	VerbTouch    = []byte("TOUCH")
	VerbCls      = []byte("CLS")
	VerbNop      = []byte("NOP")
	VerbPub      = []byte("PUB")
	VerbMpub     = []byte("MPUB")
	VerbDpub     = []byte("DPUB")
)
