// Package httpfast is nsqd's HTTP API on fasthttp: upstream v1.3.0's route
// table (/ping, /info, /pub, /mpub, /stats, topic and channel management,
// /config/:opt, /debug/*), its two response envelopes, its error codes and
// JSON bodies byte for byte, and the router behaviour clients can observe
// (trailing-slash and case redirects, 404, 405 with Allow, OPTIONS, panic →
// 500 INTERNAL_ERROR). Spec: ../shared/nsqd-spec.md §5; where the spec and
// upstream's binary disagree, the binary wins, and test/compat runs every
// expectation against both daemons.
//
// # Files
//
//	server.go      Server: HTTP (TCP or unix socket) and HTTPS listeners,
//	               TLS_REQUIRED, close
//	linger.go      refused bodies: Expect: 100-continue, lingering close
//	routes.go      route table, dispatch, redirects, request log
//	respond.go     V1 and PlainText envelopes, the error values
//	query.go       url.ParseQuery-compatible query parsing without allocation
//	json.go        encoding/json-compatible appenders
//	pub.go         /pub, /mpub and bounded body reading
//	manage.go      /topic/* and /channel/*
//	info.go        /ping, /info
//	stats.go       /stats handler and JSON rendering
//	stats_text.go  /stats text rendering
//	metrics*.go    /metrics: Prometheus exposition built from the /stats snapshot
//	config.go      /config/:opt
//	debug.go       /debug/pprof/*, /debug/setblockrate, /debug/freememory
//
// # Threading
//
// fasthttp serves each connection on one of its worker goroutines; any
// number of requests run at once. Handlers keep no per-request state outside
// the fasthttp.RequestCtx and pooled query buffers, and reach the daemon only
// through core's concurrency-safe API (core.NSQD, Topic, Channel). The
// Server's own mutable state (listeners, nsqlookupd addresses) is
// guarded by Server.mu, which is never held while calling into core or a
// callback. /stats takes core's snapshot (core.NSQD.GetStats), which holds no
// core lock while it asks connections for their figures, so a slow or large
// /stats never blocks publishers or event loops.
//
// # Bodies
//
// Request bodies are streamed (fasthttp Server.StreamRequestBody): /pub,
// /mpub and PUT /config check Content-Length against their limit before
// reading, as upstream does, and otherwise read at most limit+1 bytes, so an
// oversized (or chunked) body is refused without being buffered. The
// management endpoints ignore their bodies. An unread body up to 256 KiB
// is drained (the connection is kept); after a larger one the connection is
// closed the way net/http closes it, lingering, so that a client still
// sending reads the answer instead of a reset (linger.go).
package httpfast
