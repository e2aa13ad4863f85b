package httpfast

import (
	"encoding/json"
	"math"
	"regexp"
	"testing"

	"nsqreactor/core"
)

// The hand-written appenders must produce exactly encoding/json's bytes,
// which is what upstream (and every tool parsing it) sees.

var jsonStrings = []string{
	"", "plain", `quote " and \ backslash`, "\b\f\n\r\t", "\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
	"héllo wörld ☃ 😀", "\u2028\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "#ephemeral",
	"tail\\", "\"", string([]byte{0xe2, 0x80}),
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStrings {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestAppendJSONFloat(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.5, 0.99, 1e-7, 1.5e-7, 1e-6, 123456789, 6.05e8, 1e20, 1e21, 1.234e25, -2.5e-9, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		want, _ := json.Marshal(f)
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Errorf("appendJSONFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// topologyKeys matches the two ClientStats keys that v1.3.0's JSON lacks
// (core.ClientStats has them for later upstream versions).
var topologyKeys = regexp.MustCompile(`"topology_zone":"[^"]*","topology_region":"[^"]*",`)

// sampleStats covers every field and shape: empty and non-empty lists, nil
// clients, omitempty counters and auth fields, pub_counts, percentiles.
func sampleStats() core.Stats {
	client := core.ClientStats{
		ClientID: "c<1>", Hostname: "h\"ost", Version: "V2", RemoteAddress: "127.0.0.1:1234", State: 3,
		ReadyCount: 5, InFlightCount: 2, MessageCount: 10, FinishCount: 8, RequeueCount: 1, ConnectTime: 1795564381,
		SampleRate: 10, Deflate: true, UserAgent: "ua/1 é", TopologyZone: "z", TopologyRegion: "r",
		TLS: true, CipherSuite: "Unknown 4865", TLSVersion: "TLS1.3", TLSNegotiatedProtocolIsMutual: true,
	}
	authed := client
	authed.Authed, authed.AuthIdentity, authed.AuthIdentityURL = true, "id", "http://x/?a=1&b=2"
	authed.ZoneLocalMsgCount, authed.RegionLocalMsgCount, authed.GlobalMsgCount = 1, 2, 3
	producer := client
	producer.PubCounts = []core.PubCount{{Topic: "t1", Count: 3}, {Topic: "t2", Count: 4}}
	e2e := core.E2ELatency{Count: 7, Percentiles: []core.E2EPercentile{{Quantile: 0.99, Value: 6.051e8}, {Quantile: 0.5, Value: 1234.5}}}
	return core.Stats{
		Topics: []core.TopicStats{
			{TopicName: "t1", Channels: []core.ChannelStats{
				{ChannelName: "c1", Depth: 1, BackendDepth: 2, InFlightCount: 3, DeferredCount: 4, MessageCount: 5,
					RequeueCount: 6, TimeoutCount: 7, ClientCount: 2, Clients: []core.ClientStats{client, authed}, Paused: true,
					E2eProcessingLatency: e2e},
				{ChannelName: "c2#ephemeral", ZoneLocalMsgCount: 9, GlobalMsgCount: 1, Clients: []core.ClientStats{}},
				{ChannelName: "c3", Clients: nil},
			}, Depth: 10, BackendDepth: 3, MessageCount: 11, MessageBytes: 12, Paused: true, E2eProcessingLatency: e2e},
			{TopicName: "t2", Channels: []core.ChannelStats{}},
		},
		Producers: []core.ClientStats{producer},
	}
}

// TestStatsJSONMatchesEncodingJSON renders documents with appendJSON and
// compares them with encoding/json's rendering of upstream's document
// shape.
func TestStatsJSONMatchesEncodingJSON(t *testing.T) {
	type upstreamDoc struct { // upstream's anonymous struct in doStats
		Version   string             `json:"version"`
		Health    string             `json:"health"`
		StartTime int64              `json:"start_time"`
		Topics    []core.TopicStats  `json:"topics"`
		Memory    *memStatsJSON      `json:"memory,omitempty"`
		Producers []core.ClientStats `json:"producers"`
	}
	ms := readMemStats()
	full := sampleStats()
	for name, doc := range map[string]statsDoc{
		"full":          {stats: full, health: "OK", mem: &ms},
		"no mem":        {stats: full, health: "NOK - disk <full> & broken"},
		"empty":         {stats: core.Stats{Topics: []core.TopicStats{}}, health: "OK", mem: &ms},
		"missing topic": {stats: core.Stats{}, health: "OK"},
	} {
		up := upstreamDoc{Version: core.Version, Health: doc.health, StartTime: doc.startTime.Unix(),
			Topics: doc.stats.Topics, Producers: doc.stats.Producers}
		if doc.mem != nil {
			m := memStatsJSON(*doc.mem)
			up.Memory = &m
		}
		want, err := json.Marshal(up)
		if err != nil {
			t.Fatal(err)
		}
		want = topologyKeys.ReplaceAll(want, nil)
		if got := doc.appendJSON(nil); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

// memStatsJSON is memStats with upstream's JSON tags, for the comparison.
type memStatsJSON struct {
	HeapObjects       uint64 `json:"heap_objects"`
	HeapIdleBytes     uint64 `json:"heap_idle_bytes"`
	HeapInUseBytes    uint64 `json:"heap_in_use_bytes"`
	HeapReleasedBytes uint64 `json:"heap_released_bytes"`
	GCPauseUsec100    uint64 `json:"gc_pause_usec_100"`
	GCPauseUsec99     uint64 `json:"gc_pause_usec_99"`
	GCPauseUsec95     uint64 `json:"gc_pause_usec_95"`
	NextGCBytes       uint64 `json:"next_gc_bytes"`
	GCTotalRuns       uint32 `json:"gc_total_runs"`
}
