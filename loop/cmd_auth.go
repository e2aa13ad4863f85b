package loop

import (
	"context"
	"encoding/json"
	"time"

	"nsqreactor/auth"
	"nsqreactor/codec"
	"nsqreactor/core"
)

// AUTH never blocks the event loop. A command that needs the auth server
// (AUTH itself, or a PUB/MPUB/DPUB/SUB whose authorizations expired) starts
// the query on a helper goroutine and pauses the connection without
// consuming the command: parsing halts and its bytes, and everything after
// them, stay where they are. When the answer arrives the goroutine wakes the
// loop, which parses the same command again; this time the handler finds the
// answer waiting (authConn.reply) and completes. Commands after it are
// therefore handled after the answer, in order, as upstream's blocking read
// loop does.

// authConn is a connection's AUTH state; loop-owned.
type authConn struct {
	secret string      // the AUTH body, kept for re-queries after the TTL
	state  *auth.State // the current authorizations; nil before a good answer
	reply  *authReply  // an answer waiting for the command that asked
}

// authReply is a finished query.
type authReply struct {
	state *auth.State
	err   error
}

// authorized reports whether the connection holds authorizations, which is
// upstream's "authed" and its "AUTH already set" condition.
func (a *authConn) authorized() bool {
	return a != nil && a.state != nil && len(a.state.Authorizations) > 0
}

// cmdAuth handles AUTH + secret (spec §1.6.2).
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
	body, used := c.sizedBody(verb, rest)
	if body == nil {
		return used
	}
	if c.auth.authorized() {
		c.fail(codec.NewFatal(codec.ErrCodeInvalid, "AUTH already set"))
		return 0
	}
	if c.srv.auth == nil {
		c.fail(codec.NewFatal(codec.ErrCodeAuthDisabled, "AUTH disabled"))
		return 0
	}
	r := c.takeAuthReply()
	if r == nil {
		c.auth.secret = string(body)
		c.queryAuth()
		return needMore
	}
	if !c.finishAuth(r) {
		return 0
	}
	return used
}

// finishAuth answers AUTH with the auth server's reply: the identity JSON,
// or a fatal error (reported false).
func (c *conn) finishAuth(r *authReply) bool {
	if r.err != nil {
		c.authFailed(r.err)
		return false
	}
	c.auth.state = r.state
	c.shareStats()
	if !c.auth.authorized() {
		c.fail(codec.NewFatal(codec.ErrCodeUnauthorized, "AUTH no authorizations found"))
		return false
	}
	b, err := json.Marshal(codec.AuthResponse{
		Identity:        r.state.Identity,
		IdentityURL:     r.state.IdentityURL,
		PermissionCount: len(r.state.Authorizations),
	})
	if err != nil {
		c.fail(codec.NewFatal(codec.ErrCodeAuthError, "AUTH error "+err.Error()))
		return false
	}
	c.respond(b)
	return true
}

// authVerdict is checkAuth's answer.
type authVerdict uint8

const (
	authAllowed authVerdict = iota
	authDenied              // a fatal error is queued
	authPaused              // a re-query is in flight: return needMore
)

// checkAuth enforces AUTH-before-use and the permissions (spec §8.6) for a
// PUB/MPUB/DPUB (channel nil) or SUB, re-querying the auth server once the
// authorizations have expired.
func (c *conn) checkAuth(verb string, topic, channel []byte) authVerdict {
	if c.srv.auth == nil {
		return authAllowed
	}
	if !c.auth.authorized() {
		c.fail(codec.NewFatal(codec.ErrCodeAuthFirst, "AUTH required before "+verb))
		return authDenied
	}
	if c.auth.state.Expired(time.Now()) {
		r := c.takeAuthReply()
		if r == nil {
			c.queryAuth()
			return authPaused
		}
		if r.err != nil {
			c.authFailed(r.err)
			return authDenied
		}
		// as upstream, the fresh answer is used even if it has already
		// expired again; the next command asks again
		c.auth.state = r.state
		c.shareStats()
	}
	if !c.auth.state.IsAllowed(topic, channel) {
		c.fail(codec.NewFatal(codec.ErrCodeUnauthorized,
			"AUTH failed for "+verb+" on "+codec.Quote(topic)+" "+codec.Quote(channel)))
		return authDenied
	}
	return authAllowed
}

// takeAuthReply returns (and forgets) the answer the current command waited
// for, or nil if it has not asked yet.
func (c *conn) takeAuthReply() *authReply {
	if c.auth == nil {
		c.auth = &authConn{}
	}
	r := c.auth.reply
	c.auth.reply = nil
	return r
}

// authFailed answers a failed query without revealing why (upstream only
// logs it).
func (c *conn) authFailed(err error) {
	c.srv.nsqd.Logger().Logf(core.LogLevelWarn, "PROTOCOL(V2): [%s] auth failed - %s", c.remoteAddr, err)
	c.fail(codec.NewFatal(codec.ErrCodeAuthFailed, "AUTH failed"))
}

// queryAuth starts an auth server query with the stored secret on a helper
// goroutine and pauses the connection until the answer arrives.
func (c *conn) queryAuth() {
	x := c.extension()
	ctx, cancel := context.WithCancel(c.srv.stopping)
	x.wait, x.cancel = waitAuth, cancel
	c.halt = true
	req := auth.Request{RemoteIP: c.remoteIP, Secret: c.auth.secret}
	if c.tlsActive() {
		req.TLS, req.CommonName = true, x.tls.commonName
	}
	client, gc := c.srv.auth, c.gc
	c.srv.background.Add(1)
	go func() {
		defer c.srv.background.Done()
		state, err := client.Query(ctx, req)
		cancel()
		x.reply.Store(&authReply{state: state, err: err})
		gc.Wake(nil)
	}()
}
