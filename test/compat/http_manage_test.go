package compat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// manageCase is one management request and its expected V1 answer: an
// empty 200 when code is "".
type manageCase struct {
	target string
	status int
	code   string
}

func runManageCases(t *testing.T, d *testutil.Daemon, cases []manageCase) {
	t.Helper()
	for _, tc := range cases {
		r := httpDo(t, d.HTTPAddr, req{Method: "POST", Target: tc.target, Body: "ignored body"})
		if tc.code == "" {
			expectV1(t, tc.target, r, "", "")
		} else {
			expectV1Error(t, tc.target, r, tc.status, tc.code)
		}
	}
}

// Spec §5.7: errors of the topic endpoints, in upstream's order; note that
// delete, pause and unpause do not validate the name (404 for "bad!").
func TestHTTPTopicErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		var cases []manageCase
		for _, op := range []string{"create", "delete", "empty", "pause", "unpause"} {
			cases = append(cases,
				manageCase{"/topic/" + op + "?topic=%zz", 400, "INVALID_REQUEST"},
				manageCase{"/topic/" + op + "?topic=a;b", 400, "INVALID_REQUEST"},
				manageCase{"/topic/" + op, 400, "MISSING_ARG_TOPIC"},
				manageCase{"/topic/" + op + "?channel=c", 400, "MISSING_ARG_TOPIC"},
			)
		}
		cases = append(cases,
			manageCase{"/topic/create?topic=bad!", 400, "INVALID_TOPIC"},
			manageCase{"/topic/create?topic=", 400, "INVALID_TOPIC"},
			manageCase{"/topic/empty?topic=bad!", 400, "INVALID_TOPIC"},
			manageCase{"/topic/empty?topic=", 400, "INVALID_TOPIC"},
			manageCase{"/topic/delete?topic=bad!", 404, "TOPIC_NOT_FOUND"},
			manageCase{"/topic/delete?topic=", 404, "TOPIC_NOT_FOUND"},
			manageCase{"/topic/pause?topic=bad!", 404, "TOPIC_NOT_FOUND"},
			manageCase{"/topic/unpause?topic=bad!", 404, "TOPIC_NOT_FOUND"},
			manageCase{"/topic/delete?topic=nope", 404, "TOPIC_NOT_FOUND"},
			manageCase{"/topic/empty?topic=nope", 404, "TOPIC_NOT_FOUND"},
			manageCase{"/topic/pause?topic=nope", 404, "TOPIC_NOT_FOUND"},
			manageCase{"/topic/unpause?topic=nope", 404, "TOPIC_NOT_FOUND"},
		)
		runManageCases(t, d, cases)
	})
}

// Spec §5.7: errors of the channel endpoints: INVALID_ARG_* spellings, the
// topic must exist (create does not create it), the channel must exist for
// everything but create.
func TestHTTPChannelErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		runManageCases(t, d, []manageCase{{"/topic/create?topic=ct", 200, ""}})
		var cases []manageCase
		for _, op := range []string{"create", "delete", "empty", "pause", "unpause"} {
			p := "/channel/" + op
			cases = append(cases,
				manageCase{p + "?topic=ct&channel=%zz", 400, "INVALID_REQUEST"},
				manageCase{p, 400, "MISSING_ARG_TOPIC"},
				manageCase{p + "?channel=c", 400, "MISSING_ARG_TOPIC"},
				manageCase{p + "?topic=bad!&channel=c", 400, "INVALID_ARG_TOPIC"},
				manageCase{p + "?topic=bad!", 400, "INVALID_ARG_TOPIC"},
				manageCase{p + "?topic=", 400, "INVALID_ARG_TOPIC"},
				manageCase{p + "?topic=ct", 400, "MISSING_ARG_CHANNEL"},
				manageCase{p + "?topic=nope", 400, "MISSING_ARG_CHANNEL"},
				manageCase{p + "?topic=ct&channel=bad!", 400, "INVALID_ARG_CHANNEL"},
				manageCase{p + "?topic=ct&channel=", 400, "INVALID_ARG_CHANNEL"},
				manageCase{p + "?topic=nope&channel=c", 404, "TOPIC_NOT_FOUND"},
			)
			if op != "create" {
				cases = append(cases, manageCase{p + "?topic=ct&channel=nope", 404, "CHANNEL_NOT_FOUND"})
			}
		}
		runManageCases(t, d, cases)
		if r := get(t, d.HTTPAddr, "/stats?format=json&topic=nope"); !strings.Contains(r.Body, `"topics":null`) {
			t.Errorf("/channel/create created the topic: %s", r.Body)
		}
	})
}

// Spec §5.7: what the management endpoints do, seen through /stats and a
// subscriber.
func TestHTTPManageEffects(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		addr := d.HTTPAddr
		stats := func() string { return get(t, addr, "/stats?format=json&include_mem=false").Body }
		expectStats := func(what string, want ...string) {
			t.Helper()
			waitFor(t, what, func() bool {
				s := stats()
				for _, w := range want {
					if !strings.Contains(s, w) {
						return false
					}
				}
				return true
			})
		}

		runManageCases(t, d, []manageCase{
			{"/topic/create?topic=me", 200, ""},
			{"/topic/create?topic=me", 200, ""}, // idempotent
			{"/channel/create?topic=me&channel=c1", 200, ""},
			{"/channel/create?topic=me&channel=c1", 200, ""},
			{"/channel/create?topic=me&channel=c2", 200, ""},
		})
		expectStats("channels", `"channel_name":"c1"`, `"channel_name":"c2"`)

		// topic pause: messages wait in the topic
		runManageCases(t, d, []manageCase{{"/topic/pause?topic=me", 200, ""}})
		post(t, addr, "/pub?topic=me", "m1")
		expectStats("topic paused with depth 1", `"depth":1,"backend_depth":0,"message_count":1,"message_bytes":2,"paused":true`)
		runManageCases(t, d, []manageCase{{"/topic/unpause?topic=me", 200, ""}})
		expectStats("topic unpaused, channels got the message",
			`"depth":0,"backend_depth":0,"message_count":1,"message_bytes":2,"paused":false`,
			`{"channel_name":"c1","depth":1,`, `{"channel_name":"c2","depth":1,`)

		// pause and unpause are in nsqd.dat as soon as they are answered
		runManageCases(t, d, []manageCase{{"/topic/pause?topic=me", 200, ""}, {"/channel/pause?topic=me&channel=c2", 200, ""}})
		if dat, _ := os.ReadFile(filepath.Join(d.DataPath, "nsqd.dat")); !strings.Contains(string(dat), `{"name":"c2","paused":true}`) ||
			!strings.Contains(string(dat), `{"name":"me","paused":true,"channels":`) {
			t.Errorf("nsqd.dat after pause: %s", dat)
		}
		runManageCases(t, d, []manageCase{{"/topic/unpause?topic=me", 200, ""}, {"/channel/unpause?topic=me&channel=c2", 200, ""}})
		if dat, _ := os.ReadFile(filepath.Join(d.DataPath, "nsqd.dat")); strings.Contains(string(dat), `"paused":true`) {
			t.Errorf("nsqd.dat after unpause: %s", dat)
		}

		// channel empty and delete
		runManageCases(t, d, []manageCase{{"/channel/empty?topic=me&channel=c1", 200, ""}})
		expectStats("c1 emptied", `{"channel_name":"c1","depth":0,`, `{"channel_name":"c2","depth":1,`)
		runManageCases(t, d, []manageCase{{"/channel/delete?topic=me&channel=c2", 200, ""}})
		waitFor(t, "c2 deleted", func() bool { return !strings.Contains(stats(), `"channel_name":"c2"`) })

		// channel pause: nothing delivered until unpause
		sub := subscriber(t, d, "", "me", "c1")
		sub.Rdy(t, 10)
		runManageCases(t, d, []manageCase{{"/channel/pause?topic=me&channel=c1", 200, ""}})
		expectStats("c1 paused", `"paused":true`)
		post(t, addr, "/pub?topic=me", "m2")
		sub.ExpectNoFrame(t, 200*time.Millisecond)
		runManageCases(t, d, []manageCase{{"/channel/unpause?topic=me&channel=c1", 200, ""}})
		if m := sub.ExpectMessage(t); string(m.Body) != "m2" {
			t.Fatalf("got %q after unpause, want m2", m.Body)
		}

		// topic empty: drops what waits in the topic (no channel → it waits)
		runManageCases(t, d, []manageCase{{"/topic/create?topic=me2", 200, ""}})
		post(t, addr, "/pub?topic=me2", "x")
		expectStats("me2 depth 1", `"topic_name":"me2","channels":[],"depth":1,`)
		runManageCases(t, d, []manageCase{{"/topic/empty?topic=me2", 200, ""}})
		expectStats("me2 emptied", `"topic_name":"me2","channels":[],"depth":0,`)

		// topic delete
		runManageCases(t, d, []manageCase{{"/topic/delete?topic=me2", 200, ""}})
		waitFor(t, "me2 deleted", func() bool { return !strings.Contains(stats(), `"topic_name":"me2"`) })
		runManageCases(t, d, []manageCase{{"/topic/delete?topic=me2", 404, "TOPIC_NOT_FOUND"}})
	})
}
