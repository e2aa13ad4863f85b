package loop

import (
	"errors"
	"time"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// cmdSub handles SUB <topic> <channel>. It returns 0, or needMore while an
// auth re-query is in flight.
func (c *conn) cmdSub() int {
	if c.state.Load() != stateInit {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot SUB in current state"))
		return 0
	}
	if c.heartbeatNanos.Load() <= 0 {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot SUB with heartbeats disabled"))
		return 0
	}
	if c.cmd.NParam < 2 {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "SUB insufficient number of parameters"))
		return 0
	}
	topicName, chanName := c.cmd.Params[0], c.cmd.Params[1]
	if !core.IsValidName(topicName) {
		c.fail(codec.NewFatal(codec.ErrCodeBadTopic, "SUB topic name "+codec.Quote(topicName)+" is not valid"))
		return 0
	}
	if !core.IsValidName(chanName) {
		c.fail(codec.NewFatal(codec.ErrCodeBadChannel, "SUB channel name "+codec.Quote(chanName)+" is not valid"))
		return 0
	}
	switch c.checkAuth("SUB", topicName, chanName) {
	case authDenied:
		return 0
	case authPaused:
		return needMore
	}
	nopts := c.srv.nsqd.Options()
	opts := core.SubscribeOptions{ClientID: c.id, MsgTimeout: c.msgTimeout, SampleRate: c.sampleRate,
		ZoneLocal:   nopts.TopologyZone != "" && c.topologyZone == nopts.TopologyZone,
		RegionLocal: nopts.TopologyRegion != "" && c.topologyRegion == nopts.TopologyRegion}
	var err error
	// a channel or topic being deleted (ephemeral cleanup) is retried once
	// with a fresh one, as upstream does
	for try := 0; try < 2; try++ {
		var t *core.Topic
		if t, err = c.srv.nsqd.GetTopicBytes(topicName); err != nil {
			continue
		}
		if c.ch, err = t.GetChannel(string(chanName)); err != nil {
			continue
		}
		if c.sub, err = c.ch.AddClient(c, opts); err == nil || !errors.Is(err, core.ErrExiting) {
			break
		}
	}
	switch {
	case errors.Is(err, core.ErrTooManyClients):
		c.fail(codec.NewFatal(codec.ErrCodeSubFailed, "SUB failed consumers for "+string(topicName)+":"+string(chanName)+
			" exceeds limit of "+codec.Itoa(int64(c.srv.nsqd.Options().MaxChannelConsumers))))
		return 0
	case errors.Is(err, core.ErrExiting):
		c.fail(codec.NewFatal(codec.ErrCodeSubFailed, "SUB failed to deleted topic/channel"))
		return 0
	case err != nil:
		c.fail(codec.NewFatal(codec.ErrCodeSubFailed, "SUB failed "+err.Error()))
		return 0
	}
	c.state.Store(stateSubscribed)
	c.shareStats()
	c.respond(codec.RespOK)
	return 0
}

// cmdRdy handles RDY [<count>].
func (c *conn) cmdRdy() {
	switch c.state.Load() {
	case stateClosing:
		return // upstream ignores RDY after CLS without parsing it
	case stateSubscribed:
	default:
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot RDY in current state"))
		return
	}
	count := int64(1)
	if c.cmd.NParam > 0 {
		n, ok := codec.ParseUint(c.cmd.Params[0])
		if !ok {
			c.fail(codec.NewFatal(codec.ErrCodeInvalid, "RDY could not parse count "+string(c.cmd.Params[0])))
			return
		}
		count = int64(n)
	}
	if max := c.srv.nsqd.Options().MaxRdyCount; count < 0 || count > max {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "RDY count "+codec.Itoa(count)+" out of range 0-"+codec.Itoa(max)))
		return
	}
	c.ch.SetRDYAt(c.sub, count, c.now)
}

// messageID validates the id parameter of FIN/REQ/TOUCH.
func (c *conn) messageID(verb string) (*core.MessageID, bool) {
	if s := c.state.Load(); s != stateSubscribed && s != stateClosing {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot "+verb+" in current state"))
		return nil, false
	}
	need := 1
	if verb == "REQ" {
		need = 2
	}
	if c.cmd.NParam < need {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, verb+" insufficient number of params"))
		return nil, false
	}
	id := c.cmd.Params[0]
	if len(id) != codec.MsgIDLength {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "invalid message ID"))
		return nil, false
	}
	return (*core.MessageID)(id), true
}

// cmdFin handles FIN <id>.
func (c *conn) cmdFin() {
	id, ok := c.messageID("FIN")
	if !ok {
		return
	}
	if err := c.ch.FinishAt(c.sub, id, c.now); err != nil {
		c.fail(codec.NewNonFatal(codec.ErrCodeFinFailed, "FIN "+string(id[:])+" failed "+err.Error()))
	}
}

// cmdReq handles REQ <id> <timeout_ms>; the timeout is clamped, as upstream.
func (c *conn) cmdReq() {
	id, ok := c.messageID("REQ")
	if !ok {
		return
	}
	ms, ok := codec.ParseUint(c.cmd.Params[1])
	if !ok {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "REQ could not parse timeout "+string(c.cmd.Params[1])))
		return
	}
	d := time.Duration(int64(ms)) * time.Millisecond
	if max := c.srv.nsqd.Options().MaxReqTimeout; d < 0 {
		d = 0
	} else if d > max {
		d = max
	}
	if err := c.ch.Requeue(c.sub, id, d); err != nil {
		c.fail(codec.NewNonFatal(codec.ErrCodeReqFailed, "REQ "+string(id[:])+" failed "+err.Error()))
	}
}

// cmdTouch handles TOUCH <id>.
func (c *conn) cmdTouch() {
	id, ok := c.messageID("TOUCH")
	if !ok {
		return
	}
	if err := c.ch.Touch(c.sub, id); err != nil {
		c.fail(codec.NewNonFatal(codec.ErrCodeTouchFailed, "TOUCH "+string(id[:])+" failed "+err.Error()))
	}
}

// cmdCls handles CLS: stop deliveries and answer CLOSE_WAIT; the client
// closes once it has finished its in-flight messages.
func (c *conn) cmdCls() {
	if c.state.Load() != stateSubscribed {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot CLS in current state"))
		return
	}
	c.ch.StartClose(c.sub)
	c.state.Store(stateClosing)
	c.respond(codec.RespCloseWait)
}
