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
	body, used := c.sizedBody(verb, rest)
	if body == nil {
		return used
	}
	req, perr := codec.ParseIdentify(body)
	if perr != nil {
		c.fail(perr)
		return 0
	}
	if e := c.applyIdentify(&req, opts); e != nil {
		c.fail(e)
		return used
	}
	if !req.FeatureNegotiation {
		c.respond(codec.RespOK)
		return used
	}
	c.respondIdentify(&req, opts)
	return used
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

// negotiated is what an IDENTIFY with feature_negotiation switches on.
type negotiated struct {
	tls, snappy, deflate bool
	deflateLevel         int // reported even when deflate is off
}

// negotiate applies the server's capabilities to the request, as upstream:
// a feature happens iff the client asks and the server offers it; the
// requested deflate level counts only when deflate happens, and is capped by
// --max-deflate-level.
func (c *conn) negotiate(req *codec.IdentifyRequest, opts *core.Options) negotiated {
	n := negotiated{
		tls:          req.TLSv1 && c.srv.tlsConfig != nil,
		snappy:       req.Snappy && opts.SnappyEnabled,
		deflate:      req.Deflate && opts.DeflateEnabled,
		deflateLevel: 6,
	}
	if n.deflate && req.DeflateLevel > 0 {
		n.deflateLevel = req.DeflateLevel
	}
	n.deflateLevel = min(n.deflateLevel, opts.MaxDeflateLevel)
	return n
}

// upgradeConflict refuses an upgrade on top of one already active (a
// repeated IDENTIFY). DELIBERATE DIFFERENCE: upstream wraps the connection
// again and breaks the stream; a clear fatal error is kinder.
func (c *conn) upgradeConflict(n negotiated) *codec.Error {
	x := c.ext
	switch {
	case x == nil:
		return nil
	case n.tls && x.tls != nil:
		return codec.NewFatal(codec.ErrCodeIdentifyFailed, "IDENTIFY failed TLS already enabled")
	case n.tls && x.dec != nil, (n.snappy || n.deflate) && x.dec != nil:
		return codec.NewFatal(codec.ErrCodeIdentifyFailed, "IDENTIFY failed compression already enabled")
	}
	return nil
}

// respondIdentify sends the feature-negotiation JSON and starts the
// upgrades it announces.
func (c *conn) respondIdentify(req *codec.IdentifyRequest, opts *core.Options) {
	n := c.negotiate(req, opts)
	if n.snappy && n.deflate {
		c.fail(codec.NewFatal(codec.ErrCodeIdentifyFailed, "cannot enable both deflate and snappy compression"))
		return
	}
	if e := c.upgradeConflict(n); e != nil {
		c.fail(e)
		return
	}
	resp := codec.IdentifyResponse{
		MaxRdyCount:         opts.MaxRdyCount,
		Version:             core.Version,
		MaxMsgTimeout:       int64(opts.MaxMsgTimeout / time.Millisecond),
		MsgTimeout:          int64(c.msgTimeout / time.Millisecond),
		TLSv1:               n.tls,
		Deflate:             n.deflate,
		DeflateLevel:        n.deflateLevel,
		MaxDeflateLevel:     opts.MaxDeflateLevel,
		Snappy:              n.snappy,
		SampleRate:          c.sampleRate,
		AuthRequired:        c.srv.auth != nil,
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
	if n.tls || n.snappy || n.deflate {
		c.startUpgrade(n)
	}
}

// startUpgrade switches the layers in at the byte after the JSON response
// (spec §3.3): the response and everything before it go out as they are;
// then TLS (whose OK waits for the handshake), then snappy or deflate, each
// announced by an OK sent through it. The client's bytes after IDENTIFY
// belong to the new layers: on the plain path they are still in gnet's
// buffer, so parsing halts here and a wake hands them to the layers.
func (c *conn) startUpgrade(n negotiated) {
	if err := c.flushOut(); err != nil {
		c.closeNow, c.halt = true, true
		return
	}
	c.halt = true
	c.gc.Wake(nil)
	var comp compression
	switch {
	case n.snappy:
		comp.snappy = true
	case n.deflate:
		comp.deflateLevel = n.deflateLevel
	}
	if n.tls {
		c.extension().pending = comp
		c.startTLS()
		return
	}
	c.srv.nsqd.Logger().Logf(core.LogLevelInfo, "PROTOCOL(V2): [%s] upgrading connection to %s", c.remoteAddr, compressionName(comp))
	c.enableCompression(comp)
	c.respond(codec.RespOK)
}

// compressionName is how logs and /stats name a compression layer.
func compressionName(comp compression) string {
	if comp.snappy {
		return "snappy"
	}
	return "deflate"
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

// sizedBody reads the [int32 size][body] of IDENTIFY or AUTH with upstream's
// checks and messages. It returns the body (aliasing rest) and the bytes it
// used, or a nil body and what the handler must return: 0 after a queued
// error, needMore while it has not fully arrived.
func (c *conn) sizedBody(verb string, rest []byte) ([]byte, int) {
	max := c.srv.nsqd.Options().MaxBodySize
	size, ok := codec.ParseSize(rest)
	if !ok {
		return nil, c.bodyShort(verb, "body size")
	}
	if int64(size) > max {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, verb+" body too big "+codec.Itoa(int64(size))+" > "+codec.Itoa(max)))
		return nil, 0
	}
	if size <= 0 {
		c.fail(codec.NewFatal(codec.ErrCodeBadBody, verb+" invalid body size "+codec.Itoa(int64(size))))
		return nil, 0
	}
	if len(rest) < 4+int(size) {
		return nil, c.bodyShort(verb, "body")
	}
	return rest[4 : 4+size], 4 + int(size)
}
