package httpfast

import (
	"net/http"

	"github.com/valyala/fasthttp"
)

// Response envelopes. Upstream (internal/http_api) has two:
//
//   - V1, used by every route except /ping, /debug/setblockrate,
//     /debug/freememory and pprof: always the header
//     X-NSQ-Content-Type: nsq; version=1.0; a string result is the raw body
//     (Content-Type sniffed by net/http), no result is an empty 200, a
//     structure is JSON, and an error is {"message":"<CODE>"} as JSON with
//     its status code.
//   - PlainText (/ping, /debug/setblockrate, /debug/freememory): the result
//     or the error text as the body, no X-NSQ-Content-Type.
//
// net/http sniffs a Content-Type only for a non-empty body; we call the same
// sniffer (http.DetectContentType) so that raw strings such as
// GET /config/data_path get exactly upstream's header.

const (
	headerNSQContentType = "X-Nsq-Content-Type" // X-NSQ-Content-Type as net/http writes it
	nsqContentTypeV1     = "nsq; version=1.0"
	contentTypeJSON      = "application/json; charset=utf-8"
	contentTypeText      = "text/plain; charset=utf-8"
)

// apiError is an HTTP error with upstream's status code and message code
// (http_api.Err). Handlers return the shared values below; they are
// immutable.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

// The error answers, by upstream's wording.
var (
	errNotFound          = &apiError{404, "NOT_FOUND"}
	errMethodNotAllowed  = &apiError{405, "METHOD_NOT_ALLOWED"}
	errInternal          = &apiError{500, "INTERNAL_ERROR"}
	errInvalidRequest    = &apiError{400, "INVALID_REQUEST"}
	errMissingArgTopic   = &apiError{400, "MISSING_ARG_TOPIC"}
	errInvalidTopic      = &apiError{400, "INVALID_TOPIC"}
	errInvalidArgTopic   = &apiError{400, "INVALID_ARG_TOPIC"}
	errMissingArgChannel = &apiError{400, "MISSING_ARG_CHANNEL"}
	errInvalidArgChannel = &apiError{400, "INVALID_ARG_CHANNEL"}
	errTopicNotFound     = &apiError{404, "TOPIC_NOT_FOUND"}
	errChannelNotFound   = &apiError{404, "CHANNEL_NOT_FOUND"}
	errMsgTooBig         = &apiError{413, "MSG_TOO_BIG"}
	errBodyTooBig        = &apiError{413, "BODY_TOO_BIG"}
	errMsgEmpty          = &apiError{400, "MSG_EMPTY"}
	errInvalidDefer      = &apiError{400, "INVALID_DEFER"}
	errExiting           = &apiError{503, "EXITING"}
	errInvalidOption     = &apiError{400, "INVALID_OPTION"}
	errInvalidValue      = &apiError{400, "INVALID_VALUE"}
	errInvalidValueSize  = &apiError{413, "INVALID_VALUE"}
	errBadBody           = &apiError{413, "BAD_BODY"}
	errBadMessage        = &apiError{413, "BAD_MESSAGE"}
)

// The V1 header as bytes, set with SetCanonical: Header.Set would
// normalize and copy the name on every answer, /pub's included.
var (
	headerNSQContentTypeKey = []byte(headerNSQContentType)
	nsqContentTypeV1Value   = []byte(nsqContentTypeV1)
)

// setV1Header sets X-NSQ-Content-Type: nsq; version=1.0.
func setV1Header(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetCanonical(headerNSQContentTypeKey, nsqContentTypeV1Value)
}

// respondV1 writes a V1 success: status 200, body as given, Content-Type
// sniffed from a non-empty body (none for an empty one).
func respondV1(ctx *fasthttp.RequestCtx, body []byte) {
	setV1Header(ctx)
	if len(body) > 0 {
		ctx.Response.Header.SetContentType(http.DetectContentType(body))
	}
	ctx.Response.SetBodyRaw(body)
}

// respondV1OK writes the V1 "OK" string result of /pub and /mpub.
func respondV1OK(ctx *fasthttp.RequestCtx) {
	setV1Header(ctx)
	ctx.Response.Header.SetContentType(contentTypeText)
	ctx.Response.SetBodyString("OK")
}

// respondV1Empty writes the V1 answer of a handler with no result: 200 with
// an empty body and no Content-Type.
func respondV1Empty(ctx *fasthttp.RequestCtx) {
	setV1Header(ctx)
}

// respondV1JSON writes a V1 structure result; body is already JSON and
// becomes the response body (it must not be modified afterwards).
func respondV1JSON(ctx *fasthttp.RequestCtx, body []byte) {
	setV1Header(ctx)
	ctx.Response.Header.SetContentType(contentTypeJSON)
	ctx.Response.SetBodyRaw(body)
}

// respondV1Error writes {"message":"<msg>"} with e's status.
func respondV1Error(ctx *fasthttp.RequestCtx, e *apiError) {
	setV1Header(ctx)
	ctx.Response.Header.SetContentType(contentTypeJSON)
	ctx.SetStatusCode(e.code)
	b := ctx.Response.SwapBody(nil)[:0]
	b = append(b, `{"message":`...)
	b = appendJSONString(b, e.msg)
	b = append(b, '}')
	ctx.Response.SwapBody(b)
}

// respondPlain writes a PlainText answer: status code and body, with the
// Content-Type net/http would sniff.
func respondPlain(ctx *fasthttp.RequestCtx, code int, body string) {
	ctx.SetStatusCode(code)
	if body != "" {
		ctx.Response.Header.SetContentType(http.DetectContentType([]byte(body)))
	}
	ctx.Response.SetBodyString(body)
}
