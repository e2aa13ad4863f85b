package httpfast

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"nsqreactor/core"
)

// GET /metrics: the daemon's figures in the Prometheus exposition format.
// DELIBERATE DIFFERENCE: upstream nsqd v1.3.0 has no such route (users have
// asked since 2016, nsq#732; upstream offers statsd and /stats only), so
// upstream answers 404 here. Every nsq_* family is listed, with its labels
// and meaning, in README.md "Prometheus metrics" (metrics_families.go has
// the same table in code); metrics_gather.go produces the series.
//
// Library: prometheus/client_golang (promhttp for the HTTP side, the dto
// model, prometheus/common/expfmt for the encoding), fed by a Gatherer that
// walks core's topics and channels when a scrape asks, reading the atomics
// /stats reads. Nothing is counted per message: a daemon nobody scrapes
// pays nothing and the publish/deliver path is unchanged. We chose it over
// VictoriaMetrics/metrics because
//
//   - that library's series are registered objects (a gauge with a
//     callback, kept in a Set until unregistered): mirroring topics and
//     channels that come and go would mean registering and unregistering
//     series from core's lifecycle hooks, a second source of truth that can
//     leak or lag, where a Gatherer reports what exists at scrape time;
//     its registration-free Write* helpers take a pre-formatted
//     `name{label="value"}` string, which leaves label escaping and the
//     HELP/TYPE lines (a process-wide switch there) to us;
//   - client_golang escapes label values, writes HELP and TYPE once per
//     family, negotiates text, OpenMetrics and protobuf and gzip/zstd with
//     the scraper, and brings the standard go_* and process_* collectors;
//   - promhttp's CoalesceGather makes concurrent scrapes share one walk, so
//     the cost is paid once per scrape however many Prometheus servers (or
//     curl loops) ask at once.
//
// Scrape cost, 1,000 topics × 5 channels (≈ 66,000 series, 3.9 MB of text;
// BenchmarkMetrics, 2-core CI machine): the textbook custom Collector
// (MustNewConstMetric per series, then Registry.Gather's channel send, hash
// and sort per series) took 270 ms, 67 MB and 841,000 allocations; building
// the dto families directly, already sorted, in per-family slabs
// (metrics_gather.go) and buffering the answer without fasthttpadaptor's
// per-request goroutine takes 25 ms (55 ms gzipped, as Prometheus asks),
// 14 MB and 4,400 allocations, most of the time in expfmt's text encoding.
// At a 15 s scrape interval that is under 0.4% of one core.
//
// Cardinality: series are per topic and per (topic, channel), never per
// client: connections come and go (and a client_id is chosen by the
// client), so per-client labels would grow without bound. Connections
// appear as counts only (nsq_clients, nsq_producers, nsq_channel_clients).

// metricsRoute returns the GET /metrics route for s. The runtime registry
// belongs to the route, so that several Servers in one process (tests)
// never share state. The request log line is written as for /stats.
func (s *Server) metricsRoute() *route {
	runtime := prometheus.NewRegistry()
	runtime.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	h := promhttp.HandlerFor(newMetricsGatherer(s.nsqd, runtime), promhttp.HandlerOpts{
		ErrorLog:      metricsErrorLog{s},
		ErrorHandling: promhttp.ContinueOnError, // a partial scrape beats none
		// No Timeout: promhttp would wrap the handler in
		// http.TimeoutHandler, a goroutine and a buffer per scrape, and
		// would not stop the walk anyway.
		CoalesceGather: true,
	})
	var sizeHint atomic.Int64 // size of the last answer, to pre-size the next
	return &route{method: "GET", path: "/metrics", kind: kindRaw, log: true,
		serve: func(ctx *fasthttp.RequestCtx, _ string) *apiError {
			var r http.Request
			if err := fasthttpadaptor.ConvertRequest(ctx, &r, true); err != nil {
				return errInvalidRequest
			}
			w := metricsResponse{header: make(http.Header, 4),
				body: slices.Grow(ctx.Response.SwapBody(nil)[:0], int(sizeHint.Load()))}
			h.ServeHTTP(&w, &r)
			sizeHint.Store(int64(len(w.body) + len(w.body)/8))
			ctx.SetStatusCode(cmp.Or(w.status, http.StatusOK))
			for name, values := range w.header {
				for _, v := range values {
					ctx.Response.Header.Add(name, v)
				}
			}
			ctx.Response.SwapBody(w.body)
			return nil
		}}
}

// metricsResponse is the http.ResponseWriter promhttp writes a scrape to:
// the whole answer is buffered and then handed to fasthttp, without the
// goroutine and growing buffer per request of fasthttpadaptor's handler
// (a scrape of 1,000 topics is several megabytes).
type metricsResponse struct {
	header http.Header
	status int // 0 until WriteHeader or Write
	body   []byte
}

// Header implements http.ResponseWriter.
func (w *metricsResponse) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter; only the first call counts.
func (w *metricsResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// Write implements http.ResponseWriter.
func (w *metricsResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

// metricsErrorLog sends promhttp's errors to the daemon's log.
type metricsErrorLog struct{ s *Server }

// Println implements promhttp.Logger.
func (l metricsErrorLog) Println(v ...any) {
	l.s.log.Logf(core.LogLevelError, "METRICS: %s", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
