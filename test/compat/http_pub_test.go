package compat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Small limits make every size boundary cheap to hit.
var smallLimits = []string{"--max-msg-size=10", "--max-body-size=30", "--max-req-timeout=1h"}

// httpCase is one request and the V1 answer it must get: "OK" for success,
// otherwise the status and error code.
type httpCase struct {
	name   string
	req    req
	status int
	code   string // error code, or "" for 200 OK
}

func runHTTPCases(t *testing.T, d *testutil.Daemon, cases []httpCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httpDo(t, d.HTTPAddr, tc.req)
			if tc.code == "" {
				expectV1(t, tc.req.Target, r, "OK", "text/plain; charset=utf-8")
			} else {
				expectV1Error(t, tc.req.Target, r, tc.status, tc.code)
			}
		})
	}
}

func postReq(target, body string) req { return req{Method: "POST", Target: target, Body: body} }

func chunkedReq(target, body string) req {
	return req{Method: "POST", Target: target, Body: body, Chunked: true}
}

// Spec §5.4: POST /pub status codes and their order of checks.
func TestHTTPPubErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, smallLimits...)
		runHTTPCases(t, d, []httpCase{
			{"ok", postReq("/pub?topic=p", "0123456789"), 200, ""},
			{"chunked ok", chunkedReq("/pub?topic=p", "0123456789"), 200, ""},
			{"too big", postReq("/pub?topic=p", "0123456789a"), 413, "MSG_TOO_BIG"},
			{"chunked too big", chunkedReq("/pub?topic=p", "0123456789a"), 413, "MSG_TOO_BIG"},
			{"too big before topic", postReq("/pub", "0123456789a"), 413, "MSG_TOO_BIG"},
			{"empty", postReq("/pub?topic=p", ""), 400, "MSG_EMPTY"},
			{"empty before topic", postReq("/pub?topic=bad!", ""), 400, "MSG_EMPTY"},
			{"no topic", postReq("/pub", "x"), 400, "MISSING_ARG_TOPIC"},
			{"empty topic", postReq("/pub?topic=", "x"), 400, "INVALID_TOPIC"},
			{"invalid topic", postReq("/pub?topic=bad!", "x"), 400, "INVALID_TOPIC"},
			{"topic too long", postReq("/pub?topic="+strings.Repeat("a", 65), "x"), 400, "INVALID_TOPIC"},
			{"first topic wins", postReq("/pub?topic=p&topic=bad!", "x"), 200, ""},
			{"first topic wins bad", postReq("/pub?topic=bad!&topic=p", "x"), 400, "INVALID_TOPIC"},
			{"bad escape", postReq("/pub?topic=a%zz", "x"), 400, "INVALID_REQUEST"},
			{"semicolon", postReq("/pub?topic=a;b", "x"), 400, "INVALID_REQUEST"},
			{"bad escape elsewhere", postReq("/pub?topic=p&x=%", "x"), 400, "INVALID_REQUEST"},
			{"escaped topic", postReq("/pub?topic=%70", "x"), 200, ""},
			{"defer 0", postReq("/pub?topic=p&defer=0", "x"), 200, ""},
			{"defer max", postReq("/pub?topic=p&defer=3600000", "x"), 200, ""},
			{"defer escaped plus", postReq("/pub?topic=p&defer=%2B5", "x"), 200, ""},
			{"defer over max", postReq("/pub?topic=p&defer=3600001", "x"), 400, "INVALID_DEFER"},
			{"defer negative", postReq("/pub?topic=p&defer=-1", "x"), 400, "INVALID_DEFER"},
			{"defer text", postReq("/pub?topic=p&defer=abc", "x"), 400, "INVALID_DEFER"},
			{"defer empty", postReq("/pub?topic=p&defer=", "x"), 400, "INVALID_DEFER"},
			{"defer plus is space", postReq("/pub?topic=p&defer=+5", "x"), 400, "INVALID_DEFER"},
			{"defer overflow", postReq("/pub?topic=p&defer=9223372036854775807", "x"), 400, "INVALID_DEFER"},
			{"defer huge", postReq("/pub?topic=p&defer=99999999999999999999", "x"), 400, "INVALID_DEFER"},
		})
	})
}

// Spec §5.4: /pub with a Content-Length over --max-msg-size is refused
// from the headers alone: the answer comes while most of the body is still
// unsent.
func TestHTTPPubOversizedContentLength(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, smallLimits...)
		for _, tc := range []struct{ target, code string }{
			{"/pub?topic=p", "MSG_TOO_BIG"},
			{"/mpub?topic=p", "BODY_TOO_BIG"},
		} {
			r := httpDo(t, d.HTTPAddr, req{Method: "POST", Target: tc.target,
				Headers: []string{"Content-Length: 100000000"}, Body: "partial"})
			expectV1Error(t, tc.target, r, 413, tc.code)
		}
		// Go's client writing a large body gets the 413, not a reset: with
		// "Expect: 100-continue" the server answers before the body is sent;
		// without it the server must close lingering (as net/http does),
		// not reset the connection while the client is still writing.
		for _, expect := range []bool{false, true} {
			for i := range 5 {
				rq, _ := http.NewRequest("POST", "http://"+d.HTTPAddr+"/pub?topic=p", bytes.NewReader(make([]byte, 4<<20)))
				if expect {
					rq.Header.Set("Expect", "100-continue")
				}
				client := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
				resp, err := client.Do(rq)
				if err != nil {
					t.Fatalf("4 MiB body (Expect %v, try %d): %v", expect, i, err)
				}
				resp.Body.Close()
				if resp.StatusCode != 413 {
					t.Errorf("4 MiB body (Expect %v, try %d): got %d, want 413", expect, i, resp.StatusCode)
				}
			}
		}
	})
}

// Spec §5.4: the published message is the whole body, byte for byte
// (no newline stripping); a deferred one waits in the channel's deferred
// set; the topic is created even when defer is then refused.
func TestHTTPPubDelivery(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		sub := subscriber(t, d, "", "pubd", "c")
		sub.Rdy(t, 10)
		for _, body := range []string{"hello", "a\n", "\r\n", "x y\x00z"} {
			if r := post(t, d.HTTPAddr, "/pub?topic=pubd", body); r.Status != 200 {
				t.Fatalf("/pub %q: %d %s", body, r.Status, r.Body)
			}
			if m := sub.ExpectMessage(t); string(m.Body) != body {
				t.Fatalf("got %q, want %q", m.Body, body)
			}
		}
		if r := post(t, d.HTTPAddr, "/pub?topic=pubd&defer=60000", "later"); r.Status != 200 {
			t.Fatalf("/pub defer: %d %s", r.Status, r.Body)
		}
		sub.ExpectNoFrame(t, 200*time.Millisecond)
		waitFor(t, "deferred_count 1", func() bool {
			return strings.Contains(get(t, d.HTTPAddr, "/stats?format=json&topic=pubd").Body, `"deferred_count":1,`)
		})

		post(t, d.HTTPAddr, "/pub?topic=created_anyway&defer=abc", "x")
		if r := get(t, d.HTTPAddr, "/stats?format=json&topic=created_anyway&include_mem=false"); !strings.Contains(r.Body, `"topic_name":"created_anyway"`) {
			t.Errorf("topic not created by a /pub with a bad defer: %s", r.Body)
		}
	})
}

// mpubBinary builds a binary /mpub body with the given count and bodies.
func mpubBinary(count int32, bodies ...string) string {
	b := binary.BigEndian.AppendUint32(nil, uint32(count))
	for _, m := range bodies {
		b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
		b = append(b, m...)
	}
	return string(b)
}

// Spec §5.5: POST /mpub status codes, text and binary mode.
func TestHTTPMpubErrors(t *testing.T) {
	line10 := "0123456789"
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, smallLimits...)
		runHTTPCases(t, d, []httpCase{
			{"text ok", postReq("/mpub?topic=m", "a\nb\n\nc"), 200, ""},
			{"text empty", postReq("/mpub?topic=m", ""), 200, ""},
			{"text exactly max", postReq("/mpub?topic=m", line10+"\n"+line10+"\n"+line10[:8]), 200, ""},
			{"text over max", postReq("/mpub?topic=m", line10+"\n"+line10+"\n"+line10[:9]), 413, "BODY_TOO_BIG"},
			{"text line too big", postReq("/mpub?topic=m", line10+"a\nb"), 413, "MSG_TOO_BIG"},
			{"chunked exactly max", chunkedReq("/mpub?topic=m", line10+"\n"+line10+"\n"+line10[:8]), 200, ""},
			{"chunked over max", chunkedReq("/mpub?topic=m", line10+"\n"+line10+"\n"+line10[:9]), 413, "BODY_TOO_BIG"},
			{"chunked long line first", chunkedReq("/mpub?topic=m", line10+"\n"+line10+"a\n"+line10+"0123"), 413, "MSG_TOO_BIG"},
			{"over max before topic", postReq("/mpub?topic=bad!", line10+"\n"+line10+"\n"+line10), 413, "BODY_TOO_BIG"},
			{"no topic", postReq("/mpub", "a"), 400, "MISSING_ARG_TOPIC"},
			{"invalid topic", postReq("/mpub?topic=bad!", "a"), 400, "INVALID_TOPIC"},
			{"bad query", postReq("/mpub?topic=m&binary=%z", "a"), 400, "INVALID_REQUEST"},
			{"binary ok", postReq("/mpub?topic=m&binary=true", mpubBinary(2, "ab", "c")), 200, ""},
			{"binary 1", postReq("/mpub?topic=m&binary=1", mpubBinary(1, "ab")), 200, ""},
			{"binary t", postReq("/mpub?topic=m&binary=t", mpubBinary(1, "ab")), 200, ""},
			{"binary trailing bytes ignored", postReq("/mpub?topic=m&binary=true", mpubBinary(1, "hi")+"XXXX"), 200, ""},
			{"binary truncated", postReq("/mpub?topic=m&binary=true", mpubBinary(1, "hi")[:9]), 413, "BAD_MESSAGE"},
			{"binary count 0", postReq("/mpub?topic=m&binary=true", mpubBinary(0)), 413, "BAD_BODY"},
			{"binary count over limit", postReq("/mpub?topic=m&binary=true", mpubBinary(6, "a")), 413, "BAD_BODY"},
			{"binary count negative", postReq("/mpub?topic=m&binary=true", mpubBinary(-1, "a")), 413, "BAD_BODY"},
			{"binary empty", postReq("/mpub?topic=m&binary=true", ""), 413, "BAD_BODY"},
			{"binary short count", postReq("/mpub?topic=m&binary=true", "\x00\x00"), 413, "BAD_BODY"},
			{"binary message too big", postReq("/mpub?topic=m&binary=true", mpubBinary(1, line10+"a")), 413, "BAD_MESSAGE"},
			{"binary message empty", postReq("/mpub?topic=m&binary=true", mpubBinary(1, "")), 413, "BAD_MESSAGE"},
			{"binary unknown value means binary", postReq("/mpub?topic=m&binary=yes", "ab"), 413, "BAD_BODY"},
			{"binary false is text", postReq("/mpub?topic=m&binary=false", "ab"), 200, ""},
			{"binary F is binary", postReq("/mpub?topic=m&binary=F", "ab"), 413, "BAD_BODY"},
			{"binary 0 empty", postReq("/mpub?topic=m&binary=0", ""), 200, ""},
		})
	})
}

// Spec §5.5: what /mpub publishes: text lines without their '\n' (a '\r'
// stays, empty lines are skipped), binary messages in order; the topic is
// created before the body is validated.
func TestHTTPMpubDelivery(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		sub := subscriber(t, d, "", "mpubd", "c")
		sub.Rdy(t, 100)
		check := func(target, body string, want ...string) {
			t.Helper()
			if r := post(t, d.HTTPAddr, target, body); r.Status != 200 {
				t.Fatalf("%s: %d %s", target, r.Status, r.Body)
			}
			for _, w := range want {
				if m := sub.ExpectMessage(t); string(m.Body) != w {
					t.Fatalf("%s: got %q, want %q", target, m.Body, w)
				}
			}
		}
		check("/mpub?topic=mpubd", "a\nb\r\n\n\nc\n", "a", "b\r", "c")
		check("/mpub?topic=mpubd&binary=true", mpubBinary(2, "x\ny", "z"), "x\ny", "z")
		check("/mpub?topic=mpubd&binary=true", mpubBinary(1, "only")+"ignored", "only")
		sub.ExpectNoFrame(t, 100*time.Millisecond)

		post(t, d.HTTPAddr, "/mpub?topic=mpub_created&binary=true", "junk")
		if r := get(t, d.HTTPAddr, "/stats?format=json&topic=mpub_created&include_mem=false"); !strings.Contains(r.Body, `"topic_name":"mpub_created"`) {
			t.Errorf("topic not created by a failed /mpub: %s", r.Body)
		}
	})
}

// A keep-alive connection keeps working after refused and accepted
// publishes (the unread rest of a refused body must not be parsed as a
// request).
func TestHTTPPubKeepAlive(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, smallLimits...)
		client := &http.Client{Timeout: httpTimeout}
		for i, tc := range []struct {
			body   string
			status int
		}{{"ok", 200}, {strings.Repeat("x", 1000), 413}, {"ok", 200}, {"", 400}, {"ok", 200}} {
			resp, err := client.Post("http://"+d.HTTPAddr+"/pub?topic=ka", "text/plain", strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("request %d (%d bytes): got %d, want %d", i, len(tc.body), resp.StatusCode, tc.status)
			}
		}
		if got := statsJSON(t, d, "&topic=ka")["topics"]; fmt.Sprint(got) == "" {
			t.Fatal("no stats")
		}
	})
}

// HTTP publishes through the disk queue with an fsync per write
// (--mem-queue-size=0 --sync-every=1) are answered OK and delivered.
func TestHTTPPubSynced(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--mem-queue-size=0", "--sync-every=1")
		sub := subscriber(t, d, "", "synced", "c")
		sub.Rdy(t, 10)
		for _, r := range []httpResult{
			post(t, d.HTTPAddr, "/pub?topic=synced", "one"),
			post(t, d.HTTPAddr, "/mpub?topic=synced", "two\nthree"),
			post(t, d.HTTPAddr, "/mpub?topic=synced&binary=true", mpubBinary(1, "four")),
		} {
			if r.Status != 200 || r.Body != "OK" {
				t.Fatalf("got %d %q", r.Status, r.Body)
			}
		}
		var got []string
		for range 4 {
			got = append(got, string(sub.ExpectMessage(t).Body))
		}
		if strings.Join(got, ",") != "one,two,three,four" {
			t.Errorf("received %q", got)
		}
	})
}
