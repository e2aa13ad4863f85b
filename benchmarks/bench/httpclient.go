package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The http-pub client. Both daemons are measured by this same client, so what it costs is not a
// difference between them, but it shares the machine's two cores with the daemon: every µs it
// spends per request is a µs the daemon under test cannot use. Go's http.ReadResponse allocates a
// Response, a header map and its strings, and a body reader per answer; at ~40k requests/s that
// was as much harness CPU per request as our daemon's. This client sends fixed request bytes and
// parses the answer in place: one request in flight per connection (no pipelining), keep-alive,
// no allocation per request.

// errAnswerTooLarge is an answer whose header or body does not fit the client's buffer.
var errAnswerTooLarge = errors.New("bench: http answer over 16 KiB")

// httpAnswerReader reads HTTP/1.1 answers from one connection into a fixed buffer.
type httpAnswerReader struct {
	r   io.Reader
	buf []byte
	n   int // bytes in buf
}

func newHTTPAnswerReader(r io.Reader) *httpAnswerReader {
	return &httpAnswerReader{r: r, buf: make([]byte, 16<<10)}
}

// httpAnswer is one parsed answer; body aliases the reader's buffer until the next readAnswer.
type httpAnswer struct {
	status int
	body   []byte
	close  bool // "Connection: close"
}

// readAnswer reads one answer, which must carry a Content-Length (both daemons send one for
// their short bodies); anything it cannot parse is an error, never a guess.
func (h *httpAnswerReader) readAnswer() (httpAnswer, error) {
	var a httpAnswer
	end := -1
	for {
		if end = bytes.Index(h.buf[:h.n], crlfcrlf); end >= 0 {
			break
		}
		if err := h.fill(); err != nil {
			return a, err
		}
	}
	head := h.buf[:end]
	line, rest, _ := bytes.Cut(head, crlf)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return a, fmt.Errorf("bench: bad status line %q", line)
	}
	a.status = atoiDigits(line[9:12])
	clen := -1
	for len(rest) > 0 {
		var field []byte
		field, rest, _ = bytes.Cut(rest, crlf)
		name, value, ok := bytes.Cut(field, []byte(":"))
		if !ok {
			return a, fmt.Errorf("bench: bad header field %q", field)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			clen = atoiDigits(value)
		case bytes.EqualFold(name, []byte("Connection")):
			a.close = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return a, fmt.Errorf("bench: answer with Transfer-Encoding %q", value)
		}
	}
	if clen < 0 {
		return a, errors.New("bench: answer without a valid Content-Length")
	}
	bodyStart := end + len(crlfcrlf)
	total := bodyStart + clen
	if total > len(h.buf) {
		return a, errAnswerTooLarge
	}
	for h.n < total {
		if err := h.fill(); err != nil {
			return a, err
		}
	}
	a.body = h.buf[bodyStart:total]
	// one request in flight: nothing should follow the answer, but keep whatever does
	h.n = copy(h.buf, h.buf[total:h.n])
	return a, nil
}

// fill reads more bytes into the buffer.
func (h *httpAnswerReader) fill() error {
	if h.n == len(h.buf) {
		return errAnswerTooLarge
	}
	m, err := h.r.Read(h.buf[h.n:])
	h.n += m
	if m > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// atoiDigits parses a non-empty run of decimal digits (at most 9); -1 for anything else.
func atoiDigits(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// checkPubAnswer is what every http-pub answer must be: 200 "OK" on a kept connection.
func checkPubAnswer(a httpAnswer) error {
	if a.status != 200 || string(bytes.TrimSpace(a.body)) != "OK" {
		return fmt.Errorf("answer %s %q", strconv.Itoa(a.status), a.body)
	}
	if a.close {
		return errors.New("daemon closed the keep-alive connection")
	}
	return nil
}
