package httpfast

import (
	"net/url"
	"strconv"
	"testing"
)

var queries = []string{
	"", "topic=a", "topic=a&defer=5", "topic=a&topic=b", "topic=&x", "topic", "&&topic=a&&", "a=1;b=2", "topic=a%zz",
	"topic=%7", "topic=%", "topic=a+b%20c%2B", "%74opic=x", "topic=a=b", "=x&topic=y", "x=%zz&topic=ok", "topic=%e2%98%83",
	"a;b", "topic=a&b=%", "+=+", "topic=%41%4a%4A",
}

// queryArgs must agree with url.ParseQuery on validity and on the first
// value of every key.
func checkQuery(t *testing.T, raw string) {
	t.Helper()
	want, wantErr := url.ParseQuery(raw)
	q := acquireQuery([]byte(raw))
	defer releaseQuery(q)
	if (wantErr != nil) != (q.err != "") {
		t.Fatalf("%q: err %q, url.ParseQuery err %v", raw, q.err, wantErr)
	}
	if wantErr != nil {
		if q.err != wantErr.Error() {
			t.Errorf("%q: err %q, want %q", raw, q.err, wantErr.Error())
		}
		return
	}
	for k, vs := range want {
		if got, ok := q.getString(k); !ok || got != vs[0] {
			t.Errorf("%q: get(%q) = %q, %v; want %q", raw, k, got, ok, vs[0])
		}
	}
	for _, p := range q.params {
		if _, ok := want[string(q.buf[p.keyStart:p.keyEnd])]; !ok {
			t.Errorf("%q: extra key %q", raw, q.buf[p.keyStart:p.keyEnd])
		}
	}
}

func TestQueryMatchesParseQuery(t *testing.T) {
	for _, raw := range queries {
		checkQuery(t, raw)
	}
}

func FuzzQuery(f *testing.F) {
	for _, raw := range queries {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkQuery(t, raw) })
}

func TestParseInt64MatchesStrconv(t *testing.T) {
	for _, s := range []string{"", "0", "-0", "+0", "1", "-1", "+5", " 5", "5 ", "1e3", "0x10", "1_000", "007",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"99999999999999999999", "18446744073709551616", "-", "+", "--1", "12a"} {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseInt64([]byte(s))
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseInt64(%q) = %d, %v; strconv: %d, %v", s, got, ok, want, err)
		}
	}
}
