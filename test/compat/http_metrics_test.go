package compat

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"nsqreactor/internal/testutil"
)

// GET /metrics (Prometheus) is ours only: upstream nsqd v1.3.0 has no such
// route (nsq#732), so there is no upstream behaviour to hold ours to and the
// upstream subtest is skipped. What can be held to something is the values:
// every figure is checked against /stats JSON of the same state, parsed by
// expfmt (Prometheus' own exposition parser).

// metricsStats is the part of /stats?format=json the metrics mirror.
type metricsStats struct {
	Health string `json:"health"`
	Topics []struct {
		TopicName    string  `json:"topic_name"`
		Depth        float64 `json:"depth"`
		BackendDepth float64 `json:"backend_depth"`
		MessageCount float64 `json:"message_count"`
		MessageBytes float64 `json:"message_bytes"`
		Paused       bool    `json:"paused"`
		E2E          e2eJSON `json:"e2e_processing_latency"`
		Channels     []struct {
			ChannelName   string  `json:"channel_name"`
			Depth         float64 `json:"depth"`
			BackendDepth  float64 `json:"backend_depth"`
			InFlightCount float64 `json:"in_flight_count"`
			DeferredCount float64 `json:"deferred_count"`
			MessageCount  float64 `json:"message_count"`
			RequeueCount  float64 `json:"requeue_count"`
			TimeoutCount  float64 `json:"timeout_count"`
			ClientCount   float64 `json:"client_count"`
			Paused        bool    `json:"paused"`
			E2E           e2eJSON `json:"e2e_processing_latency"`
			Clients       []struct {
				FinishCount float64 `json:"finish_count"`
			} `json:"clients"`
		} `json:"channels"`
	} `json:"topics"`
	Producers []json.RawMessage `json:"producers"`
}

type e2eJSON struct {
	Count       float64 `json:"count"`
	Percentiles []struct {
		Quantile float64 `json:"quantile"`
		Value    float64 `json:"value"`
	} `json:"percentiles"`
}

func TestHTTPMetrics(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		if !impl.Ours {
			t.Skip("upstream nsqd v1.3.0 has no /metrics (nsq#732); ours only")
		}
		d := impl.Start(t, "--e2e-processing-latency-percentile=0.5,0.99")
		metricsFixture(t, d)

		r := get(t, d.HTTPAddr, "/metrics")
		if r.Status != 200 {
			t.Fatalf("/metrics: %d %s", r.Status, r.Body)
		}
		expectHeader(t, "/metrics", r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(r.Body))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v\n%s", err, r.Body)
		}
		var stats metricsStats
		if err := json.Unmarshal([]byte(get(t, d.HTTPAddr, "/stats?format=json").Body), &stats); err != nil {
			t.Fatal(err)
		}
		m := metricsChecker{t: t, mfs: mfs}
		m.expect(1, "nsq_healthy")
		m.expect(2, "nsq_clients") // the subscriber and the producer are still connected
		m.expect(float64(len(stats.Producers)), "nsq_producers")
		m.expect(1, "nsq_build_info", "version", "1.3.0")
		if len(stats.Topics) != 2 {
			t.Fatalf("/stats has %d topics, want 2", len(stats.Topics))
		}
		for _, ts := range stats.Topics {
			topic := []string{"topic", ts.TopicName}
			m.expect(ts.MessageCount, "nsq_topic_messages_total", topic...)
			m.expect(ts.MessageBytes, "nsq_topic_message_bytes_total", topic...)
			m.expect(ts.Depth, "nsq_topic_depth", topic...)
			m.expect(ts.BackendDepth, "nsq_topic_backend_depth", topic...)
			m.expect(bool01(ts.Paused), "nsq_topic_paused", topic...)
			m.expect(0, "nsq_topic_disk_corruptions_total", topic...)
			m.expectE2E(ts.E2E, "nsq_topic_e2e_processing_latency", topic...)
			for _, cs := range ts.Channels {
				ch := append(append([]string(nil), topic...), "channel", cs.ChannelName)
				m.expect(cs.MessageCount, "nsq_channel_messages_total", ch...)
				m.expect(cs.RequeueCount, "nsq_channel_requeues_total", ch...)
				m.expect(cs.TimeoutCount, "nsq_channel_timeouts_total", ch...)
				m.expect(cs.Depth, "nsq_channel_depth", ch...)
				m.expect(cs.BackendDepth, "nsq_channel_backend_depth", ch...)
				m.expect(cs.InFlightCount, "nsq_channel_in_flight", ch...)
				m.expect(cs.DeferredCount, "nsq_channel_deferred", ch...)
				m.expect(cs.ClientCount, "nsq_channel_clients", ch...)
				m.expect(bool01(cs.Paused), "nsq_channel_paused", ch...)
				m.expect(0, "nsq_channel_disk_corruptions_total", ch...)
				finishes := 0.0
				for _, c := range cs.Clients {
					finishes += c.FinishCount
				}
				m.expect(finishes, "nsq_channel_finishes_total", ch...)
				m.expectE2E(cs.E2E, "nsq_channel_e2e_processing_latency", ch...)
			}
		}
		// and the fixture's own numbers, so that a /stats regression cannot
		// hide a metrics one
		work := []string{"topic", "mt", "channel", "work"}
		m.expect(4, "nsq_topic_messages_total", "topic", "mt")
		m.expect(2, "nsq_channel_finishes_total", work...)
		m.expect(1, "nsq_channel_in_flight", work...)
		m.expect(1, "nsq_channel_depth", work...)
		m.expect(1, "nsq_channel_requeues_total", work...)
		m.expect(2, "nsq_channel_e2e_processing_latency_window_samples", work...)
		m.expect(4, "nsq_channel_depth", "topic", "mt", "channel", "held")
		m.expect(1, "nsq_channel_paused", "topic", "mt", "channel", "held")
		m.expect(1, "nsq_topic_depth", "topic", "mh")
	})
}

// metricsFixture builds, on d:
//
//	topic mt: channel "work" (one subscriber with RDY 1: 2 FINed, 1 REQed,
//	          1 in flight, 1 queued), channel "held" (paused, 4 queued);
//	          4 messages from one TCP producer that stays connected
//	topic mh: no channel, 1 message published over HTTP
func metricsFixture(t *testing.T, d *testutil.Daemon) {
	t.Helper()
	for _, target := range []string{"/topic/create?topic=mt", "/channel/create?topic=mt&channel=work",
		"/channel/create?topic=mt&channel=held", "/channel/pause?topic=mt&channel=held"} {
		if r := post(t, d.HTTPAddr, target, ""); r.Status != 200 {
			t.Fatalf("%s: %d %s", target, r.Status, r.Body)
		}
	}
	if r := post(t, d.HTTPAddr, "/pub?topic=mh", "http"); r.Status != 200 {
		t.Fatalf("/pub: %d %s", r.Status, r.Body)
	}
	c := testutil.Dial(t, d.TCPAddr)
	c.Sub(t, "mt", "work")
	c.Rdy(t, 1) // one at a time, so the counts do not depend on order
	p := testutil.Dial(t, d.TCPAddr)
	for i := range 4 {
		p.Pub(t, "mt", []byte("m"+strconv.Itoa(i)))
	}
	c.Fin(t, c.ExpectMessage(t).ID)
	c.Req(t, c.ExpectMessage(t).ID, 0)
	c.Fin(t, c.ExpectMessage(t).ID)
	c.ExpectMessage(t) // in flight from here on; one more stays queued
	waitFor(t, "finish_count 2", func() bool {
		return strings.Contains(get(t, d.HTTPAddr, "/stats?format=json&topic=mt&channel=work").Body, `"finish_count":2,`)
	})
}

// metricsChecker looks series up in a parsed scrape.
type metricsChecker struct {
	t   *testing.T
	mfs map[string]*dto.MetricFamily
}

// value returns the series of family name with exactly the labels given
// ("k", "v", …).
func (m metricsChecker) value(name string, labels ...string) (float64, bool) {
	for _, s := range m.mfs[name].GetMetric() {
		if len(s.GetLabel())*2 != len(labels) {
			continue
		}
		match := true
		for _, lp := range s.GetLabel() {
			found := false
			for i := 0; i < len(labels); i += 2 {
				found = found || (labels[i] == lp.GetName() && labels[i+1] == lp.GetValue())
			}
			match = match && found
		}
		if match {
			if c := s.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return s.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func (m metricsChecker) expect(want float64, name string, labels ...string) {
	m.t.Helper()
	got, ok := m.value(name, labels...)
	if !ok {
		m.t.Errorf("%s%q: missing", name, labels)
	} else if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
		m.t.Errorf("%s%q = %v, want %v (as /stats)", name, labels, got, want)
	}
}

// expectE2E checks <prefix>_seconds{quantile} and <prefix>_window_samples
// against /stats' e2e_processing_latency (nanoseconds; NaN without
// samples; no series when /stats has no percentiles).
func (m metricsChecker) expectE2E(e e2eJSON, prefix string, labels ...string) {
	m.t.Helper()
	m.expect(e.Count, prefix+"_window_samples", labels...)
	if e.Percentiles == nil {
		// a topic without channels: /stats has no percentiles, nor have we
		for _, q := range []string{"0.5", "0.99"} {
			if v, ok := m.value(prefix+"_seconds", append(append([]string(nil), labels...), "quantile", q)...); ok {
				m.t.Errorf("%s_seconds%q = %v, want no series (/stats percentiles null)", prefix, labels, v)
			}
		}
	} else if len(e.Percentiles) != 2 {
		m.t.Errorf("%s%q: /stats has %d percentiles, want 2", prefix, labels, len(e.Percentiles))
	}
	for _, p := range e.Percentiles {
		q := append(append([]string(nil), labels...), "quantile", strconv.FormatFloat(p.Quantile, 'g', -1, 64))
		want := p.Value / 1e9
		if e.Count == 0 {
			want = math.NaN()
		}
		got, ok := m.value(prefix+"_seconds", q...)
		if !ok || !(math.Abs(got-want) <= 1e-9*math.Abs(want) || math.IsNaN(got) && math.IsNaN(want)) {
			m.t.Errorf("%s_seconds%q = %v (present %v), want %v (as /stats)", prefix, q, got, ok, want)
		}
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
