package httpfast

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// pub is POST /pub?topic=T[&defer=ms], in upstream's order of checks:
// Content-Length, body size (read at most max+1 bytes), empty body, query,
// topic (created here), defer, enqueue. The whole body is one message.
func (s *Server) pub(ctx *fasthttp.RequestCtx, _ string) *apiError {
	maxMsgSize := s.opts.MaxMsgSize
	if int64(ctx.Request.Header.ContentLength()) > maxMsgSize {
		return errMsgTooBig
	}
	body, err := readBody(ctx, maxMsgSize)
	if err != nil {
		return errInternal
	}
	if int64(len(body)) > maxMsgSize {
		return errMsgTooBig
	}
	if len(body) == 0 {
		return errMsgEmpty
	}

	q, apiErr := s.query(ctx)
	if apiErr != nil {
		return apiErr
	}
	defer releaseQuery(q)
	topic, apiErr := s.topicFromQuery(q)
	if apiErr != nil {
		return apiErr
	}

	var deferred time.Duration
	if v, ok := q.get("defer"); ok {
		ms, ok := parseInt64(v)
		if !ok {
			return errInvalidDefer
		}
		// wraps on overflow exactly like upstream's time.Duration(ms) * time.Millisecond
		deferred = time.Duration(ms) * time.Millisecond
		if deferred < 0 || deferred > s.opts.MaxReqTimeout {
			return errInvalidDefer
		}
	}
	if err := s.publish(topic, nil, body, deferred); err != nil {
		return errExiting
	}
	respondV1OK(ctx)
	return nil
}

// publish puts body (or, when bodies is non-nil, every one of bodies) on
// topic. Under --sync-every=1 it waits for the disk records to be synced
// before returning (core's group commit), so "OK" means what a synced
// write means; it runs on a fasthttp worker goroutine, where waiting is
// allowed. An error (exiting, or a disk failure) is upstream's 503 EXITING.
func (s *Server) publish(topic *core.Topic, bodies [][]byte, body []byte, deferred time.Duration) error {
	if s.opts.SyncEvery != 1 {
		if bodies != nil {
			return topic.PutMulti(bodies)
		}
		return topic.Put(body, deferred)
	}
	var dur core.Durability
	var err error
	if bodies != nil {
		err = topic.PutMultiDurable(bodies, &dur)
	} else {
		err = topic.PutDurable(body, deferred, &dur)
	}
	if err == nil && dur.Pending() {
		err = dur.Wait()
	}
	return err
}

// mpub is POST /mpub?topic=T[&binary=…]: Content-Length against
// --max-body-size, query and topic (created here, before the body is
// read), then the body in text mode (one message per line) or binary mode
// (the TCP MPUB body). All messages are validated before any is published.
func (s *Server) mpub(ctx *fasthttp.RequestCtx, _ string) *apiError {
	maxBodySize := s.opts.MaxBodySize
	if int64(ctx.Request.Header.ContentLength()) > maxBodySize {
		return errBodyTooBig
	}
	q, apiErr := s.query(ctx)
	if apiErr != nil {
		return apiErr
	}
	defer releaseQuery(q)
	topic, apiErr := s.topicFromQuery(q)
	if apiErr != nil {
		return apiErr
	}

	// upstream: "true"/"1" binary, "false"/"0" text, any other value binary
	// (with a warning), absent text
	binaryMode := false
	if v, ok := q.get("binary"); ok {
		switch string(v) {
		case "false", "0":
		case "true", "1":
			binaryMode = true
		default:
			binaryMode = true
			s.log.Logf(core.LogLevelWarn, "deprecated value '%s' used for /mpub binary param", v)
		}
	}

	body, err := readBody(ctx, maxBodySize)
	if err != nil {
		return errInternal
	}
	var msgs [][]byte
	if binaryMode {
		msgs, apiErr = splitBinaryMPUB(body, s.opts.MaxMsgSize, maxBodySize)
	} else {
		msgs, apiErr = splitTextMPUB(body, s.opts.MaxMsgSize, maxBodySize)
	}
	if apiErr != nil {
		return apiErr
	}
	if err := s.publish(topic, msgs, nil, 0); err != nil {
		return errExiting
	}
	respondV1OK(ctx)
	return nil
}

// splitTextMPUB splits a text /mpub body (read up to maxBodySize+1 bytes)
// into messages as upstream does, line by line and in order: the bytes seen
// so far reaching maxBodySize+1 is BODY_TOO_BIG, a line (without its '\n';
// a '\r' is kept) longer than maxMsgSize is MSG_TOO_BIG, empty lines are
// skipped. The messages are sub-slices of body.
func splitTextMPUB(body []byte, maxMsgSize, maxBodySize int64) ([][]byte, *apiError) {
	msgs := make([][]byte, 0, bytes.Count(body, []byte{'\n'})+1)
	total := int64(0)
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i+1], body[i+1:]
		} else {
			body = nil
		}
		total += int64(len(line))
		if total == maxBodySize+1 {
			return nil, errBodyTooBig
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if len(line) == 0 {
			continue
		}
		if int64(len(line)) > maxMsgSize {
			return nil, errMsgTooBig
		}
		msgs = append(msgs, line)
	}
	return msgs, nil
}

// splitBinaryMPUB validates a binary /mpub body with the TCP MPUB rules
// (codec.ValidateMPUB) and returns its messages as sub-slices of body. A
// framing error is 413 with the wire code without "E_" (BAD_BODY or
// BAD_MESSAGE), as upstream.
//
// Bytes after the last message are ignored, as upstream (which stops
// reading after the count): ValidateMPUB reports them as its final
// "invalid body size" check, after every message has passed. A body over
// maxBodySize (possible only with chunked encoding) is BODY_TOO_BIG: a
// DELIBERATE DIFFERENCE, upstream reads such a chunked body to its end.
func splitBinaryMPUB(body []byte, maxMsgSize, maxBodySize int64) ([][]byte, *apiError) {
	if int64(len(body)) > maxBodySize {
		return nil, errBodyTooBig
	}
	count, werr := codec.ValidateMPUB(body, maxMsgSize, maxBodySize)
	if werr != nil {
		if !isTrailingBytesError(werr) {
			return nil, wireToAPIError(werr)
		}
		count = int(int32(binary.BigEndian.Uint32(body)))
	}
	msgs := make([][]byte, count)
	off := 4
	for i := range msgs {
		msgs[i], off = codec.NextMPUBMessage(body, off)
	}
	return msgs, nil
}

// isTrailingBytesError reports whether err is ValidateMPUB's last check
// (bytes left over after valid messages); httpfast's tests pin the text.
func isTrailingBytesError(err *codec.Error) bool {
	return err.Code == codec.ErrCodeBadBody && strings.HasPrefix(err.Desc, "MPUB invalid body size")
}

// wireToAPIError maps a codec MPUB error to upstream's HTTP answer.
func wireToAPIError(err *codec.Error) *apiError {
	if err.Code == codec.ErrCodeBadMessage {
		return errBadMessage
	}
	return errBadBody
}

// readBody reads the request body, at most limit+1 bytes (so the caller
// can tell "over the limit" from "exactly the limit" without reading an
// unbounded chunked body). The result is freshly allocated: it becomes
// message bodies that core keeps.
//
// A body read to its end is marked so (markBodyRead); one left unread is
// dealt with by finishBody.
func readBody(ctx *fasthttp.RequestCtx, limit int64) ([]byte, error) {
	stream := ctx.RequestBodyStream()
	if stream == nil {
		markBodyRead(ctx)
		return append([]byte(nil), ctx.Request.Body()...), nil
	}
	cl := int64(ctx.Request.Header.ContentLength())
	if cl >= 0 && cl <= limit {
		// Known size: one exact allocation, but never trust a huge
		// Content-Length for the up-front size.
		buf := make([]byte, 0, min(cl, 1<<20))
		buf, _, err := readLimited(buf, stream, cl)
		if err == nil {
			markBodyRead(ctx)
		}
		return buf, err
	}
	buf, eof, err := readLimited(make([]byte, 0, 4096), stream, limit+1)
	if eof {
		markBodyRead(ctx)
	}
	return buf, err
}

// readLimited appends at most n bytes from r to buf; eof reports that r
// ended within them.
func readLimited(buf []byte, r io.Reader, n int64) (_ []byte, eof bool, _ error) {
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		room := min(int64(cap(buf)-len(buf)), n-int64(len(buf)))
		m, err := r.Read(buf[len(buf) : len(buf)+int(room)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

// query parses the request's query string; a malformed one is logged and
// answered 400 INVALID_REQUEST, as upstream's http_api.NewReqParams.
func (s *Server) query(ctx *fasthttp.RequestCtx) (*queryArgs, *apiError) {
	q := acquireQuery(ctx.URI().QueryString())
	if q.err != "" {
		s.log.Logf(core.LogLevelError, "failed to parse request params - %s", q.err)
		releaseQuery(q)
		return nil, errInvalidRequest
	}
	return q, nil
}

// topicFromQuery is upstream's getTopicFromQuery: the first "topic" value,
// validated (INVALID_TOPIC), then the topic, created if needed.
func (s *Server) topicFromQuery(q *queryArgs) (*core.Topic, *apiError) {
	name, ok := q.get("topic")
	if !ok {
		return nil, errMissingArgTopic
	}
	if !core.IsValidName(name) {
		return nil, errInvalidTopic
	}
	t, err := s.nsqd.GetTopicBytes(name)
	if err != nil {
		return nil, errExiting
	}
	return t, nil
}

// parseInt64 is strconv.ParseInt(string(b), 10, 64) without the allocation
// (its error keeps the string): an optional sign, then decimal digits,
// within int64.
func parseInt64(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63 {
			return 0, false
		}
	}
	if !neg && n > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}
