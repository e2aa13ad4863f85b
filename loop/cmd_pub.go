package loop

import (
	"encoding/binary"
	"math"
	"time"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// cmdPub handles PUB <topic>. It returns the body bytes used, or needMore.
func (c *conn) cmdPub(rest []byte) int {
	body, used := c.readMessageBody("PUB", rest, 1)
	if used <= 0 {
		return used
	}
	c.publish("PUB", codec.ErrCodePubFailed, body, 0)
	return used
}

// cmdDpub handles DPUB <topic> <defer_ms>.
func (c *conn) cmdDpub(rest []byte) int {
	if c.cmd.NParam < 2 {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "DPUB insufficient number of parameters"))
		return 0
	}
	if !core.IsValidName(c.cmd.Params[0]) {
		c.fail(codec.NewFatal(codec.ErrCodeBadTopic, "DPUB topic name "+codec.Quote(c.cmd.Params[0])+" is not valid"))
		return 0
	}
	raw := c.cmd.Params[1]
	ms, ok := codec.ParseUint(raw)
	if !ok {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "DPUB could not parse timeout "+string(raw)))
		return 0
	}
	d := time.Duration(int64(ms)) * time.Millisecond
	if max := c.srv.nsqd.Options().MaxReqTimeout; int64(ms) < 0 || d < 0 || d > max {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "DPUB timeout "+codec.Itoa(int64(ms))+" out of range 0-"+codec.Itoa(int64(max/time.Millisecond))))
		return 0
	}
	body, used := c.readMessageBody("DPUB", rest, 2)
	if used <= 0 {
		return used
	}
	c.publish("DPUB", codec.ErrCodeDpubFailed, body, d)
	return used
}

// readMessageBody validates PUB/DPUB's topic and body size (in upstream's
// order) and returns the body (aliasing the input) and the bytes used after
// the line: 0 after a queued error, needMore while the body is incomplete.
func (c *conn) readMessageBody(verb string, rest []byte, minParams int) ([]byte, int) {
	if c.cmd.NParam < minParams {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, verb+" insufficient number of parameters"))
		return nil, 0
	}
	topic := c.cmd.Params[0]
	if minParams == 1 && !core.IsValidName(topic) {
		c.fail(codec.NewFatal(codec.ErrCodeBadTopic, verb+" topic name "+codec.Quote(topic)+" is not valid"))
		return nil, 0
	}
	size, ok := codec.ParseSize(rest)
	if !ok {
		if c.eof {
			c.fail(codec.NewFatal(codec.ErrCodeBadMessage, verb+" failed to read message body size"))
			return nil, 0
		}
		c.need = 4 // at least the size; refined once it is known
		return nil, needMore
	}
	if size <= 0 {
		c.fail(codec.NewFatal(codec.ErrCodeBadMessage, verb+" invalid message body size "+codec.Itoa(int64(size))))
		return nil, 0
	}
	if max := c.srv.nsqd.Options().MaxMsgSize; int64(size) > max {
		c.fail(codec.NewFatal(codec.ErrCodeBadMessage, verb+" message too big "+codec.Itoa(int64(size))+" > "+codec.Itoa(max)))
		return nil, 0
	}
	if len(rest) < 4+int(size) {
		if c.eof {
			c.fail(codec.NewFatal(codec.ErrCodeBadMessage, verb+" failed to read message body"))
			return nil, 0
		}
		c.need = 4 + int(size)
		return nil, needMore
	}
	switch c.checkAuth(verb, topic, nil) {
	case authDenied:
		return nil, 0
	case authPaused:
		return nil, needMore
	}
	return rest[4 : 4+size], 4 + int(size)
}

// publish copies body (the one copy a message costs) and puts it.
func (c *conn) publish(verb, failCode string, body []byte, d time.Duration) {
	t, err := c.srv.nsqd.GetTopicBytes(c.cmd.Params[0])
	if err == nil {
		owned := make([]byte, len(body))
		copy(owned, body)
		err = t.PutDurableAt(owned, d, &c.dur, c.now)
	}
	if err != nil {
		c.fail(codec.NewFatal(failCode, verb+" failed "+err.Error()))
		return
	}
	c.stats.addPub(t, 1)
	c.respond(codec.RespOK)
}

// cmdMpub handles MPUB <topic>.
func (c *conn) cmdMpub(rest []byte) int {
	if c.cmd.NParam < 1 {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "MPUB insufficient number of parameters"))
		return 0
	}
	name := c.cmd.Params[0]
	if !core.IsValidName(name) {
		// upstream repeats the code inside the text
		c.fail(codec.NewFatal(codec.ErrCodeBadTopic, "E_BAD_TOPIC MPUB topic name "+codec.Quote(name)+" is not valid"))
		return 0
	}
	switch c.checkAuth("MPUB", name, nil) {
	case authDenied:
		return 0
	case authPaused:
		return needMore
	}
	// upstream creates the topic before reading the body
	t, err := c.srv.nsqd.GetTopicBytes(name)
	if err != nil {
		c.fail(codec.NewFatal(codec.ErrCodeMpubFailed, "MPUB failed "+err.Error()))
		return 0
	}
	size, ok := codec.ParseSize(rest)
	if !ok {
		if c.eof {
			c.fail(codec.NewFatal(codec.ErrCodeBadBody, "MPUB failed to read body size"))
			return 0
		}
		c.need = 4
		return needMore
	}
	opts := c.srv.nsqd.Options()
	if size <= 0 {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, "MPUB invalid body size "+codec.Itoa(int64(size))))
		return 0
	}
	if int64(size) > opts.MaxBodySize {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, "MPUB body too big "+codec.Itoa(int64(size))+" > "+codec.Itoa(opts.MaxBodySize)))
		return 0
	}
	if len(rest) < 4+int(size) {
		if c.eof {
			_, verr := codec.ValidateMPUB(rest[4:], opts.MaxMsgSize, opts.MaxBodySize)
			if verr == nil {
				// complete, valid messages, but the peer closed before the
				// declared size: the body was cut short all the same
				verr = codec.NewFatal(codec.ErrCodeBadBody, "MPUB failed to read body")
			}
			c.fail(verr)
			return 0
		}
		if verr := codec.ValidateMPUBPrefix(rest[4:], opts.MaxMsgSize, opts.MaxBodySize); verr != nil {
			c.fail(verr)
			return 0
		}
		// Parse again when the check can learn more, not only at the end,
		// so that a bad size is answered as soon as it arrives (as
		// upstream) — but only in the body's first mpubEagerBytes: every
		// parse makes gnet join the whole buffered body into one slice,
		// and over a real network a big MPUB arrives in hundreds of reads,
		// which would make its copying quadratic. Past that, the body is
		// parsed once, whole.
		c.need = 4 + int(size)
		if len(rest)-4 < mpubEagerBytes {
			c.need = 4 + min(int(size), mpubNextHeader(rest[4:]))
		}
		return needMore
	}
	raw := rest[4 : 4+size]
	count, verr := codec.ValidateMPUB(raw, opts.MaxMsgSize, opts.MaxBodySize)
	if verr != nil {
		c.fail(verr)
		return 0
	}
	// one copy for the whole batch; each message's body is a slice of it
	owned := make([]byte, len(raw))
	copy(owned, raw)
	err = t.PutFramedDurable(owned, count, &c.dur, c.now)
	if err != nil {
		c.fail(codec.NewFatal(codec.ErrCodeMpubFailed, "MPUB failed "+err.Error()))
		return 0
	}
	c.stats.addPub(t, count)
	c.respond(codec.RespOK)
	return 4 + int(size)
}

// mpubEagerBytes bounds the part of an MPUB body that is checked as it
// arrives, header by header (see cmdMpub).
const mpubEagerBytes = 16 << 10

// mpubNextHeader returns how much of an MPUB body whose present part passed
// codec.ValidateMPUBPrefix must be present before that check can find
// something new: the end of the count or of the next message's size. Without
// it a bad size that arrived in a later read than the body's start waited
// for the whole declared body (or the peer's close) to be answered.
func mpubNextHeader(body []byte) int {
	if len(body) < 4 {
		return 4
	}
	count := int(binary.BigEndian.Uint32(body))
	off := 4
	for range count {
		if off+4 > len(body) {
			return off + 4
		}
		off += 4 + int(binary.BigEndian.Uint32(body[off:]))
	}
	return math.MaxInt // every size is known: only the whole body says more
}
