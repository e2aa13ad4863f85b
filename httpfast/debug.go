package httpfast

import (
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"nsqreactor/core"
)

// pprofBodyLimit bounds what a pprof request may send (POST
// /debug/pprof/symbol): the net/http adaptor buffers the whole body, where
// net/http would stream it.
const pprofBodyLimit = 1 << 20

// pprofRoutes are upstream's pprof routes, served by net/http/pprof through
// fasthttpadaptor. Like upstream, /debug/pprof/allocs, /mutex and /trace
// are not routed (404), and /debug/pprof/ is the index page only: it is an
// exact path, so /debug/pprof/<anything else> is 404 too.
func pprofRoutes() []*route {
	raw := func(method, path string, h http.Handler) *route {
		serve := fasthttpadaptor.NewFastHTTPHandler(h)
		return &route{method: method, path: path, kind: kindRaw, serve: func(ctx *fasthttp.RequestCtx, _ string) *apiError {
			if ctx.RequestBodyStream() != nil {
				body, err := readBody(ctx, pprofBodyLimit)
				if err != nil {
					return errInternal
				}
				ctx.Request.SetBodyRaw(body[:min(len(body), pprofBodyLimit)])
			}
			serve(ctx)
			return nil
		}}
	}
	return []*route{
		raw("GET", "/debug/pprof/", http.HandlerFunc(pprof.Index)),
		raw("GET", "/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline)),
		raw("GET", "/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol)),
		raw("POST", "/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol)),
		raw("GET", "/debug/pprof/profile", http.HandlerFunc(pprof.Profile)),
		raw("GET", "/debug/pprof/heap", pprof.Handler("heap")),
		raw("GET", "/debug/pprof/goroutine", pprof.Handler("goroutine")),
		raw("GET", "/debug/pprof/block", pprof.Handler("block")),
		raw("GET", "/debug/pprof/threadcreate", pprof.Handler("threadcreate")),
	}
}

// errNoResult reproduces upstream's quirk for the two debug endpoints below:
// their handlers return no value, upstream's PlainText envelope panics on
// it, and the panic handler answers 500 INTERNAL_ERROR (V1 JSON) after the
// work is done. No client depends on it; we keep the status so that the
// answer is the same on both daemons, without the panic.
func (s *Server) errNoResult(ctx *fasthttp.RequestCtx) *apiError {
	s.log.Logf(core.LogLevelError, "panic in HTTP handler - unknown response type <nil>")
	respondV1Error(ctx, errInternal)
	return nil
}

// setBlockRate is PUT /debug/setblockrate?rate=N: runtime.SetBlockProfileRate.
// A bad rate is 400 with upstream's plain-text message; the query is parsed
// leniently, as upstream's URL.Query() (a malformed pair is dropped).
func (s *Server) setBlockRate(ctx *fasthttp.RequestCtx, _ string) *apiError {
	q := acquireQuery(ctx.URI().QueryString())
	v, _ := q.getString("rate")
	releaseQuery(q)
	rate, err := strconv.Atoi(v)
	if err != nil {
		return &apiError{http.StatusBadRequest, "invalid block rate : " + err.Error()}
	}
	runtime.SetBlockProfileRate(rate)
	return s.errNoResult(ctx)
}

// freeMemory is POST /debug/freememory: a forced GC that returns memory to
// the OS (debug.FreeOSMemory), then upstream's 500.
func (s *Server) freeMemory(ctx *fasthttp.RequestCtx, _ string) *apiError {
	debug.FreeOSMemory()
	return s.errNoResult(ctx)
}
