package httpfast

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// metricsConsumer is a subscriber that remembers the IDs delivered to it,
// so that a test can FIN them.
type metricsConsumer struct {
	statsClient
	mu  sync.Mutex
	ids []core.MessageID
}

func (c *metricsConsumer) Deliver(m *core.Message) {
	c.mu.Lock()
	c.ids = append(c.ids, m.ID)
	c.mu.Unlock()
}

func (c *metricsConsumer) delivered() []core.MessageID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids)
}

// parseMetrics parses a text exposition with expfmt, failing the test on a
// syntax error.
func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return mfs
}

// scrapeMetrics GETs /metrics and parses it.
func scrapeMetrics(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := httpGet(t, s, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text format 0.0.4", ct)
	}
	return parseMetrics(t, body)
}

// metricValue returns the value of the series of mfs[name] whose labels are
// exactly labels ("k", "v", …); ok is false when there is none.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		match := true
		for i, lp := range m.GetLabel() {
			match = match && lp.GetName() == labels[2*i] && lp.GetValue() == labels[2*i+1]
		}
		if !match {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		default:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// expectMetric checks one series' value (NaN matches NaN).
func expectMetric(t *testing.T, mfs map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := metricValue(mfs, name, labels...)
	switch {
	case !ok:
		t.Errorf("%s%q: missing", name, labels)
	case got != want && !(math.IsNaN(got) && math.IsNaN(want)):
		t.Errorf("%s%q = %v, want %v", name, labels, got, want)
	}
}

// Every family, label and value of a scrape, against the state built
// through core: two topics (one paused, one ephemeral), channels with a
// subscriber, in-flight, finished, requeued and deferred messages, e2e
// percentiles configured.
func TestMetricsScrape(t *testing.T) {
	n, s, _ := testServer(t, "", func(o *core.Options) {
		o.E2EProcessingLatencyPercentiles = []float64{0.5, 0.99}
		o.E2EProcessingLatencyWindowTime = time.Minute
	})
	ta, _ := n.GetTopic("ta")
	tb, _ := n.GetTopic("tb#ephemeral")
	tb.Pause()
	chA, _ := ta.GetChannel("a")
	chB, _ := ta.GetChannel("b")
	chB.Pause()
	c := &metricsConsumer{statsClient: statsClient{producer: true}}
	sub, err := chA.AddClient(c, core.SubscribeOptions{ClientID: 1, MsgTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	n.AddClient(1, c)
	n.AddClient(2, &statsClient{})
	for _, body := range []string{"one", "two", "three"} {
		if err := ta.Put([]byte(body), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := ta.Put([]byte("later"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := tb.Put([]byte("held"), 0); err != nil {
		t.Fatal(err)
	}
	chA.SetRDY(sub, 3)
	ids := c.delivered()
	if len(ids) != 3 {
		t.Fatalf("%d messages delivered, want 3", len(ids))
	}
	if err := chA.Finish(sub, &ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := chA.Requeue(sub, &ids[1], 0); err != nil {
		t.Fatal(err)
	}

	mfs := scrapeMetrics(t, s)
	expectMetric(t, mfs, 1, "nsq_build_info", "version", core.Version)
	expectMetric(t, mfs, 1, "nsq_healthy")
	expectMetric(t, mfs, 2, "nsq_clients")
	expectMetric(t, mfs, 1, "nsq_producers")

	expectMetric(t, mfs, 4, "nsq_topic_messages_total", "topic", "ta")
	expectMetric(t, mfs, 3+3+5+5, "nsq_topic_message_bytes_total", "topic", "ta")
	expectMetric(t, mfs, 0, "nsq_topic_depth", "topic", "ta")
	expectMetric(t, mfs, 0, "nsq_topic_paused", "topic", "ta")
	expectMetric(t, mfs, 0, "nsq_topic_disk_corruptions_total", "topic", "ta")
	expectMetric(t, mfs, 1, "nsq_topic_depth", "topic", "tb#ephemeral")
	expectMetric(t, mfs, 0, "nsq_topic_backend_depth", "topic", "tb#ephemeral")
	expectMetric(t, mfs, 1, "nsq_topic_paused", "topic", "tb#ephemeral")

	// every topic and channel figure /stats shows, from the same moment
	expectStatsMatch(t, mfs, n.GetStats("", "", false))

	a := []string{"topic", "ta", "channel", "a"}
	expectMetric(t, mfs, 4, "nsq_channel_messages_total", a...)
	expectMetric(t, mfs, 1, "nsq_channel_requeues_total", a...)
	expectMetric(t, mfs, 0, "nsq_channel_timeouts_total", a...)
	expectMetric(t, mfs, 1, "nsq_channel_finishes_total", a...)
	expectMetric(t, mfs, 1, "nsq_channel_deferred", a...)
	expectMetric(t, mfs, 1, "nsq_channel_clients", a...)
	expectMetric(t, mfs, 0, "nsq_channel_paused", a...)
	expectMetric(t, mfs, 0, "nsq_channel_disk_corruptions_total", a...)
	expectMetric(t, mfs, 1, "nsq_channel_e2e_processing_latency_window_samples", a...)
	b := []string{"topic", "ta", "channel", "b"}
	expectMetric(t, mfs, 3, "nsq_channel_depth", b...) // paused: nothing leaves
	expectMetric(t, mfs, 1, "nsq_channel_deferred", b...)
	expectMetric(t, mfs, 1, "nsq_channel_paused", b...)
	expectMetric(t, mfs, 0, "nsq_channel_clients", b...)
	expectMetric(t, mfs, 0, "nsq_channel_finishes_total", b...)
	expectMetric(t, mfs, 0, "nsq_channel_e2e_processing_latency_window_samples", b...)

	// e2e: a channel without FINs has NaN quantiles, one with a FIN a
	// positive latency in seconds (well under the test's duration); the
	// topic merges its channels
	for _, q := range []string{"0.5", "0.99"} {
		expectMetric(t, mfs, math.NaN(), "nsq_channel_e2e_processing_latency_seconds", append(b, "quantile", q)...)
		for _, series := range [][]string{append(slices.Clone(a), "quantile", q), {"topic", "ta", "quantile", q}} {
			name := "nsq_channel_e2e_processing_latency_seconds"
			if len(series) == 4 {
				name = "nsq_topic_e2e_processing_latency_seconds"
			}
			if v, ok := metricValue(mfs, name, series...); !ok || !(v > 0 && v < 60) {
				t.Errorf("%s%q = %v (present %v), want a latency in seconds", name, series, v, ok)
			}
		}
	}
	expectMetric(t, mfs, 1, "nsq_topic_e2e_processing_latency_window_samples", "topic", "ta")

	// the standard runtime collectors come along
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if mfs[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
}

// expectStatsMatch checks the topic and channel series against a /stats
// snapshot of the same state.
func expectStatsMatch(t *testing.T, mfs map[string]*dto.MetricFamily, stats core.Stats) {
	t.Helper()
	for _, ts := range stats.Topics {
		topic := []string{"topic", ts.TopicName}
		expectMetric(t, mfs, float64(ts.MessageCount), "nsq_topic_messages_total", topic...)
		expectMetric(t, mfs, float64(ts.MessageBytes), "nsq_topic_message_bytes_total", topic...)
		expectMetric(t, mfs, float64(ts.Depth), "nsq_topic_depth", topic...)
		expectMetric(t, mfs, float64(ts.BackendDepth), "nsq_topic_backend_depth", topic...)
		expectMetric(t, mfs, boolValue(ts.Paused), "nsq_topic_paused", topic...)
		for _, cs := range ts.Channels {
			ch := append(slices.Clone(topic), "channel", cs.ChannelName)
			expectMetric(t, mfs, float64(cs.MessageCount), "nsq_channel_messages_total", ch...)
			expectMetric(t, mfs, float64(cs.RequeueCount), "nsq_channel_requeues_total", ch...)
			expectMetric(t, mfs, float64(cs.TimeoutCount), "nsq_channel_timeouts_total", ch...)
			expectMetric(t, mfs, float64(cs.Depth), "nsq_channel_depth", ch...)
			expectMetric(t, mfs, float64(cs.BackendDepth), "nsq_channel_backend_depth", ch...)
			expectMetric(t, mfs, float64(cs.InFlightCount), "nsq_channel_in_flight", ch...)
			expectMetric(t, mfs, float64(cs.DeferredCount), "nsq_channel_deferred", ch...)
			expectMetric(t, mfs, float64(cs.ClientCount), "nsq_channel_clients", ch...)
			expectMetric(t, mfs, boolValue(cs.Paused), "nsq_channel_paused", ch...)
		}
	}
}

// An empty daemon without e2e percentiles: the daemon-wide families only,
// no e2e family, and health follows SetHealth.
func TestMetricsEmpty(t *testing.T) {
	n, s, _ := testServer(t, "", nil)
	n.SetHealth(io.ErrUnexpectedEOF)
	mfs := scrapeMetrics(t, s)
	expectMetric(t, mfs, 0, "nsq_healthy")
	expectMetric(t, mfs, 0, "nsq_clients")
	for name := range mfs {
		if strings.HasPrefix(name, "nsq_topic_") || strings.HasPrefix(name, "nsq_channel_") {
			t.Errorf("%s present without topics", name)
		}
	}

	t1, _ := n.GetTopic("t1")
	t1.GetChannel("c1")
	mfs = scrapeMetrics(t, s)
	expectMetric(t, mfs, 0, "nsq_channel_depth", "topic", "t1", "channel", "c1")
	for name := range mfs {
		if strings.Contains(name, "_e2e_") {
			t.Errorf("%s present without --e2e-processing-latency-percentile", name)
		}
	}
}

// Prometheus asks for gzip; the body is then compressed and still parses.
func TestMetricsGzip(t *testing.T) {
	n, s, _ := testServer(t, "", nil)
	n.GetTopic("zipped")
	resp, body := roundTrip(t, "tcp", s.Addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("got %d Content-Encoding %q, want 200 gzip", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	expectMetric(t, parseMetrics(t, string(plain)), 0, "nsq_topic_depth", "topic", "zipped")
}

// A scraper asking for the delimited protobuf format (Prometheus does, with
// native histograms on) gets it, and it decodes to the same series.
func TestMetricsProtobuf(t *testing.T) {
	n, s, _ := testServer(t, "", nil)
	tp, _ := n.GetTopic("proto")
	tp.GetChannel("c")
	tp.Put([]byte("abc"), 0)
	resp, body := roundTrip(t, "tcp", s.Addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: "+
		string(expfmt.FmtProtoDelim)+"\r\nConnection: close\r\n\r\n")
	format := expfmt.ResponseFormat(resp.Header)
	if resp.StatusCode != 200 || format.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("got %d %q, want 200 and delimited protobuf", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	dec := expfmt.NewDecoder(strings.NewReader(body), format)
	mfs := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		mfs[mf.GetName()] = &mf
	}
	expectMetric(t, mfs, 3, "nsq_topic_message_bytes_total", "topic", "proto")
	expectMetric(t, mfs, 1, "nsq_channel_depth", "topic", "proto", "channel", "c")
}

// Only GET is routed; the other methods get upstream's 405 with Allow.
func TestMetricsMethods(t *testing.T) {
	_, s, _ := testServer(t, "", nil)
	resp, _ := roundTrip(t, "tcp", s.Addr(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, OPTIONS" {
		t.Errorf("POST /metrics: got %d Allow %q, want 405 \"GET, OPTIONS\"", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// The names follow Prometheus' conventions as promlint checks them.
func TestMetricsLint(t *testing.T) {
	s := statsAtScale(t, 3, 2, 1)
	ctx := newMetricsCtx("")
	s.HandleRequest(ctx)
	problems, err := promlint.New(bytes.NewReader(ctx.Response.Body())).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "nsq_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}

// Scrapes race with topics and channels being created, published to and
// deleted (run with -race): every scrape parses, and a series never
// appears twice.
func TestMetricsConcurrentChurn(t *testing.T) {
	n, s, _ := testServer(t, "", func(o *core.Options) { o.E2EProcessingLatencyPercentiles = []float64{0.9} })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := "churn" + strconv.Itoa(i%7)
			tp, err := n.GetTopic(name)
			if err != nil {
				continue
			}
			tp.GetChannel("c" + strconv.Itoa(i%3))
			tp.Put([]byte("x"), 0)
			if i%5 == 4 {
				n.DeleteExistingTopic(name)
			}
		}
	})
	for range 20 {
		_, body := httpGet(t, s, "/metrics")
		mfs := parseMetrics(t, body)
		for name, mf := range mfs {
			seen := map[string]bool{}
			for _, m := range mf.GetMetric() {
				var key string
				for _, lp := range m.GetLabel() {
					key += lp.GetName() + "=" + lp.GetValue() + ","
				}
				if seen[key] {
					t.Fatalf("%s: series %s twice", name, key)
				}
				seen[key] = true
			}
		}
	}
	close(stop)
	wg.Wait()
}

// README.md's "Prometheus metrics" table lists exactly the families of
// metricFamilies, with the same type and labels.
func TestMetricsREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Prometheus metrics\n")
	if !ok {
		t.Fatal(`README.md has no "## Prometheus metrics" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `(nsq_[a-z0-9_]+)` \\| (\\w+) \\| ([^|]*) \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented[m[1]] = m[2] + " " + strings.ReplaceAll(strings.TrimSpace(m[3]), "`", "")
	}
	for _, f := range metricFamilies {
		want := strings.ToLower(f.typ.String()) + " " + cmpOrDash(f.labels)
		if got, ok := documented[f.name]; !ok {
			t.Errorf("README: %s is not documented", f.name)
		} else if got != want {
			t.Errorf("README: %s is %q, want %q", f.name, got, want)
		}
		delete(documented, f.name)
	}
	for name := range documented {
		t.Errorf("README documents %s, which /metrics does not serve", name)
	}
}

// newMetricsCtx is a GET /metrics request for HandleRequest, asking for
// encoding ("" for none).
func newMetricsCtx(encoding string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/metrics")
	if encoding != "" {
		ctx.Request.Header.Set("Accept-Encoding", encoding)
	}
	return &ctx
}

func cmpOrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
