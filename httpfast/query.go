package httpfast

import (
	"bytes"
	"strconv"
	"sync"
)

// queryArgs is a URL query parsed with net/url.ParseQuery's rules, which is
// what upstream's handlers use (http_api.NewReqParams):
//
//   - pairs are separated by '&'; empty pairs are skipped;
//   - a pair containing ';' is an error ("invalid semicolon separator in
//     query"), as since Go 1.17;
//   - key and value are unescaped as query components: '+' is a space and a
//     '%' must be followed by two hex digits (`invalid URL escape "%zz"`);
//   - any error makes the whole query invalid (upstream answers 400
//     INVALID_REQUEST), even though the other pairs parse;
//   - a repeated key keeps its first value.
//
// Unlike url.ParseQuery it does not allocate in steady state: the unescaped
// bytes live in one buffer that is reused through a pool. A queryArgs and
// the slices it returns belong to one request and are valid until
// releaseQuery.
type queryArgs struct {
	buf    []byte // unescaped keys and values; never reallocated during parse
	params []queryParam
	err    string // "" when the query is valid; url's error text otherwise
}

// queryParam is one key=value pair, as offsets into queryArgs.buf.
type queryParam struct {
	keyStart, keyEnd, valueEnd int
}

var queryPool = sync.Pool{New: func() any { return new(queryArgs) }}

// acquireQuery parses raw (the query string without '?') into a pooled
// queryArgs. Return it with releaseQuery.
func acquireQuery(raw []byte) *queryArgs {
	q := queryPool.Get().(*queryArgs)
	q.parse(raw)
	return q
}

// releaseQuery returns q to the pool; q and every slice it returned must not
// be used afterwards.
func releaseQuery(q *queryArgs) {
	if cap(q.buf) > 64*1024 {
		q.buf = nil // do not let one huge query pin memory in the pool
	}
	queryPool.Put(q)
}

func (q *queryArgs) parse(raw []byte) {
	// Unescaping never makes a pair longer, so a buffer of len(raw) is never
	// reallocated and the offsets stay valid.
	if cap(q.buf) < len(raw) {
		q.buf = make([]byte, 0, len(raw))
	}
	q.buf = q.buf[:0]
	q.params = q.params[:0]
	q.err = ""
	for len(raw) > 0 {
		pair := raw
		if i := bytes.IndexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if bytes.IndexByte(pair, ';') >= 0 {
			// url.ParseQuery lets this error replace an earlier one
			q.err = "invalid semicolon separator in query"
			continue
		}
		if len(pair) == 0 {
			continue
		}
		key, value := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			key, value = pair[:i], pair[i+1:]
		}
		start := len(q.buf)
		var ok bool
		if q.buf, ok = q.unescape(q.buf, key); !ok {
			q.buf = q.buf[:start]
			continue
		}
		keyEnd := len(q.buf)
		if q.buf, ok = q.unescape(q.buf, value); !ok {
			q.buf = q.buf[:start]
			continue
		}
		q.params = append(q.params, queryParam{start, keyEnd, len(q.buf)})
	}
}

// unescape appends s decoded as a query component to dst. On a bad escape it
// records url.EscapeError's text and returns false.
func (q *queryArgs) unescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				bad := s[i:]
				if len(bad) > 3 {
					bad = bad[:3]
				}
				q.fail("invalid URL escape " + strconv.Quote(string(bad))) // url.EscapeError's text
				return dst, false
			}
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}

// fail records an escape error unless an error is already recorded, as
// url.ParseQuery does.
func (q *queryArgs) fail(msg string) {
	if q.err == "" {
		q.err = msg
	}
}

// get returns the first value of key and whether key is present. The slice
// is valid until releaseQuery.
func (q *queryArgs) get(key string) ([]byte, bool) {
	for _, p := range q.params {
		if string(q.buf[p.keyStart:p.keyEnd]) == key {
			return q.buf[p.keyEnd:p.valueEnd], true
		}
	}
	return nil, false
}

// getString is get for callers that need a string (it allocates unless the
// value is empty).
func (q *queryArgs) getString(key string) (string, bool) {
	v, ok := q.get(key)
	return string(v), ok
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
