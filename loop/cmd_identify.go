package loop

import (
	"encoding/json"
	"time"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// defaultOutputBufferSize is upstream's per-connection write buffer size.
const defaultOutputBufferSize = 16 * 1024

// cmdIdentify handles IDENTIFY + JSON body (spec §1.6.1, §3).
func (c *conn) cmdIdentify(rest []byte) int {
	const verb = "IDENTIFY"
	if c.state.Load() != stateInit {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot IDENTIFY in current state"))
		return 0
	}
	opts := c.srv.nsqd.Options()
	size, ok := codec.ParseSize(rest)
	if !ok {
		return c.bodyShort(verb, "body size")
	}
	if int64(size) > opts.MaxBodySize {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, "IDENTIFY body too big "+codec.Itoa(int64(size))+" > "+codec.Itoa(opts.MaxBodySize)))
		return 0
	}
	if size <= 0 {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, "IDENTIFY invalid body size "+codec.Itoa(int64(size))))
		return 0
	}
	if len(rest) < 4+int(size) {
		return c.bodyShort(verb, "body")
	}
	req, perr := codec.ParseIdentify(rest[4 : 4+size])
	if perr != nil {
		c.fail(perr)
		return 0
	}
	if e := c.applyIdentify(&req, opts); e != nil {
		c.fail(e)
		return 4 + int(size)
	}
	if !req.FeatureNegotiation {
		c.respond(codec.RespOK)
		return 4 + int(size)
	}
	c.respondIdentify(&req, opts)
	return 4 + int(size)
}

// applyIdentify validates the negotiable values in upstream's order and
// stores them.
func (c *conn) applyIdentify(req *codec.IdentifyRequest, opts *core.Options) *codec.Error {
	bad := func(what string, v int64) *codec.Error {
		return codec.NewFatal(codec.ErrCodeBadBody, "IDENTIFY "+what+" ("+codec.Itoa(v)+") is invalid")
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }

	heartbeat := opts.ClientTimeout / 2
	switch hb := req.HeartbeatInterval; {
	case hb == -1:
		heartbeat = 0
	case hb == 0:
	case hb >= 1000 && ms(hb) <= opts.MaxHeartbeatInterval:
		heartbeat = ms(hb)
	default:
		return bad("heartbeat interval", int64(hb))
	}

	obTimeout := opts.OutputBufferTimeout
	switch t := req.OutputBufferTimeout; {
	case t == -1:
		obTimeout = 0
	case t == 0:
	case ms(t) >= opts.MinOutputBufferTimeout && ms(t) <= opts.MaxOutputBufferTimeout:
		obTimeout = ms(t)
	default:
		return bad("output buffer timeout", int64(t))
	}

	obSize := defaultOutputBufferSize
	switch s := req.OutputBufferSize; {
	case s == -1:
		obSize = 1
		obTimeout = 0
	case s == 0:
	case s >= 64 && int64(s) <= opts.MaxOutputBufferSize:
		obSize = s
	default:
		return bad("output buffer size", int64(s))
	}

	if req.SampleRate < 0 || req.SampleRate > 99 {
		return bad("sample rate", int64(req.SampleRate))
	}

	msgTimeout := opts.MsgTimeout
	switch t := req.MsgTimeout; {
	case t == 0:
	case t >= 1000 && ms(t) <= opts.MaxMsgTimeout:
		msgTimeout = ms(t)
	default:
		return bad("msg timeout", int64(t))
	}

	c.identified = true
	c.clientID = req.ClientID
	c.hostname = req.Hostname
	c.userAgent = req.UserAgent
	c.msgTimeout = msgTimeout
	c.outputBufferSize = obSize
	c.outputBufferTimeout = obTimeout
	c.sampleRate = req.SampleRate
	c.topologyRegion = req.TopologyRegion
	c.topologyZone = req.TopologyZone
	c.setHeartbeat(heartbeat, time.Now().UnixNano())
	c.shareStats()
	return nil
}

// respondIdentify sends the feature-negotiation JSON.
// TODO(#6): TLS, snappy and deflate upgrades. Until then this server answers
// as an upstream nsqd without those capabilities (no cert, --snappy=false,
// --deflate=false), so clients that request them simply do not get them.
func (c *conn) respondIdentify(req *codec.IdentifyRequest, opts *core.Options) {
	level := req.DeflateLevel
	if level <= 0 {
		level = 6
	}
	if level > opts.MaxDeflateLevel {
		level = opts.MaxDeflateLevel
	}
	resp := codec.IdentifyResponse{
		MaxRdyCount:         opts.MaxRdyCount,
		Version:             core.Version,
		MaxMsgTimeout:       int64(opts.MaxMsgTimeout / time.Millisecond),
		MsgTimeout:          int64(c.msgTimeout / time.Millisecond),
		DeflateLevel:        level,
		MaxDeflateLevel:     opts.MaxDeflateLevel,
		SampleRate:          c.sampleRate,
		AuthRequired:        len(opts.AuthHTTPAddresses) > 0,
		OutputBufferSize:    c.outputBufferSize,
		OutputBufferTimeout: int64(c.outputBufferTimeout / time.Millisecond),
		TopologyRegion:      opts.TopologyRegion,
		TopologyZone:        opts.TopologyZone,
	}
	var b []byte
	var err error
	if opts.HasExperiment("topology-aware-consumption") {
		b, err = json.Marshal(&resp)
	} else {
		// the v1.3.0 binary has no topology keys; newer upstream adds them
		// with the experiment, so they appear only when it is enabled
		b, err = json.Marshal((*codec.IdentifyResponseV130)(&resp))
	}
	if err != nil {
		c.fail(codec.NewFatal(codec.ErrCodeIdentifyFailed, "IDENTIFY failed "+err.Error()))
		return
	}
	c.respond(b)
}

// cmdAuth handles AUTH + secret.
func (c *conn) cmdAuth(rest []byte) int {
	const verb = "AUTH"
	if c.state.Load() != stateInit {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "cannot AUTH in current state"))
		return 0
	}
	if c.cmd.NParam != 0 {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "AUTH invalid number of parameters"))
		return 0
	}
	opts := c.srv.nsqd.Options()
	size, ok := codec.ParseSize(rest)
	if !ok {
		return c.bodyShort(verb, "body size")
	}
	if int64(size) > opts.MaxBodySize {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, "AUTH body too big "+codec.Itoa(int64(size))+" > "+codec.Itoa(opts.MaxBodySize)))
		return 0
	}
	if size <= 0 {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, "AUTH invalid body size "+codec.Itoa(int64(size))))
		return 0
	}
	if len(rest) < 4+int(size) {
		return c.bodyShort(verb, "body")
	}
	if c.authed {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "AUTH already set"))
		return 0
	}
	if len(opts.AuthHTTPAddresses) == 0 {
		c.fail(codec.NewFatal(codec.ErrCodeAuthDisabled, "AUTH disabled"))
		return 0
	}
	// TODO(#6): query the auth server. Until then AUTH fails closed.
	c.fail(codec.NewFatal(codec.ErrCodeAuthFailed, "AUTH failed"))
	return 0
}

// checkAuth enforces AUTH-before-use when an auth server is configured.
// TODO(#6): permissions per topic/channel and TTL refresh.
func (c *conn) checkAuth(verb string) bool {
	if len(c.srv.nsqd.Options().AuthHTTPAddresses) == 0 {
		return true
	}
	if !c.authed {
		c.fail(codec.NewFatal(codec.ErrCodeAuthFirst, "AUTH required before "+verb))
		return false
	}
	return true
}

// bodyShort handles an IDENTIFY/AUTH body that has not fully arrived: wait for
// more, or, when the peer has closed its side, answer as upstream does when
// its read fails. what is "body size" or "body".
func (c *conn) bodyShort(verb, what string) int {
	if c.eof {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, verb+" failed to read "+what))
		return 0
	}
	return needMore
}
