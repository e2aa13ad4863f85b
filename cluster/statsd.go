package cluster

import (
	"net"
	"strconv"
	"strings"
	"time"

	"nsqreactor/core"
)

// statsd (--statsd-address): every --statsd-interval, upstream's metrics as
// statsd lines "<prefix><name>:<value>|c" (counter: the change since the
// previous push) or "|g" (gauge), packed into UDP datagrams of at most
// --statsd-udp-packet-size bytes (a line is never split; a longer line goes
// alone) and spread evenly over the interval minus one second:
//
//	topic.<T>.message_count|c  .message_bytes|c  .depth|g  .backend_depth|g
//	topic.<T>.e2e_processing_latency_<P>|g                    per percentile
//	topic.<T>.channel.<C>.message_count|c  .depth|g  .backend_depth|g
//	  .in_flight_count|g  .deferred_count|g  .requeue_count|c  .timeout_count|c
//	  .clients|g  .e2e_processing_latency_<P>|g
//	mem.heap_objects|g  .heap_idle_bytes|g  .heap_in_use_bytes|g
//	  .heap_released_bytes|g  .gc_pause_usec_100|g  _99|g  _95|g  .next_gc_bytes|g
//	  .gc_runs|c                                              with --statsd-mem-stats
//
// Names are verbatim (including "#ephemeral"); --statsd-exclude-ephemeral
// skips ephemeral topics and channels. Verified against nsqd v1.3.0.

// defaultPacketSize is what upstream's bufio writer falls back to when
// --statsd-udp-packet-size is not positive.
const defaultPacketSize = 4096

// packer builds the datagrams of one push.
type packer struct {
	prefix  string
	size    int
	buf     []byte
	packets [][]byte
}

// add appends one line, starting a new datagram if it does not fit.
func (p *packer) add(name string, value int64, kind string) {
	var line [256]byte
	l := append(line[:0], p.prefix...)
	l = append(l, name...)
	l = append(l, ':')
	l = strconv.AppendInt(l, value, 10)
	l = append(l, '|')
	l = append(l, kind...)
	l = append(l, '\n')
	if len(l) > p.size-len(p.buf) {
		p.flush()
	}
	if len(l) > p.size {
		p.packets = append(p.packets, append([]byte(nil), l...))
		return
	}
	p.buf = append(p.buf, l...)
}

func (p *packer) counter(name string, delta uint64) { p.add(name, int64(delta), "c") }
func (p *packer) gauge(name string, value int64)    { p.add(name, value, "g") }

func (p *packer) flush() {
	if len(p.buf) > 0 {
		p.packets = append(p.packets, p.buf)
		p.buf = make([]byte, 0, p.size)
	}
}

// statsdCounts are the counter values of the previous push, by topic and
// by topic + "\x00" + channel.
type statsdCounts struct {
	topics   map[string][2]uint64 // message_count, message_bytes
	channels map[string][3]uint64 // message_count, requeue_count, timeout_count
	gcRuns   uint32
}

func (c *Cluster) startStatsd() {
	interval := c.opts.StatsdInterval
	if interval <= 0 {
		c.log.Logf(core.LogLevelError, "STATSD: invalid --statsd-interval %s, not pushing", interval)
		return
	}
	_, httpPort := c.BroadcastPorts()
	prefix := core.StatsdPrefix(c.opts.StatsdPrefix, c.opts.BroadcastAddress, httpPort)
	c.wg.Add(1)
	go c.statsdLoop(interval, prefix)
}

func (c *Cluster) statsdLoop(interval time.Duration, prefix string) {
	defer c.wg.Done()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last statsdCounts
	for {
		select {
		case <-c.exitCh:
			c.log.Logf(core.LogLevelInfo, "STATSD: closing")
			return
		case <-ticker.C:
		}
		addr := c.opts.StatsdAddress
		conn, err := net.DialTimeout("udp", addr, time.Second)
		if err != nil {
			c.log.Logf(core.LogLevelError, "failed to create UDP socket to statsd(%s)", addr)
			continue
		}
		c.log.Logf(core.LogLevelInfo, "STATSD: pushing stats to %s", addr)
		p := &packer{prefix: prefix, size: c.opts.StatsdUDPPacketSize}
		if p.size <= 0 {
			p.size = defaultPacketSize
		}
		p.buf = make([]byte, 0, p.size)
		last = c.collectStats(p, last)
		if c.opts.StatsdMemStats {
			last.gcRuns = memMetrics(p, last.gcRuns)
		}
		p.flush()
		c.spread(conn, p.packets, interval-time.Second)
		conn.Close()
	}
}

// collectStats adds the topic and channel metrics from the /stats snapshot
// (as upstream, so both always agree) and returns the counters to diff
// against next time (all topics, excluded ones too, as upstream).
func (c *Cluster) collectStats(p *packer, last statsdCounts) statsdCounts {
	next := statsdCounts{topics: make(map[string][2]uint64), channels: make(map[string][3]uint64)}
	exclude := c.opts.StatsdExcludeEphemeral
	stats := c.nsqd.GetStats("", "", false)
	for _, ts := range stats.Topics {
		name := ts.TopicName
		next.topics[name] = [2]uint64{ts.MessageCount, ts.MessageBytes}
		skipTopic := exclude && strings.HasSuffix(name, "#ephemeral")
		base := "topic." + name
		if !skipTopic {
			prev := last.topics[name]
			p.counter(base+".message_count", ts.MessageCount-prev[0])
			p.counter(base+".message_bytes", ts.MessageBytes-prev[1])
			p.gauge(base+".depth", ts.Depth)
			p.gauge(base+".backend_depth", ts.BackendDepth)
			e2eGauges(p, base, ts.E2eProcessingLatency)
		}
		for _, cs := range ts.Channels {
			key := name + "\x00" + cs.ChannelName
			next.channels[key] = [3]uint64{cs.MessageCount, cs.RequeueCount, cs.TimeoutCount}
			if skipTopic || exclude && strings.HasSuffix(cs.ChannelName, "#ephemeral") {
				continue
			}
			prev := last.channels[key]
			cb := base + ".channel." + cs.ChannelName
			p.counter(cb+".message_count", cs.MessageCount-prev[0])
			p.gauge(cb+".depth", cs.Depth)
			p.gauge(cb+".backend_depth", cs.BackendDepth)
			p.gauge(cb+".in_flight_count", int64(cs.InFlightCount))
			p.gauge(cb+".deferred_count", int64(cs.DeferredCount))
			p.counter(cb+".requeue_count", cs.RequeueCount-prev[1])
			p.counter(cb+".timeout_count", cs.TimeoutCount-prev[2])
			p.gauge(cb+".clients", int64(cs.ClientCount))
			e2eGauges(p, cb, cs.E2eProcessingLatency)
		}
	}
	return next
}

// e2eGauges adds <base>.e2e_processing_latency_<P> for each percentile,
// P = quantile×100 rounded ("%.0f"), value in ns.
func e2eGauges(p *packer, base string, e core.E2ELatency) {
	for _, q := range e.Percentiles {
		p.gauge(base+".e2e_processing_latency_"+strconv.FormatFloat(q.Quantile*100, 'f', 0, 64), int64(q.Value))
	}
}

// spread writes the packets evenly over d (the first at once); when d is
// not positive, or on Stop, the rest go at once. Upstream panics when the
// interval is 1 s or less.
func (c *Cluster) spread(conn net.Conn, packets [][]byte, d time.Duration) {
	var gap time.Duration
	if d > 0 && len(packets) > 0 {
		gap = d / time.Duration(len(packets))
	}
	for i, pkt := range packets {
		if i > 0 && gap > 0 {
			select {
			case <-time.After(gap):
			case <-c.exitCh:
				gap = 0
			}
		}
		conn.Write(pkt) // UDP: a lost datagram is a lost sample, as upstream
	}
}
