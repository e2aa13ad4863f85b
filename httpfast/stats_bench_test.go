package httpfast

import (
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// statsClient is a subscriber (and optionally producer) with fixed figures.
type statsClient struct {
	stats    core.ClientStats
	producer bool
}

func (c *statsClient) Deliver(*core.Message)         {}
func (c *statsClient) Kick()                         {}
func (c *statsClient) IsProducer() bool              { return c.producer }
func (c *statsClient) Stats(string) core.ClientStats { return c.stats }

// statsAtScale builds a daemon with topics × channels and one subscriber
// per channel (so topics·channels clients), the first producers of which
// also count as producers.
func statsAtScale(tb testing.TB, topics, channels, producers int) *Server {
	opts := core.NewOptions()
	opts.DataPath = tb.TempDir()
	opts.Logger = io.Discard
	opts.LogLevel = core.LogLevelWarn // no per-request log line
	n := core.New(opts)
	tb.Cleanup(n.Exit)
	id := int64(0)
	for i := range topics {
		t, err := n.GetTopic("topic_" + strconv.Itoa(i))
		if err != nil {
			tb.Fatal(err)
		}
		for j := range channels {
			ch, err := t.GetChannel("channel_" + strconv.Itoa(j))
			if err != nil {
				tb.Fatal(err)
			}
			id++
			c := &statsClient{producer: id <= int64(producers), stats: core.ClientStats{
				ClientID: "client-" + strconv.FormatInt(id, 10), Hostname: "host-" + strconv.Itoa(i%50) + ".example.com",
				Version: "V2", RemoteAddress: "10.0." + strconv.Itoa(i%250) + "." + strconv.Itoa(j) + ":" + strconv.Itoa(40000+int(id)),
				State: 3, ReadyCount: 200, InFlightCount: 17, MessageCount: 123456, FinishCount: 123400, RequeueCount: 39,
				ConnectTime: time.Now().Unix() - 3600, UserAgent: "go-nsq/1.1.0", Snappy: true,
			}}
			if c.producer {
				c.stats.PubCounts = []core.PubCount{{Topic: t.Name(), Count: 99999}}
			}
			if _, err := ch.AddClient(c, core.SubscribeOptions{ClientID: id, MsgTimeout: time.Minute}); err != nil {
				tb.Fatal(err)
			}
			if c.producer {
				n.AddClient(id, c)
			}
		}
	}
	return New(n, 4150)
}

// BenchmarkStats renders /stats for 1,000 topics × 5 channels with 5,000
// subscribed clients (and 100 producers) through the full handler, as
// nsqadmin and nsq_stat request it. Run:
//
//	go test -run '^$' -bench BenchmarkStats -benchtime 20x ./httpfast/
func BenchmarkStats(b *testing.B) {
	s := statsAtScale(b, 1000, 5, 100)
	for _, bc := range []struct{ name, target string }{
		{"json", "/stats?format=json"},
		{"json/include_clients=false", "/stats?format=json&include_clients=false"},
		{"json/topic", "/stats?format=json&topic=topic_500"},
		{"text", "/stats"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod("GET")
			ctx.Request.SetRequestURI(bc.target)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				s.HandleRequest(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.SetBytes(int64(len(ctx.Response.Body())))
		})
	}
}

// BenchmarkPub is one HTTP /pub of 256 bytes through the handler (no
// network): the per-request cost of the HTTP publish path.
func BenchmarkPub(b *testing.B) {
	opts := core.NewOptions()
	opts.DataPath = b.TempDir()
	opts.Logger = io.Discard
	n := core.New(opts)
	b.Cleanup(n.Exit)
	s := New(n, 4150)
	body := make([]byte, 256)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	// ephemeral: with no channel it keeps at most --mem-queue-size
	// messages and never touches disk, so the loop measures the handler
	ctx.Request.SetRequestURI("/pub?topic=bench%23ephemeral")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		ctx.Request.SetBody(body)
		ctx.Response.Reset()
		s.HandleRequest(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
