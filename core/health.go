package core

import (
	"sync/atomic"
)

// health is the daemon's health: the last error reported by a storage write,
// or nil when healthy (upstream's NSQD.errValue).
type health struct {
	err atomic.Pointer[error] // nil: healthy
}

func (n *NSQD) healthState() *health { return &n.health }

// SetHealth records the outcome of a storage write, as upstream's
// NSQD.SetHealth: a non-nil err makes the daemon unhealthy with that error
// (GET /ping answers 500 "NOK - <err>"), nil makes it healthy again. Safe for
// concurrent use; cheap enough to call after every disk write.
func (n *NSQD) SetHealth(err error) {
	h := n.healthState()
	if err == nil {
		if h.err.Load() != nil {
			h.err.Store(nil)
		}
		return
	}
	h.err.Store(&err)
}

// HealthError returns the error that made the daemon unhealthy, or nil.
// Safe for concurrent use.
func (n *NSQD) HealthError() error {
	if p := n.healthState().err.Load(); p != nil {
		return *p
	}
	return nil
}

// IsHealthy reports whether no storage error is pending. Safe for concurrent
// use.
func (n *NSQD) IsHealthy() bool { return n.HealthError() == nil }

// Health returns upstream's health string: "OK", or "NOK - <error>" (the
// /ping body and the /stats "health" field). Safe for concurrent use.
func (n *NSQD) Health() string {
	if err := n.HealthError(); err != nil {
		return "NOK - " + err.Error()
	}
	return "OK"
}
