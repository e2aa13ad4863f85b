//go:build !race

package httpfast

import (
	"io"
	"testing"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// Allocation tests; the race detector makes sync.Pool drop items, so they
// run without it (scripts/test.sh runs -run Alloc without -race).

// A parsed query does not allocate once the pool is warm.
func TestAllocQuery(t *testing.T) {
	raw := []byte("topic=some_topic&defer=1000&x=a%20b")
	allocs := testing.AllocsPerRun(100, func() {
		q := acquireQuery(raw)
		if v, ok := q.get("topic"); !ok || string(v) != "some_topic" {
			t.Fatal("bad parse")
		}
		releaseQuery(q)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per query, want 0", allocs)
	}
}

// An HTTP /pub costs one allocation: the message body, copied out of the
// request because core keeps it (routing, query parsing and the answer
// allocate nothing).
func TestAllocPub(t *testing.T) {
	opts := core.NewOptions()
	opts.DataPath = t.TempDir()
	opts.Logger = io.Discard
	opts.MemQueueSize = 1 // the ephemeral topic drops what it cannot hold, recycling messages
	n := core.New(opts)
	defer n.Exit()
	s := New(n, 4150)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/pub?topic=alloc%23ephemeral&defer=0")
	body := make([]byte, 256)
	run := func() {
		ctx.Request.SetBody(body)
		ctx.Response.Reset()
		s.HandleRequest(&ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	run() // create the topic
	if allocs := testing.AllocsPerRun(200, run); allocs > 1 {
		t.Errorf("%.1f allocations per /pub, want 1 (the body copy)", allocs)
	}
}
