package bench

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Answers to the http-pub client (httploop.go). Go's http.ReadResponse allocates a Response, a
// header map and its strings, and a body reader per answer; at ~40k answers/s that cost the
// harness about as much CPU per request as our daemon spent serving it, on the same two cores.
// parseAnswer reads the status line, Content-Length, Connection and the body in place, with no
// allocation.

// maxAnswer bounds one answer, header and body.
const maxAnswer = 16 << 10

// errAnswerTooLarge is an answer whose header or body does not fit the client's buffer.
var errAnswerTooLarge = errors.New("bench: http answer over 16 KiB")

// httpAnswer is one parsed answer.
type httpAnswer struct {
	status int
	body   []byte
	close  bool // "Connection: close"
}

// parseAnswer parses the answer at the start of b: n is its length, or 0 when b does not hold
// all of it yet. The answer must carry a Content-Length (both daemons send one for their short
// bodies); anything else it cannot parse is an error, never a guess. body aliases b.
func parseAnswer(b []byte) (a httpAnswer, n int, err error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) >= maxAnswer {
			return a, 0, errAnswerTooLarge
		}
		return a, 0, nil
	}
	line, rest, _ := bytes.Cut(b[:end], crlf)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return a, 0, fmt.Errorf("bench: bad status line %q", line)
	}
	a.status = atoiDigits(line[9:12])
	clen := -1
	for len(rest) > 0 {
		var field []byte
		field, rest, _ = bytes.Cut(rest, crlf)
		name, value, ok := bytes.Cut(field, []byte(":"))
		if !ok {
			return a, 0, fmt.Errorf("bench: bad header field %q", field)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			clen = atoiDigits(value)
		case bytes.EqualFold(name, []byte("Connection")):
			a.close = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return a, 0, fmt.Errorf("bench: answer with Transfer-Encoding %q", value)
		}
	}
	if clen < 0 {
		return a, 0, errors.New("bench: answer without a valid Content-Length")
	}
	bodyStart := end + len(crlfcrlf)
	total := bodyStart + clen
	if total > maxAnswer {
		return a, 0, errAnswerTooLarge
	}
	if len(b) < total {
		return a, 0, nil
	}
	a.body = b[bodyStart:total]
	return a, total, nil
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
