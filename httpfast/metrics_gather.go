package httpfast

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"nsqreactor/core"
)

// metricsGatherer is the prometheus.Gatherer behind GET /metrics: the
// runtime registry's families (go_*, process_*) followed by the nsq_*
// families, built by one walk over core's topics and channels per scrape.
// It keeps no state between scrapes and is safe for concurrent use.
//
// It builds the dto families itself rather than going through a
// prometheus.Collector and Registry.Gather: with 1,000 topics × 5 channels
// the Collector path (a const Metric, a channel send, a hash and a sort per
// series) made a scrape cost 270 ms, 67 MB and 841,000 allocations (see
// metrics.go), and the families it would sort are already in order here
// (topics and channels by name). Every family is one slab of samples, and
// the label pairs of a topic or channel are shared by all its series.
type metricsGatherer struct {
	nsqd      *core.NSQD
	runtime   prometheus.Gatherer // go_* and process_*
	quantiles []dto.LabelPair     // quantile="q" per --e2e-processing-latency-percentile; nil: e2e off
}

func newMetricsGatherer(n *core.NSQD, runtime prometheus.Gatherer) *metricsGatherer {
	g := &metricsGatherer{nsqd: n, runtime: runtime}
	pcts := n.Options().E2EProcessingLatencyPercentiles
	if len(pcts) > 0 {
		g.quantiles = make([]dto.LabelPair, len(pcts))
		for i, q := range pcts {
			v := strconv.FormatFloat(q, 'g', -1, 64)
			g.quantiles[i] = dto.LabelPair{Name: &labelQuantile, Value: &v}
		}
	}
	return g
}

// Gather implements prometheus.Gatherer. A runtime collector's error is
// returned with everything that was gathered (promhttp serves it with
// ContinueOnError).
func (g *metricsGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := g.runtime.Gather()
	return append(mfs, g.gatherNSQ()...), err
}

// gaugeSample and counterSample are one series' dto objects, allocated
// together in a family's slab.
type gaugeSample struct {
	metric dto.Metric
	gauge  dto.Gauge
	value  float64
}

type counterSample struct {
	metric  dto.Metric
	counter dto.Counter
	value   float64
}

// familyBuilder accumulates one family's series during a scrape. Slabs are
// in use up to their len and never grown in place (see add).
type familyBuilder struct {
	mf       dto.MetricFamily
	gauges   []gaugeSample   // a gauge family's slab
	counters []counterSample // a counter family's slab
}

func (b *familyBuilder) init(f *family, n int) {
	b.mf.Name, b.mf.Help, b.mf.Type = &f.name, &f.help, &f.typ
	b.mf.Metric = make([]*dto.Metric, 0, n)
	if f.typ == dto.MetricType_COUNTER {
		b.counters = make([]counterSample, 0, n)
	} else {
		b.gauges = make([]gaugeSample, 0, n)
	}
}

// add appends a series. labels must stay unmodified until the scrape is
// encoded. A full slab is replaced, not grown, so that the pointers already
// handed out stay valid; with the sizes init is given it never fills.
func (b *familyBuilder) add(labels []*dto.LabelPair, v float64) {
	var m *dto.Metric
	if *b.mf.Type == dto.MetricType_COUNTER {
		b.counters = nextSample(b.counters)
		s := &b.counters[len(b.counters)-1]
		s.value = v
		s.counter.Value = &s.value
		s.metric.Counter = &s.counter
		m = &s.metric
	} else {
		b.gauges = nextSample(b.gauges)
		s := &b.gauges[len(b.gauges)-1]
		s.value = v
		s.gauge.Value = &s.value
		s.metric.Gauge = &s.gauge
		m = &s.metric
	}
	m.Label = labels
	b.mf.Metric = append(b.mf.Metric, m)
}

// nextSample extends slab by one zero element, in a new slab when it is
// full.
func nextSample[S any](slab []S) []S {
	if len(slab) == cap(slab) {
		slab = make([]S, 0, max(16, cap(slab)))
	}
	return slab[:len(slab)+1]
}

// scrape is one walk's families and label storage.
type scrape struct {
	fam    [numFamilies]familyBuilder
	names  []string         // topic and channel names (label values)
	pairs  []dto.LabelPair  // one per topic and per channel
	labels []*dto.LabelPair // the series' label lists, sliced off in order
}

// labelList returns a fresh list of the given pairs, carved from s.labels.
func (s *scrape) labelList(pairs ...*dto.LabelPair) []*dto.LabelPair {
	if len(s.labels)+len(pairs) > cap(s.labels) {
		s.labels = make([]*dto.LabelPair, 0, max(64, cap(s.labels)))
	}
	i := len(s.labels)
	s.labels = append(s.labels, pairs...)
	return s.labels[i:len(s.labels):len(s.labels)]
}

// pair returns a label pair name=value, carved from s.pairs.
func (s *scrape) pair(name *string, value string) *dto.LabelPair {
	if len(s.pairs) == cap(s.pairs) {
		s.pairs = make([]dto.LabelPair, 0, max(64, cap(s.pairs)))
		s.names = make([]string, 0, cap(s.pairs))
	}
	s.names = append(s.names, value)
	s.pairs = s.pairs[:len(s.pairs)+1]
	p := &s.pairs[len(s.pairs)-1]
	p.Name, p.Value = name, &s.names[len(s.names)-1]
	return p
}

// gatherNSQ walks the topics (sorted by name) and their channels (sorted by
// Topic.Channels) and returns the nsq_* families; the e2e ones only when
// percentiles are configured, as /stats shows them only then.
func (g *metricsGatherer) gatherNSQ() []*dto.MetricFamily {
	n := g.nsqd
	topics := n.Topics()
	slices.SortFunc(topics, func(a, b *core.Topic) int { return strings.Compare(a.Name(), b.Name()) })
	chans := make([][]*core.Channel, len(topics))
	numChannels := 0
	for i, t := range topics {
		chans[i] = t.Channels()
		numChannels += len(chans[i])
	}

	s := g.newScrape(len(topics), numChannels)
	version := s.labelList(s.pair(&labelVersion, core.Version))
	s.fam[mBuildInfo].add(version, 1)
	s.fam[mHealthy].add(nil, boolValue(n.IsHealthy()))
	s.fam[mClients].add(nil, float64(n.ClientCount()))
	s.fam[mProducers].add(nil, float64(n.ProducerCount()))
	for i, t := range topics {
		topic := s.pair(&labelTopic, t.Name())
		g.addTopic(s, t, topic)
		for _, ch := range chans[i] {
			g.addChannel(s, ch, topic)
		}
	}

	out := make([]*dto.MetricFamily, 0, numFamilies)
	for i := range s.fam {
		// the text encoder refuses a family without series (no topics yet)
		if len(s.fam[i].mf.Metric) > 0 {
			out = append(out, &s.fam[i].mf)
		}
	}
	return out
}

// newScrape sizes every family and the label storage for the walk.
func (g *metricsGatherer) newScrape(topics, channels int) *scrape {
	q := len(g.quantiles)
	s := &scrape{
		pairs:  make([]dto.LabelPair, 0, 1+topics+channels),
		names:  make([]string, 0, 1+topics+channels),
		labels: make([]*dto.LabelPair, 0, 1+topics+2*channels+q*(2*topics+3*channels)),
	}
	for i := range s.fam {
		f := &metricFamilies[i]
		var size int
		switch f.labels {
		case "topic":
			size = topics
		case "topic, quantile":
			size = topics * q
		case "topic, channel":
			size = channels
		case "topic, channel, quantile":
			size = channels * q
		default: // daemon-wide
			size = 1
		}
		if q == 0 && strings.Contains(f.name, "_e2e_") {
			size = 0 // e2e off: the family has no series and is left out
		}
		s.fam[i].init(f, size)
	}
	return s
}

func (g *metricsGatherer) addTopic(s *scrape, t *core.Topic, topic *dto.LabelPair) {
	labels := s.labelList(topic)
	s.fam[mTopicMessages].add(labels, float64(t.MessageCount.Load()))
	s.fam[mTopicMessageBytes].add(labels, float64(t.MessageBytes.Load()))
	s.fam[mTopicDepth].add(labels, float64(t.Depth()))
	s.fam[mTopicBackendDepth].add(labels, float64(t.BackendDepth()))
	s.fam[mTopicPaused].add(labels, boolValue(t.IsPaused()))
	s.fam[mTopicCorruptions].add(labels, float64(t.DiskCorruptions()))
	if g.quantiles != nil {
		e := t.E2ELatency()
		s.fam[mTopicE2ESamples].add(labels, float64(e.Count))
		for i, p := range e.Percentiles {
			s.fam[mTopicE2E].add(s.labelList(topic, &g.quantiles[i]), e2eSeconds(&e, p))
		}
	}
}

func (g *metricsGatherer) addChannel(s *scrape, ch *core.Channel, topic *dto.LabelPair) {
	channel := s.pair(&labelChannel, ch.Name())
	labels := s.labelList(topic, channel)
	s.fam[mChannelMessages].add(labels, float64(ch.MessageCount.Load()))
	s.fam[mChannelRequeues].add(labels, float64(ch.RequeueCount.Load()))
	s.fam[mChannelTimeouts].add(labels, float64(ch.TimeoutCount.Load()))
	s.fam[mChannelFinishes].add(labels, float64(ch.FinishCount.Load()))
	s.fam[mChannelDepth].add(labels, float64(ch.Depth()))
	s.fam[mChannelBackendDepth].add(labels, float64(ch.BackendDepth()))
	s.fam[mChannelInFlight].add(labels, float64(ch.InFlightCount()))
	s.fam[mChannelDeferred].add(labels, float64(ch.DeferredCount()))
	s.fam[mChannelClients].add(labels, float64(ch.ClientCount()))
	s.fam[mChannelPaused].add(labels, boolValue(ch.IsPaused()))
	s.fam[mChannelCorruptions].add(labels, float64(ch.DiskCorruptions()))
	if g.quantiles != nil {
		e := ch.E2ELatency()
		s.fam[mChannelE2ESamples].add(labels, float64(e.Count))
		for i, p := range e.Percentiles {
			s.fam[mChannelE2E].add(s.labelList(topic, channel, &g.quantiles[i]), e2eSeconds(&e, p))
		}
	}
}

// e2eSeconds is one percentile in seconds; NaN when the window has no
// sample (the quantile stream answers 0 then, which would read as "instant").
func e2eSeconds(e *core.E2ELatency, p core.E2EPercentile) float64 {
	if e.Count == 0 {
		return math.NaN()
	}
	return p.Value / 1e9
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
