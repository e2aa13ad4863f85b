package loop

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// authHarness is a server whose auth server answers grant after delay and
// counts its queries.
func authHarness(t *testing.T, grant string, delay time.Duration) (*harness, *atomic.Int32) {
	t.Helper()
	var queries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries.Add(1)
		time.Sleep(delay)
		io.WriteString(w, grant)
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, func(o *core.Options) {
		o.AuthHTTPAddresses = []string{strings.TrimPrefix(srv.URL, "http://")}
	})
	return h, &queries
}

const testGrant = `{"ttl":60,"identity":"id","identity_url":"u","authorizations":[{"topic":"^ok","channels":[".*"],"permissions":["publish","subscribe"]}]}`

// AUTH pauses the connection without blocking the loop: the commands after
// it wait (unparsed) until the answer arrives, then run in order; the
// connection returns to the fast path.
func TestAuthPausesAndResumes(t *testing.T) {
	h, queries := authHarness(t, testGrant, 100*time.Millisecond)
	cl := h.open()
	in := append([]byte(codec.Magic), command("AUTH", "secret")...)
	in = append(in, command("PUB ok_t", "one")...)
	in = append(in, command("PUB ok_t", "two")...)
	cl.send(in)
	if out := cl.take(); len(out) != 0 {
		t.Fatalf("wrote %q before the auth server answered", out)
	}
	if x := cl.c.ext; x == nil || x.wait != waitAuth || len(cl.fc.in) == 0 {
		t.Fatalf("ext %+v, %d bytes buffered: want a paused connection holding the AUTH", x, len(cl.fc.in))
	}
	cl.settle(5 * time.Second)
	frames := splitFrames(t, cl.take())
	want := []string{`{"identity":"id","identity_url":"u","permission_count":1}`, "OK", "OK"}
	if len(frames) != len(want) {
		t.Fatalf("got %q, want %q", frames, want)
	}
	for i, f := range frames {
		if string(f[8:]) != want[i] {
			t.Fatalf("frame %d %q, want %q", i, f[8:], want[i])
		}
	}
	if cl.c.ext != nil || queries.Load() != 1 {
		t.Fatalf("ext %+v after the answer, %d queries; want the fast path and 1 query", cl.c.ext, queries.Load())
	}
	if s := cl.c.Stats(""); !s.Authed || s.AuthIdentity != "id" || s.AuthIdentityURL != "u" {
		t.Fatalf("stats %+v", s)
	}

	// expired authorizations: the next PUB re-queries, paused the same way
	cl.c.auth.state.Expires = time.Now().Add(-time.Second)
	cl.send(command("PUB ok_t", "three"))
	if cl.c.ext == nil || cl.c.ext.wait != waitAuth {
		t.Fatal("PUB after expiry did not pause for a re-query")
	}
	cl.settle(5 * time.Second)
	if got := string(cl.take()); got != string(frame(0, "OK")) || queries.Load() != 2 {
		t.Fatalf("got %q after %d queries, want OK after 2", got, queries.Load())
	}
	cl.send(command("PUB other", "x"))
	if got := string(cl.take()); !strings.HasSuffix(got, `E_UNAUTHORIZED AUTH failed for PUB on "other" ""`) || !cl.fc.closed {
		t.Fatalf("got %q", got)
	}
}

// A connection closed while its query runs cancels it; no goroutine is left
// (goleak checks at the end of the package).
func TestAuthCloseWhilePending(t *testing.T) {
	h, _ := authHarness(t, testGrant, 2*time.Second)
	cl := h.open()
	cl.send(append([]byte(codec.Magic), command("AUTH", "secret")...))
	start := time.Now()
	h.srv.OnClose(cl.fc, nil)
	h.srv.stop()
	h.srv.background.Wait()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the query outlived its connection by %s", d)
	}
}
