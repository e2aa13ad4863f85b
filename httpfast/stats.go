package httpfast

import (
	"math"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// stats is GET /stats: format=json selects JSON, anything else text;
// topic and channel filter (no name validation; see core.NSQD.GetStats);
// include_clients and include_mem are true unless exactly "false" or "0"
// (upstream's boolParams: "true"/"1"/"false"/"0", anything else true).
//
// The snapshot is taken without holding any lock across the walk (core
// copies the lists and asks each client afterwards) and rendered by hand
// into the pooled response buffer; json_test.go checks the output against
// encoding/json.
func (s *Server) stats(ctx *fasthttp.RequestCtx, _ string) *apiError {
	q, err := s.query(ctx)
	if err != nil {
		return err
	}
	format, _ := q.get("format")
	jsonFormat := string(format) == "json"
	topic, _ := q.getString("topic")
	channel, _ := q.getString("channel")
	includeClients := statsBool(q, "include_clients")
	includeMem := statsBool(q, "include_mem")
	releaseQuery(q)

	snap := statsDoc{
		stats:     s.nsqd.GetStats(topic, channel, includeClients),
		health:    s.nsqd.Health(),
		startTime: s.nsqd.StartTime(),
	}
	if includeMem {
		m := readMemStats()
		snap.mem = &m
	}

	// Size the buffer from the previous answer, so a multi-megabyte
	// document is not grown by doubling on every request.
	b := slices.Grow(ctx.Response.SwapBody(nil)[:0], int(s.statsSizeHint.Load()))
	if jsonFormat {
		b = snap.appendJSON(b)
		ctx.Response.Header.SetContentType(contentTypeJSON)
	} else {
		b = snap.appendText(b, time.Now())
		ctx.Response.Header.SetContentType(contentTypeText)
	}
	s.statsSizeHint.Store(int64(len(b) + len(b)/8))
	ctx.Response.SwapBody(b)
	setV1Header(ctx)
	return nil
}

// statsBool is upstream's include_clients/include_mem parsing.
func statsBool(q *queryArgs, key string) bool {
	v, _ := q.get(key)
	switch string(v) {
	case "false", "0":
		return false
	}
	return true
}

// statsDoc is everything one /stats answer shows.
type statsDoc struct {
	stats     core.Stats
	health    string
	startTime time.Time
	mem       *memStats // nil: include_mem=false
}

// memStats is upstream's /stats "memory" object, from runtime.MemStats.
type memStats struct {
	HeapObjects       uint64
	HeapIdleBytes     uint64
	HeapInUseBytes    uint64
	HeapReleasedBytes uint64
	GCPauseUsec100    uint64
	GCPauseUsec99     uint64
	GCPauseUsec95     uint64
	NextGCBytes       uint64
	GCTotalRuns       uint32
}

// readMemStats reads the runtime's figures; the GC pause percentiles are
// over the last ≤256 pauses, in microseconds, picked as upstream does
// (index floor(p/100·n + 0.5), capped at n−1).
func readMemStats() memStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := min(int(ms.NumGC), len(ms.PauseNs))
	pauses := slices.Clone(ms.PauseNs[:n])
	slices.Sort(pauses)
	pct := func(p float64) uint64 {
		if n == 0 {
			return 0
		}
		i := min(int(math.Floor(p/100*float64(n)+0.5)), n-1)
		return pauses[i] / 1000
	}
	return memStats{
		HeapObjects:       ms.HeapObjects,
		HeapIdleBytes:     ms.HeapIdle,
		HeapInUseBytes:    ms.HeapInuse,
		HeapReleasedBytes: ms.HeapReleased,
		GCPauseUsec100:    pct(100),
		GCPauseUsec99:     pct(99),
		GCPauseUsec95:     pct(95),
		NextGCBytes:       ms.NextGC,
		GCTotalRuns:       ms.NumGC,
	}
}

// fields lists the memory figures in upstream's order, with their names.
func (m *memStats) fields() [9]struct {
	name  string
	value uint64
} {
	return [9]struct {
		name  string
		value uint64
	}{
		{"heap_objects", m.HeapObjects},
		{"heap_idle_bytes", m.HeapIdleBytes},
		{"heap_in_use_bytes", m.HeapInUseBytes},
		{"heap_released_bytes", m.HeapReleasedBytes},
		{"gc_pause_usec_100", m.GCPauseUsec100},
		{"gc_pause_usec_99", m.GCPauseUsec99},
		{"gc_pause_usec_95", m.GCPauseUsec95},
		{"next_gc_bytes", m.NextGCBytes},
		{"gc_total_runs", uint64(m.GCTotalRuns)},
	}
}

// appendJSON renders the document in upstream's key order:
// version, health, start_time, topics (null when a topic filter found
// nothing), memory (omitted when not requested), producers (null when
// none or not requested).
func (d *statsDoc) appendJSON(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = appendJSONString(b, core.Version)
	b = append(b, `,"health":`...)
	b = appendJSONString(b, d.health)
	b = append(b, `,"start_time":`...)
	b = strconv.AppendInt(b, d.startTime.Unix(), 10)
	b = append(b, `,"topics":`...)
	if d.stats.Topics == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range d.stats.Topics {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTopicJSON(b, &d.stats.Topics[i])
		}
		b = append(b, ']')
	}
	if d.mem != nil {
		b = append(b, `,"memory":{`...)
		for i, f := range d.mem.fields() {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, f.name...)
			b = append(b, `":`...)
			b = strconv.AppendUint(b, f.value, 10)
		}
		b = append(b, '}')
	}
	b = append(b, `,"producers":`...)
	b = appendClientsJSON(b, d.stats.Producers)
	return append(b, '}')
}

func appendTopicJSON(b []byte, t *core.TopicStats) []byte {
	b = append(b, `{"topic_name":`...)
	b = appendJSONString(b, t.TopicName)
	b = append(b, `,"channels":`...)
	if t.Channels == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range t.Channels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendChannelJSON(b, &t.Channels[i])
		}
		b = append(b, ']')
	}
	b = appendIntField(b, "depth", t.Depth)
	b = appendIntField(b, "backend_depth", t.BackendDepth)
	b = appendUintField(b, "message_count", t.MessageCount)
	b = appendUintField(b, "message_bytes", t.MessageBytes)
	b = append(b, `,"paused":`...)
	b = appendJSONBool(b, t.Paused)
	b = append(b, `,"e2e_processing_latency":`...)
	b = appendE2EJSON(b, &t.E2eProcessingLatency)
	return append(b, '}')
}

func appendChannelJSON(b []byte, c *core.ChannelStats) []byte {
	b = append(b, `{"channel_name":`...)
	b = appendJSONString(b, c.ChannelName)
	b = appendIntField(b, "depth", c.Depth)
	b = appendIntField(b, "backend_depth", c.BackendDepth)
	b = appendIntField(b, "in_flight_count", int64(c.InFlightCount))
	b = appendIntField(b, "deferred_count", int64(c.DeferredCount))
	b = appendUintField(b, "message_count", c.MessageCount)
	b = appendUintFieldOmitEmpty(b, "zone_local_msg_count", c.ZoneLocalMsgCount)
	b = appendUintFieldOmitEmpty(b, "region_local_msg_count", c.RegionLocalMsgCount)
	b = appendUintFieldOmitEmpty(b, "global_msg_count", c.GlobalMsgCount)
	b = appendUintField(b, "requeue_count", c.RequeueCount)
	b = appendUintField(b, "timeout_count", c.TimeoutCount)
	b = appendIntField(b, "client_count", int64(c.ClientCount))
	b = append(b, `,"clients":`...)
	b = appendClientsJSON(b, c.Clients)
	b = append(b, `,"paused":`...)
	b = appendJSONBool(b, c.Paused)
	b = append(b, `,"e2e_processing_latency":`...)
	b = appendE2EJSON(b, &c.E2eProcessingLatency)
	return append(b, '}')
}

func appendE2EJSON(b []byte, e *core.E2ELatency) []byte {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(e.Count), 10)
	b = append(b, `,"percentiles":`...)
	if e.Percentiles == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range e.Percentiles {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"quantile":`...)
			b = appendJSONFloat(b, p.Quantile)
			b = append(b, `,"value":`...)
			b = appendJSONFloat(b, p.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendClientsJSON(b []byte, clients []core.ClientStats) []byte {
	if clients == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range clients {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendClientJSON(b, &clients[i])
	}
	return append(b, ']')
}

func appendClientJSON(b []byte, c *core.ClientStats) []byte {
	b = append(b, `{"client_id":`...)
	b = appendJSONString(b, c.ClientID)
	b = appendStringField(b, "hostname", c.Hostname)
	b = appendStringField(b, "version", c.Version)
	b = appendStringField(b, "remote_address", c.RemoteAddress)
	b = appendIntField(b, "state", int64(c.State))
	b = appendIntField(b, "ready_count", c.ReadyCount)
	b = appendIntField(b, "in_flight_count", c.InFlightCount)
	b = appendUintField(b, "message_count", c.MessageCount)
	b = appendUintFieldOmitEmpty(b, "zone_local_msg_count", c.ZoneLocalMsgCount)
	b = appendUintFieldOmitEmpty(b, "region_local_msg_count", c.RegionLocalMsgCount)
	b = appendUintFieldOmitEmpty(b, "global_msg_count", c.GlobalMsgCount)
	b = appendUintField(b, "finish_count", c.FinishCount)
	b = appendUintField(b, "requeue_count", c.RequeueCount)
	b = appendIntField(b, "connect_ts", c.ConnectTime)
	b = appendIntField(b, "sample_rate", int64(c.SampleRate))
	b = appendBoolField(b, "deflate", c.Deflate)
	b = appendBoolField(b, "snappy", c.Snappy)
	b = appendStringField(b, "user_agent", c.UserAgent)
	if c.Authed {
		b = appendBoolField(b, "authed", true)
	}
	if c.AuthIdentity != "" {
		b = appendStringField(b, "auth_identity", c.AuthIdentity)
	}
	if c.AuthIdentityURL != "" {
		b = appendStringField(b, "auth_identity_url", c.AuthIdentityURL)
	}
	// TopologyZone/TopologyRegion are not rendered: v1.3.0 has no such
	// keys (they came later upstream), and its binary is the contract.
	if len(c.PubCounts) > 0 {
		b = append(b, `,"pub_counts":[`...)
		for i, p := range c.PubCounts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"topic":`...)
			b = appendJSONString(b, p.Topic)
			b = appendUintField(b, "count", p.Count)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendBoolField(b, "tls", c.TLS)
	b = appendStringField(b, "tls_cipher_suite", c.CipherSuite)
	b = appendStringField(b, "tls_version", c.TLSVersion)
	b = appendStringField(b, "tls_negotiated_protocol", c.TLSNegotiatedProtocol)
	b = appendBoolField(b, "tls_negotiated_protocol_is_mutual", c.TLSNegotiatedProtocolIsMutual)
	return append(b, '}')
}

// The field appenders write `,"name":value`; names are ASCII constants and
// need no escaping.

func appendStringField(b []byte, name, v string) []byte {
	b = appendFieldName(b, name)
	return appendJSONString(b, v)
}

func appendIntField(b []byte, name string, v int64) []byte {
	return strconv.AppendInt(appendFieldName(b, name), v, 10)
}

func appendUintField(b []byte, name string, v uint64) []byte {
	return strconv.AppendUint(appendFieldName(b, name), v, 10)
}

func appendUintFieldOmitEmpty(b []byte, name string, v uint64) []byte {
	if v == 0 {
		return b
	}
	return appendUintField(b, name, v)
}

func appendBoolField(b []byte, name string, v bool) []byte {
	return appendJSONBool(appendFieldName(b, name), v)
}

func appendFieldName(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}
