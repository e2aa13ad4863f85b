package httpfast

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"nsqreactor/core"
)

// Fuzz targets for the HTTP request bodies (issue #8). The references below
// are written from upstream v1.3.0's nsqd/http.go and protocol_v2.go
// (readMPUB) and spec §5, not from our code.

// refTextMPUB is upstream's text /mpub loop: bufio.ReadBytes('\n') over the
// body limited to maxBodySize+1 bytes.
func refTextMPUB(body []byte, maxMsgSize, maxBodySize int64) ([][]byte, *apiError) {
	readMax := maxBodySize + 1
	rdr := bufio.NewReader(io.LimitReader(bytes.NewReader(body), readMax))
	var msgs [][]byte
	total := 0
	for exit := false; !exit; {
		block, err := rdr.ReadBytes('\n')
		if err != nil {
			if err != io.EOF {
				return nil, errInternal
			}
			exit = true
		}
		total += len(block)
		if int64(total) == readMax {
			return nil, errBodyTooBig
		}
		if len(block) > 0 && block[len(block)-1] == '\n' {
			block = block[:len(block)-1]
		}
		if len(block) == 0 {
			continue
		}
		if int64(len(block)) > maxMsgSize {
			return nil, errMsgTooBig
		}
		msgs = append(msgs, block)
	}
	return msgs, nil
}

// refBinaryMPUB is upstream's readMPUB over the body, its error mapped as
// /mpub maps it (413, the wire code without "E_"), after our one
// documented difference: a body over maxBodySize (chunked) is BODY_TOO_BIG.
func refBinaryMPUB(body []byte, maxMsgSize, maxBodySize int64) ([][]byte, *apiError, string) {
	if int64(len(body)) > maxBodySize {
		return nil, errBodyTooBig, ""
	}
	r := bytes.NewReader(body)
	readLen := func() (int32, error) {
		var tmp [4]byte
		if _, err := io.ReadFull(r, tmp[:]); err != nil {
			return 0, err
		}
		return int32(binary.BigEndian.Uint32(tmp[:])), nil
	}
	numMessages, err := readLen()
	if err != nil {
		return nil, errBadBody, "MPUB failed to read message count"
	}
	maxMessages := (maxBodySize - 4) / 5
	if numMessages <= 0 || int64(numMessages) > maxMessages {
		return nil, errBadBody, fmt.Sprintf("MPUB invalid message count %d", numMessages)
	}
	var msgs [][]byte
	for i := int32(0); i < numMessages; i++ {
		size, err := readLen()
		if err != nil {
			return nil, errBadMessage, fmt.Sprintf("MPUB failed to read message(%d) body size", i)
		}
		if size <= 0 {
			return nil, errBadMessage, fmt.Sprintf("MPUB invalid message(%d) body size %d", i, size)
		}
		if int64(size) > maxMsgSize {
			return nil, errBadMessage, fmt.Sprintf("MPUB message too big %d > %d", size, maxMsgSize)
		}
		if int64(size) > int64(r.Len()) { // upstream allocates first; we must not
			return nil, errBadMessage, "MPUB failed to read message body"
		}
		msg := make([]byte, size)
		io.ReadFull(r, msg)
		msgs = append(msgs, msg)
	}
	return msgs, nil, ""
}

// fuzzLimits maps two fuzz values to small limits, so that the size checks
// are reached.
func fuzzLimits(a, b uint16) (maxMsgSize, maxBodySize int64) {
	return int64(a%300) + 1, int64(b % 1200)
}

// FuzzMPUBBody compares splitTextMPUB and splitBinaryMPUB with the
// references: same messages (in order, byte for byte, as sub-slices of the
// body) or the same answer. The body is at most maxBodySize+1 bytes, as
// readBody guarantees.
func FuzzMPUBBody(f *testing.F) {
	mpub := func(msgs ...string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(msgs)))
		for _, m := range msgs {
			b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
			b = append(b, m...)
		}
		return b
	}
	f.Add([]byte("a\nbb\n\nccc"), false, uint16(10), uint16(100))
	f.Add([]byte("a\r\nbb\n"), false, uint16(1), uint16(100))                              // '\r' kept: MSG_TOO_BIG
	f.Add([]byte("0123456789\nabc"), false, uint16(100), uint16(11))                       // reaches max+1 on the second line
	f.Add([]byte("0123456789\n"), false, uint16(100), uint16(10))                          // exactly max+1 bytes
	f.Add([]byte("\n\n\n"), false, uint16(10), uint16(10))                                 // only empty lines
	f.Add([]byte(""), false, uint16(10), uint16(10))                                       // empty body: OK, nothing
	f.Add(mpub("hello", "world"), true, uint16(10), uint16(100))                           // valid
	f.Add(append(mpub("x"), "trailing"...), true, uint16(10), uint16(100))                 // ignored tail
	f.Add(mpub(), true, uint16(10), uint16(100))                                           // count 0
	f.Add(mpub("", "a"), true, uint16(10), uint16(100))                                    // empty message
	f.Add(mpub("toolong!!!!!!"), true, uint16(5), uint16(100))                             // MSG too big
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0}, true, uint16(5), uint16(100))         // cut size
	f.Add([]byte{0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 'a'}, true, uint16(299), uint16(100)) // huge claim
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, true, uint16(10), uint16(1199))                  // huge count
	f.Add(mpub("a", "b", "c"), true, uint16(10), uint16(18))                               // count over (max-4)/5
	f.Fuzz(func(t *testing.T, body []byte, binaryMode bool, a, b uint16) {
		maxMsgSize, maxBodySize := fuzzLimits(a, b)
		body = body[:min(int64(len(body)), maxBodySize+1)]
		var got, want [][]byte
		var gotErr, wantErr *apiError
		var why string
		if binaryMode {
			got, gotErr = splitBinaryMPUB(body, maxMsgSize, maxBodySize)
			want, wantErr, why = refBinaryMPUB(body, maxMsgSize, maxBodySize)
		} else {
			got, gotErr = splitTextMPUB(body, maxMsgSize, maxBodySize)
			want, wantErr = refTextMPUB(body, maxMsgSize, maxBodySize)
		}
		if gotErr != wantErr {
			t.Fatalf("binary=%v max msg %d body %d: got %v, want %v (%s)", binaryMode, maxMsgSize, maxBodySize, gotErr, wantErr, why)
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("binary=%v: got %q, want %q", binaryMode, got, want)
		}
		for _, m := range got { // sub-slices of the body, as documented
			if len(m) == 0 || !sliceOf(m, body) {
				t.Fatalf("message %q is not a non-empty part of the body", m)
			}
		}
	})
}

// sliceOf reports whether sub lies inside b's memory.
func sliceOf(sub, b []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return false
	}
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	return false
}

// fuzzServer is a daemon core and an HTTP server without a listener, for
// driving HandleRequest in-process; stopped when f's tests end.
func fuzzServer(f *testing.F) (*core.NSQD, *Server) {
	opts := core.NewOptions()
	opts.DataPath = fuzzDataPath(f)
	opts.Logger = io.Discard
	opts.MaxMsgSize = 64
	opts.MaxBodySize = 300
	opts.MaxReqTimeout = time.Hour
	n := core.New(opts)
	f.Cleanup(n.Exit)
	return n, New(n, 4150)
}

// do runs one request through the handler.
func do(s *Server, method, uri string, body []byte) (int, string) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	if body != nil {
		ctx.Request.SetBody(body)
		ctx.Request.Header.SetContentLength(len(body))
	}
	s.HandleRequest(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Body())
}

// v1Err is the body of a V1 error answer.
func v1Err(e *apiError) string { return `{"message":"` + e.msg + `"}` }

// FuzzConfigBody sends PUT /config/<opt> with arbitrary names and bodies.
// The answer must be upstream's: 413 INVALID_VALUE for an empty or
// oversized body, then 400 INVALID_OPTION for a name other than the two
// settable ones, 400 INVALID_VALUE for a value they refuse, else 200 with
// the new value (what upstream renders: the JSON list, the level number);
// a name that does not route gets the router's answer. A GET of the same
// URI afterwards returns what the PUT returned, or, if the PUT was refused,
// what it returned before.
func FuzzConfigBody(f *testing.F) {
	f.Add("log_level", []byte("debug"))
	f.Add("log_level", []byte("WARN"))
	f.Add("log_level", []byte("verbose"))
	f.Add("log_level", []byte(""))
	f.Add("nsqlookupd_tcp_addresses", []byte(`["127.0.0.1:4160","h:1"]`))
	f.Add("nsqlookupd_tcp_addresses", []byte(`null`))
	f.Add("nsqlookupd_tcp_addresses", []byte(`["a",1]`))
	f.Add("nsqlookupd_tcp_addresses", []byte(`["\ud800"]`))
	f.Add("nsqlookupd_tcp_addresses", bytes.Repeat([]byte("x"), 65))
	f.Add("mem_queue_size", []byte("5"))
	f.Add("no_such_option", []byte("1"))
	f.Add("log_level/", []byte("info"))
	f.Add("%6Cog_level", []byte("error"))
	f.Add("a b?c=d#e", []byte("1"))
	_, s := fuzzServer(f)
	plain := regexp.MustCompile(`^[a-z_]+$`)
	f.Fuzz(func(t *testing.T, opt string, body []byte) {
		uri := "/config/" + opt
		before, beforeBody := do(s, "GET", uri, nil)
		code, resp := do(s, "PUT", uri, body)
		after, afterBody := do(s, "GET", uri, nil)

		if plain.MatchString(opt) {
			wantCode, wantBody := 0, ""
			switch {
			case len(body) == 0 || int64(len(body)) > s.opts.MaxMsgSize:
				wantCode, wantBody = 413, v1Err(errInvalidValueSize)
			case opt == "nsqlookupd_tcp_addresses":
				var addrs []string
				if json.Unmarshal(body, &addrs) != nil {
					wantCode, wantBody = 400, v1Err(errInvalidValue)
				} else {
					js, _ := json.Marshal(addrs)
					wantCode, wantBody = 200, string(js)
				}
			case opt == "log_level":
				levels := map[string]int{"debug": core.LogLevelDebug, "info": core.LogLevelInfo,
					"warn": core.LogLevelWarn, "error": core.LogLevelError, "fatal": core.LogLevelFatal}
				if level, ok := levels[strings.ToLower(string(body))]; ok {
					wantCode, wantBody = 200, strconv.Itoa(level)
				} else {
					wantCode, wantBody = 400, v1Err(errInvalidValue)
				}
			default:
				wantCode, wantBody = 400, v1Err(errInvalidOption)
			}
			if code != wantCode || resp != wantBody {
				t.Fatalf("PUT %s %q = %d %s, want %d %s", uri, body, code, resp, wantCode, wantBody)
			}
		} else if !validConfigAnswer(code, resp) {
			t.Fatalf("PUT %q %q = %d %q: not one of upstream's answers", uri, body, code, resp)
		}
		if code == 200 {
			if after != 200 || afterBody != resp {
				t.Fatalf("PUT %q answered %q, then GET answered %d %q", uri, resp, after, afterBody)
			}
		} else if after != before || afterBody != beforeBody {
			t.Fatalf("PUT %q refused (%d %s), yet GET went from %d %q to %d %q", uri, code, resp, before, beforeBody, after, afterBody)
		}
	})
}

// validConfigAnswer reports whether code and body are an answer upstream
// can give to PUT /config/<anything>.
func validConfigAnswer(code int, body string) bool {
	switch code {
	case 200, 301, 307, 308:
		return true
	case 400:
		return body == v1Err(errInvalidOption) || body == v1Err(errInvalidValue) || body == "400 Bad Request"
	case 404:
		return body == v1Err(errNotFound)
	case 405:
		return body == v1Err(errMethodNotAllowed)
	case 413:
		return body == v1Err(errInvalidValueSize)
	}
	return false
}

var validTopic = regexp.MustCompile(`^[\.a-zA-Z0-9_-]+(#ephemeral)?$`)

// refPubAnswer is upstream's answer to POST /pub or /mpub with rawQuery and
// body (with Content-Length = len(body), or chunked), and the number of
// messages it publishes.
func refPubAnswer(opts *core.Options, mpub, chunked bool, rawQuery string, body []byte) (*apiError, int, string) {
	if !mpub {
		switch {
		case int64(len(body)) > opts.MaxMsgSize:
			return errMsgTooBig, 0, ""
		case len(body) == 0:
			return errMsgEmpty, 0, ""
		}
	} else if int64(len(body)) > opts.MaxBodySize && !chunked { // Content-Length
		return errBodyTooBig, 0, ""
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return errInvalidRequest, 0, ""
	}
	topics, ok := q["topic"]
	if !ok {
		return errMissingArgTopic, 0, ""
	}
	topic := topics[0]
	if len(topic) < 1 || len(topic) > 64 || !validTopic.MatchString(topic) {
		return errInvalidTopic, 0, ""
	}
	if !mpub {
		if v, ok := q["defer"]; ok {
			ms, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil {
				return errInvalidDefer, 0, topic
			}
			d := time.Duration(ms) * time.Millisecond
			if d < 0 || d > opts.MaxReqTimeout {
				return errInvalidDefer, 0, topic
			}
		}
		return nil, 1, topic
	}
	binaryMode := false
	if v, ok := q["binary"]; ok {
		binaryMode = v[0] != "false" && v[0] != "0"
	}
	var msgs [][]byte
	var apiErr *apiError
	if binaryMode {
		msgs, apiErr, _ = refBinaryMPUB(body, opts.MaxMsgSize, opts.MaxBodySize)
	} else {
		msgs, apiErr = refTextMPUB(body, opts.MaxMsgSize, opts.MaxBodySize)
	}
	return apiErr, len(msgs), topic
}

// FuzzHTTPPub sends POST /pub or /mpub with an arbitrary query and body
// through the handler: the answer is 200 OK or upstream's error for that
// input (refPubAnswer), and the topic's message count grows by exactly the
// number of messages upstream would publish. With chunked the request goes
// through fasthttp on an in-memory listener with a chunked body, so that
// the streamed reading (at most limit+1 bytes) is what decides.
func FuzzHTTPPub(f *testing.F) {
	f.Add(false, "topic=t", []byte("hello"), false)
	f.Add(false, "topic=t&defer=1000", []byte("hello"), false)
	f.Add(false, "topic=t&defer=-1", []byte("hello"), false)
	f.Add(false, "topic=t&defer=99999999999999999", []byte("x"), false)
	f.Add(false, "topic=t", []byte(""), false)
	f.Add(false, "topic=bad!", []byte("x"), false)
	f.Add(false, "", []byte("x"), false)
	f.Add(false, "topic=%zz", []byte("x"), false)
	f.Add(false, "topic=t;x=1", []byte("x"), false)
	f.Add(true, "topic=t", []byte("a\nb\n\nc"), false)
	f.Add(true, "topic=t&binary=true", []byte{0, 0, 0, 1, 0, 0, 0, 2, 'h', 'i'}, false)
	f.Add(true, "topic=t&binary=yes", []byte{0, 0, 0, 1, 0, 0, 0, 2, 'h', 'i'}, false)
	f.Add(true, "topic=t&binary=0", []byte{0, 0, 0, 1}, false)
	f.Add(true, "topic=e%23ephemeral", bytes.Repeat([]byte("x\n"), 200), false)
	f.Add(false, "topic=t", bytes.Repeat([]byte("x"), 65), true)                            // chunked, over --max-msg-size
	f.Add(true, "topic=t", bytes.Repeat([]byte("abc\n"), 80), true)                         // chunked text over --max-body-size
	f.Add(true, "topic=t", append([]byte("abc\n"), bytes.Repeat([]byte("x"), 70)...), true) // MSG_TOO_BIG first
	f.Add(true, "topic=t&binary=1", []byte{0, 0, 0, 1, 0, 0, 0, 2, 'h', 'i'}, true)
	n, s := fuzzServer(f)
	ln := fasthttputil.NewInmemoryListener()
	if err := s.serve(&s.http, ln, s.HandleRequest); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, mpub bool, rawQuery string, body []byte, chunked bool) {
		path := "/pub"
		if mpub {
			path = "/mpub"
		}
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(path + "?" + rawQuery)
		ctx.Request.SetBody(body)
		ctx.Request.Header.SetContentLength(len(body))
		// what the handler sees: fasthttp's parse of the request line
		seenQuery := string(ctx.URI().QueryString())
		if string(ctx.URI().Path()) != path || chunked && strings.ContainsAny(rawQuery, " \r\n\x00") {
			return // a query that changes the path or the request line is the router's business
		}
		want, count, topic := refPubAnswer(s.opts, mpub, chunked, seenQuery, body)
		var before uint64
		if tp, err := n.GetExistingTopic(topic); err == nil {
			before = tp.MessageCount.Load()
		}
		var code int
		var resp string
		if chunked {
			code, resp = chunkedPost(t, ln, path+"?"+rawQuery, body)
		} else {
			s.HandleRequest(&ctx)
			code, resp = ctx.Response.StatusCode(), string(ctx.Response.Body())
		}
		if want != nil {
			if code != want.code || resp != v1Err(want) {
				t.Fatalf("POST %s?%s %q (chunked %v) = %d %s, want %d %s", path, seenQuery, body, chunked, code, resp, want.code, v1Err(want))
			}
		} else if code != 200 || resp != "OK" {
			t.Fatalf("POST %s?%s %q (chunked %v) = %d %s, want 200 OK", path, seenQuery, body, chunked, code, resp)
		}
		if topic == "" {
			return
		}
		tp, err := n.GetExistingTopic(topic)
		if errors.Is(err, core.ErrTopicNotFound) {
			if count > 0 {
				t.Fatalf("topic %q missing after publishing %d", topic, count)
			}
			return
		}
		if got := tp.MessageCount.Load() - before; got != uint64(count) && want == nil {
			t.Fatalf("POST %s?%s %q published %d messages, want %d", path, seenQuery, body, got, count)
		} else if want != nil && got != 0 {
			t.Fatalf("POST %s?%s %q was refused but published %d", path, seenQuery, body, got)
		}
		n.DeleteExistingTopic(topic) // keeps memory flat across executions
	})
}

// chunkedPost sends one POST with a chunked body (chunks of up to 100
// bytes) over ln and returns the answer.
func chunkedPost(t *testing.T, ln *fasthttputil.InmemoryListener, target string, body []byte) (int, string) {
	c, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := []byte("POST " + target + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 100)
		req = fmt.Appendf(req, "%x\r\n%s\r\n", n, rest[:n])
		rest = rest[n:]
	}
	req = append(req, "0\r\n\r\n"...)
	go c.Write(req) // the server may answer before it has read everything
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fuzzDataPath is a fresh --data-path, on tmpfs when there is one: every
// execution creates topics, and each opens its disk queue's directory.
func fuzzDataPath(tb testing.TB) string {
	dir, err := os.MkdirTemp("/dev/shm", "nsqreactor-fuzz")
	if err != nil {
		return tb.TempDir()
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
