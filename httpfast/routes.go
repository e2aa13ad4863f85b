package httpfast

import (
	"bytes"
	"html"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// The route table is upstream's (nsqd/http.go), and the dispatch below
// reproduces the julienschmidt/httprouter v1.3.0 behaviour that upstream's
// clients and tests can observe:
//
//   - an exact path and method match runs the handler;
//   - otherwise, if some route uses the request's method (GET, POST, PUT)
//     and the path is not "/": the same path with the trailing slash added
//     or removed, then the cleaned path matched case-insensitively, are
//     redirected to, with 301 for GET and 307 for the other methods;
//   - OPTIONS on a known path answers 200 with Allow; any other method on a
//     known path answers 405 METHOD_NOT_ALLOWED with Allow (HEAD included:
//     there are no HEAD routes);
//   - everything else is 404 NOT_FOUND.
//
// Allow lists the path's methods plus OPTIONS, sorted ("GET, OPTIONS, PUT").

// routeKind selects the response envelope of a route.
type routeKind uint8

const (
	kindV1    routeKind = iota // V1 envelope; errors as {"message":…}
	kindPlain                  // PlainText envelope; errors as their text
	kindRaw                    // the handler writes everything (pprof)
)

// handler serves one route. param is the :opt segment of /config/:opt ("" on
// other routes). A non-nil error is rendered by the route's envelope; on nil
// the handler has written its answer.
type handler func(ctx *fasthttp.RequestCtx, param string) *apiError

// route is one method and path of the table.
type route struct {
	method string
	path   string // "/config/:opt" is the one parameterized path
	kind   routeKind
	log    bool // upstream's http_api.Log decorator: one INFO line per request
	serve  handler
}

// paramPrefix is the static part of the one parameterized route.
const paramPrefix = "/config/"

// routeTable maps a path to its routes (one per method).
type routeTable struct {
	static map[string][]*route
	param  []*route // the /config/:opt routes
	all    []*route
}

func (s *Server) newRouteTable() routeTable {
	v1 := func(method, path string, h handler) *route {
		return &route{method: method, path: path, kind: kindV1, log: true, serve: h}
	}
	routes := []*route{
		{method: "GET", path: "/ping", kind: kindPlain, log: true, serve: s.ping},
		v1("GET", "/info", s.info),
		// upstream does not log publishes
		{method: "POST", path: "/pub", kind: kindV1, serve: s.pub},
		{method: "POST", path: "/mpub", kind: kindV1, serve: s.mpub},
		v1("GET", "/stats", s.stats),
		s.metricsRoute(), // GET /metrics: ours only (Prometheus; metrics.go)
		v1("POST", "/topic/create", s.topicCreate),
		v1("POST", "/topic/delete", s.topicDelete),
		v1("POST", "/topic/empty", s.topicEmpty),
		v1("POST", "/topic/pause", s.topicPause),
		v1("POST", "/topic/unpause", s.topicPause),
		v1("POST", "/channel/create", s.channelCreate),
		v1("POST", "/channel/delete", s.channelDelete),
		v1("POST", "/channel/empty", s.channelEmpty),
		v1("POST", "/channel/pause", s.channelPause),
		v1("POST", "/channel/unpause", s.channelPause),
		v1("PUT", "/config/:opt", s.config),
		v1("GET", "/config/:opt", s.config),
		{method: "PUT", path: "/debug/setblockrate", kind: kindPlain, log: true, serve: s.setBlockRate},
		{method: "POST", path: "/debug/freememory", kind: kindPlain, log: true, serve: s.freeMemory},
	}
	routes = append(routes, pprofRoutes()...)

	rt := routeTable{static: make(map[string][]*route), all: routes}
	for _, r := range routes {
		if strings.HasPrefix(r.path, paramPrefix) {
			rt.param = append(rt.param, r)
		} else {
			rt.static[r.path] = append(rt.static[r.path], r)
		}
	}
	return rt
}

// find returns the routes of an exact path and the parameter value. It
// does not allocate except for the parameter.
func (rt *routeTable) find(p []byte) ([]*route, string) {
	if rs, ok := rt.static[string(p)]; ok {
		return rs, ""
	}
	if opt, ok := bytes.CutPrefix(p, []byte(paramPrefix)); ok && len(opt) > 0 && bytes.IndexByte(opt, '/') < 0 {
		return rt.param, string(opt)
	}
	return nil, ""
}

// hasMethod reports whether any route uses method (httprouter has a tree
// for it).
func (rt *routeTable) hasMethod(method string) bool {
	return slices.ContainsFunc(rt.all, func(r *route) bool { return r.method == method })
}

// routeFor returns the route of rs for method, or nil.
func routeFor(rs []*route, method string) *route {
	for _, r := range rs {
		if r.method == method {
			return r
		}
	}
	return nil
}

// allow returns the Allow header for rs: its methods other than skip, plus
// OPTIONS, sorted; "" when there is none.
func allow(rs []*route, skip string) string {
	var methods []string
	for _, r := range rs {
		if r.method != skip {
			methods = append(methods, r.method)
		}
	}
	if len(methods) == 0 {
		return ""
	}
	methods = append(methods, "OPTIONS")
	slices.Sort(methods)
	return strings.Join(slices.Compact(methods), ", ")
}

// HandleRequest is the fasthttp handler of the API: routing, redirects,
// 404/405/OPTIONS and the panic guard. It runs on fasthttp's worker
// goroutines, any number at once.
func (s *Server) HandleRequest(ctx *fasthttp.RequestCtx) {
	var start time.Time // read only for a logged route: /pub and /mpub are not
	var logged *route
	defer func() {
		finishBody(ctx) // whatever the route (404s included) left unread
		if p := recover(); p != nil {
			s.log.Logf(core.LogLevelError, "panic in HTTP handler - %v", p)
			// upstream's LogPanicHandler renders the 500 through a fresh
			// logged handler, so the logged duration starts here
			start = time.Now()
			ctx.Response.Reset()
			respondV1Error(ctx, errInternal)
			s.logRequest(ctx, start)
		} else if logged != nil {
			s.logRequest(ctx, start)
		}
	}()

	method := methodString(ctx.Method())
	p, ok := requestPath(ctx)
	if !ok {
		// net/http refuses a request line it cannot parse the same way
		ctx.SetConnectionClose()
		respondPlain(ctx, http.StatusBadRequest, "400 Bad Request")
		return
	}
	if string(p) == "*" && method == "OPTIONS" {
		return // net/http answers "OPTIONS *" itself: 200, empty
	}
	rs, param := s.routes.find(p)
	if r := routeFor(rs, method); r != nil {
		if r.log {
			logged, start = r, time.Now()
		}
		s.run(ctx, r, param)
		return
	}
	if s.redirect(ctx, method, string(p)) {
		return
	}
	start = time.Now() // upstream's logged NotFound/MethodNotAllowed handlers start here
	if a := allow(rs, method); a != "" {
		ctx.Response.Header.Set("Allow", a)
		if method == "OPTIONS" {
			return
		}
		respondV1Error(ctx, errMethodNotAllowed)
	} else {
		respondV1Error(ctx, errNotFound)
	}
	s.logRequest(ctx, start)
}

// run calls r's handler and renders its error with r's envelope.
func (s *Server) run(ctx *fasthttp.RequestCtx, r *route, param string) {
	err := r.serve(ctx, param)
	if err == nil {
		return
	}
	switch r.kind {
	case kindPlain:
		respondPlain(ctx, err.code, err.msg)
	default:
		respondV1Error(ctx, err)
	}
}

// redirect answers with httprouter's trailing-slash or fixed-path redirect
// if one applies.
func (s *Server) redirect(ctx *fasthttp.RequestCtx, method, p string) bool {
	if p == "/" || method == "CONNECT" || !s.routes.hasMethod(method) {
		return false
	}
	target := ""
	alt := p + "/"
	if strings.HasSuffix(p, "/") {
		alt = p[:len(p)-1]
	}
	if rs, _ := s.routes.find([]byte(alt)); routeFor(rs, method) != nil {
		target = alt
	} else if fixed, ok := s.routes.fixPath(method, cleanPath(p)); ok {
		target = fixed
	} else {
		return false
	}

	code := http.StatusMovedPermanently
	if method != "GET" {
		code = http.StatusTemporaryRedirect
	}
	loc := (&url.URL{Path: target}).EscapedPath()
	if q := ctx.URI().QueryString(); len(q) > 0 || strings.Contains(string(ctx.RequestURI()), "?") {
		loc += "?" + string(q)
	}
	ctx.Response.Header.Set("Location", loc)
	ctx.SetStatusCode(code)
	if method == "GET" {
		// net/http's http.Redirect adds a short HTML body for GET (with
		// Fprintln, hence the two newlines)
		ctx.Response.Header.SetContentType("text/html; charset=utf-8")
		ctx.Response.SetBodyString(`<a href="` + html.EscapeString(loc) + `">` + http.StatusText(code) + "</a>.\n\n")
	}
	return true
}

// fixPath matches a cleaned path case-insensitively, with or without a
// trailing slash, against method's routes and returns the route's spelling
// (the :opt segment keeps the request's spelling).
func (rt *routeTable) fixPath(method, p string) (string, bool) {
	trimmed := strings.TrimSuffix(p, "/")
	for _, r := range rt.all {
		if r.method != method {
			continue
		}
		if !strings.HasPrefix(r.path, paramPrefix) {
			if strings.EqualFold(p, r.path) || strings.EqualFold(trimmed, r.path) || strings.EqualFold(p+"/", r.path) {
				return r.path, true
			}
			continue
		}
		if len(trimmed) > len(paramPrefix) && strings.EqualFold(trimmed[:len(paramPrefix)], paramPrefix) {
			if opt := trimmed[len(paramPrefix):]; !strings.Contains(opt, "/") {
				return paramPrefix + opt, true
			}
		}
	}
	return "", false
}

// cleanPath is httprouter's CleanPath: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if p[len(p)-1] == '/' && c != "/" {
		c += "/"
	}
	return c
}

// requestPath returns the request path percent-decoded but not otherwise
// normalized (net/http's URL.Path; fasthttp's Path() would also remove
// "//" and "..", hiding the redirects upstream answers). ok is false for a
// malformed escape. Without a '%' it is the request's own bytes (valid for
// the request), so routing a request does not allocate.
func requestPath(ctx *fasthttp.RequestCtx) ([]byte, bool) {
	raw := ctx.URI().PathOriginal()
	if len(raw) == 0 {
		return []byte("/"), true
	}
	if bytes.IndexByte(raw, '%') < 0 {
		return raw, true
	}
	p, err := url.PathUnescape(string(raw))
	return []byte(p), err == nil
}

// methodString returns the method as a string without allocating for the
// usual ones.
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "OPTIONS":
		return "OPTIONS"
	case "HEAD":
		return "HEAD"
	case "DELETE":
		return "DELETE"
	}
	return string(m)
}

// logRequest writes upstream's request line:
//
//	200 GET /stats?format=json (127.0.0.1:52354) 551.928µs
func (s *Server) logRequest(ctx *fasthttp.RequestCtx, start time.Time) {
	if s.log.Level() > core.LogLevelInfo {
		return
	}
	s.log.Logf(core.LogLevelInfo, "%d %s %s (%s) %s", ctx.Response.StatusCode(), ctx.Method(),
		ctx.RequestURI(), remoteAddr(ctx), time.Since(start))
}

// remoteAddr is the peer address as net/http reports it ("@" for a unix
// socket peer without a name).
func remoteAddr(ctx *fasthttp.RequestCtx) string {
	a := ctx.RemoteAddr()
	if a.Network() == "unix" {
		if a.String() == "" {
			return "@"
		}
	}
	return a.String()
}
