package core

import (
	"cmp"
	"slices"
)

// Stats is a point-in-time snapshot of the daemon for GET /stats: upstream's
// nsqd.Stats. It owns all its memory; nothing in it is shared with core.
type Stats struct {
	// Topics sorted by name. nil when a topic filter names a topic that
	// does not exist; otherwise non-nil (possibly empty), as upstream.
	Topics []TopicStats
	// Producers are the connections that have published, in no particular
	// order; nil when clients were not requested or there are none.
	Producers []ClientStats
}

// TopicStats is one topic's /stats entry. Field order and JSON names are
// upstream's (nsqd.TopicStats), which is the wire order.
type TopicStats struct {
	TopicName            string         `json:"topic_name"`
	Channels             []ChannelStats `json:"channels"` // sorted by name; never nil
	Depth                int64          `json:"depth"`    // memory + disk
	BackendDepth         int64          `json:"backend_depth"`
	MessageCount         uint64         `json:"message_count"`
	MessageBytes         uint64         `json:"message_bytes"`
	Paused               bool           `json:"paused"`
	E2eProcessingLatency E2ELatency     `json:"e2e_processing_latency"`
}

// ChannelStats is one channel's /stats entry (upstream's nsqd.ChannelStats,
// same field order and JSON names).
type ChannelStats struct {
	ChannelName          string        `json:"channel_name"`
	Depth                int64         `json:"depth"` // queued, memory + disk; excludes in flight and deferred
	BackendDepth         int64         `json:"backend_depth"`
	InFlightCount        int           `json:"in_flight_count"`
	DeferredCount        int           `json:"deferred_count"`
	MessageCount         uint64        `json:"message_count"`
	ZoneLocalMsgCount    uint64        `json:"zone_local_msg_count,omitempty"`
	RegionLocalMsgCount  uint64        `json:"region_local_msg_count,omitempty"`
	GlobalMsgCount       uint64        `json:"global_msg_count,omitempty"`
	RequeueCount         uint64        `json:"requeue_count"`
	TimeoutCount         uint64        `json:"timeout_count"`
	ClientCount          int           `json:"client_count"`
	Clients              []ClientStats `json:"clients"` // nil unless clients were requested
	Paused               bool          `json:"paused"`
	E2eProcessingLatency E2ELatency    `json:"e2e_processing_latency"`
}

// E2ELatency is an end-to-end processing latency summary (upstream's
// quantile.Result). Percentiles is nil when no percentile is configured.
type E2ELatency struct {
	Count       int             `json:"count"`
	Percentiles []E2EPercentile `json:"percentiles"`
}

// E2EPercentile is one configured quantile and its value in nanoseconds.
type E2EPercentile struct {
	Quantile float64 `json:"quantile"`
	Value    float64 `json:"value"`
}

// GetStats takes the /stats snapshot with upstream's filters: a non-empty
// topic restricts the result to that topic (Topics is nil if it does not
// exist, and then Producers is nil too); a non-empty channel keeps only that
// channel and drops the topics that lack it; includeClients adds each
// channel's subscribers and the producers. The topic filter is also passed to
// Client.Stats, which restricts pub_counts to it.
//
// DELIBERATE DIFFERENCE (spec §10.9): without a topic filter upstream's
// pub_counts holds one arbitrary topic of a connection that published to
// several (a stray break in its loop); ours holds every topic, as the
// Client implementation returns them (test/compat TestHTTPStatsPubCounts).
//
// Safe for concurrent use. No core lock is held while Client.Stats runs: the
// registry, channel lists and subscriber lists are copied under their locks
// (or read from their lock-free snapshots) and the clients are asked
// afterwards, so a slow /stats never stalls publishers or event loops.
func (n *NSQD) GetStats(topic, channel string, includeClients bool) Stats {
	var topics []*Topic
	if topic == "" {
		topics = n.Topics()
		slices.SortFunc(topics, func(a, b *Topic) int { return cmp.Compare(a.name, b.name) })
	} else {
		t, err := n.GetExistingTopic(topic)
		if err != nil {
			return Stats{}
		}
		topics = []*Topic{t}
	}

	e2e := len(n.opts.E2EProcessingLatencyPercentiles) > 0 // else the zero E2ELatency is the answer
	stats := Stats{Topics: make([]TopicStats, 0, len(topics))}
	for _, t := range topics {
		chans := t.Channels() // a fresh slice, sorted by name
		if channel != "" {
			i := slices.IndexFunc(chans, func(ch *Channel) bool { return ch.name == channel })
			if i < 0 {
				continue // upstream omits topics without the filtered channel
			}
			chans = chans[i : i+1]
		}
		ts := TopicStats{
			TopicName:    t.name,
			Channels:     make([]ChannelStats, 0, len(chans)),
			Depth:        t.Depth(),
			BackendDepth: t.BackendDepth(),
			MessageCount: t.MessageCount.Load(),
			MessageBytes: t.MessageBytes.Load(),
			Paused:       t.IsPaused(),
		}
		if e2e {
			// over all the topic's channels, even with a channel filter (upstream)
			ts.E2eProcessingLatency = t.E2ELatency()
		}
		for _, ch := range chans {
			ts.Channels = append(ts.Channels, ch.stats(topic, includeClients, e2e))
		}
		stats.Topics = append(stats.Topics, ts)
	}

	if includeClients {
		for _, c := range n.Producers() {
			stats.Producers = append(stats.Producers, c.Stats(topic))
		}
	}
	return stats
}

// stats is the channel's /stats entry. ch.mu is taken only to copy the
// subscriber list and read the paused flag, never around Client.Stats.
func (ch *Channel) stats(topicFilter string, includeClients, e2e bool) ChannelStats {
	cs := ChannelStats{
		ChannelName:         ch.name,
		Depth:               ch.Depth(),
		BackendDepth:        ch.BackendDepth(),
		ZoneLocalMsgCount:   ch.zoneLocalMsgs.Load(),
		RegionLocalMsgCount: ch.regionLocalMsgs.Load(),
		GlobalMsgCount:      ch.globalMsgs.Load(),
		InFlightCount:       int(ch.InFlightCount()),
		DeferredCount:       int(ch.DeferredCount()),
		MessageCount:        ch.MessageCount.Load(),
		RequeueCount:        ch.RequeueCount.Load(),
		TimeoutCount:        ch.TimeoutCount.Load(),
		ClientCount:         int(ch.ClientCount()),
		Paused:              ch.IsPaused(),
	}
	if e2e {
		cs.E2eProcessingLatency = ch.E2ELatency()
	}
	if includeClients {
		subs := ch.Subscriptions()
		cs.ClientCount = len(subs)
		cs.Clients = make([]ClientStats, 0, len(subs))
		for _, s := range subs {
			cs.Clients = append(cs.Clients, s.Client().Stats(topicFilter))
		}
	}
	return cs
}
