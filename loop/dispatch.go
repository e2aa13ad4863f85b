package loop

import (
	"bytes"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// handleCommand handles the command at the start of b and returns how many
// bytes it used, or 0 when more bytes are needed (c.need then says how many
// in total, when known).
func (c *conn) handleCommand(b []byte) int {
	n, err := codec.ParseLine(b, &c.cmd)
	if err != nil {
		// upstream: "failed to read command - bufio: buffer full", no frame
		c.srv.nsqd.Logger().Logf(core.LogLevelError, "[%s] failed to read command - %s", c.remoteAddr, err)
		c.closeNow, c.halt = true, true
		return len(b)
	}
	if n == 0 {
		return 0
	}
	cmd := &c.cmd
	if c.srv.tlsRequired && !c.tlsActive() && !bytes.Equal(cmd.Name, codec.VerbIdentify) {
		// upstream: every command but IDENTIFY, unknown ones and NOP
		// included, named by its raw first token
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot "+string(cmd.Name)+" in current state (TLS required)"))
		return n
	}
	rest := b[n:]
	var used int
	switch string(cmd.Name) {
	case "PUB":
		used = c.cmdPub(rest)
	case "MPUB":
		used = c.cmdMpub(rest)
	case "DPUB":
		used = c.cmdDpub(rest)
	case "FIN":
		c.cmdFin()
	case "RDY":
		c.cmdRdy()
	case "REQ":
		c.cmdReq()
	case "TOUCH":
		c.cmdTouch()
	case "NOP":
	case "SUB":
		used = c.cmdSub()
	case "CLS":
		c.cmdCls()
	case "IDENTIFY":
		used = c.cmdIdentify(rest)
	case "AUTH":
		used = c.cmdAuth(rest)
	default:
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "invalid command "+string(cmd.Name)))
	}
	if used == needMore {
		c.need += n // handlers count from the end of the line
		return 0
	}
	return n + used
}

// needMore is what a handler returns when its body has not fully arrived,
// or when it paused the connection (c.halt) to wait for an answer: either way
// the command stays unconsumed and is parsed again later.
const needMore = -1
