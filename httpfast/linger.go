package httpfast

import (
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Refused request bodies. When a handler answers before reading a body (a
// Content-Length over the limit, an invalid topic) or stops reading it at
// limit+1, the client is usually still sending. fasthttp drains up to
// 256 KiB of such a body and otherwise closes at once; closing a socket with
// unread input makes the kernel send a reset, and a client still writing
// (Go's net/http client, for one) then sees "connection reset" instead of
// the 413. net/http, which upstream uses, avoids that with a lingering
// close: shut down the write side, wait, then close. We do the same for
// the connections marked below: shut down writing, discard input until the
// client closes or lingerTimeout passes, then close.
//
// A client sending "Expect: 100-continue" never gets that far: expect
// answers from the headers, before the client sends the body.

const (
	// lingerTimeout is net/http's rstAvoidanceDelay.
	lingerTimeout = 500 * time.Millisecond
	// maxUnreadBody is fasthttp's maxUnreadStreamBodySize: it drains an
	// unread body up to this size and keeps the connection.
	maxUnreadBody = 256 * 1024
)

// userValueBodyRead marks a request whose body was read to its end.
const userValueBodyRead = "httpfast.bodyRead"

// lingerListener wraps accepted connections in lingerConn.
type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c}, nil
}

// lingerConn is a connection whose Close may linger (see above). It is used
// by one fasthttp worker at a time; linger is atomic because Shutdown may
// close an idle connection from another goroutine.
type lingerConn struct {
	net.Conn
	linger atomic.Bool // set by the handler that refused a body
}

// Close closes the connection, after a lingering shutdown if it was marked.
func (c *lingerConn) Close() error {
	if c.linger.Swap(false) {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			c.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
			io.Copy(io.Discard, c.Conn)
		}
	}
	return c.Conn.Close()
}

// markBodyRead records that the request body was read to its end.
func markBodyRead(ctx *fasthttp.RequestCtx) { ctx.SetUserValue(userValueBodyRead, true) }

// finishBody decides, after the handler, what happens to a body it left
// unread: a small one is drained by fasthttp (the connection is kept, as
// net/http does up to the same size); a larger or chunked one closes the
// connection after the answer, lingering.
func finishBody(ctx *fasthttp.RequestCtx) {
	cl := ctx.Request.Header.ContentLength()
	if cl == 0 || cl == -2 || ctx.UserValue(userValueBodyRead) != nil {
		return
	}
	if cl > 0 && cl <= maxUnreadBody {
		return
	}
	ctx.SetConnectionClose()
	if c, ok := ctx.Conn().(*lingerConn); ok {
		c.linger.Store(true)
	}
}

// expect answers "Expect: 100-continue" requests: a /pub or /mpub whose
// Content-Length is over its limit gets its 413 at once, without a
// "100 Continue" (upstream's net/http sends one only when the handler
// reads the body, which it does not do then). Everything else continues.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	if err := s.refuseContentLength(&ctx.Request.Header); err != nil {
		respondV1Error(ctx, err)
		return err.code
	}
	return fasthttp.StatusContinue
}

// refuseContentLength is the answer to a /pub or /mpub whose Content-Length
// is over its limit, from the headers alone; nil for any other request.
func (s *Server) refuseContentLength(h *fasthttp.RequestHeader) *apiError {
	if !h.IsPost() {
		return nil
	}
	cl := int64(h.ContentLength())
	switch string(h.RequestURI()[:pathLen(h.RequestURI())]) {
	case "/pub":
		if cl > s.opts.MaxMsgSize {
			return errMsgTooBig
		}
	case "/mpub":
		if cl > s.opts.MaxBodySize {
			return errBodyTooBig
		}
	}
	return nil
}

// pathLen is the length of the path part of a request URI.
func pathLen(uri []byte) int {
	for i, c := range uri {
		if c == '?' {
			return i
		}
	}
	return len(uri)
}
