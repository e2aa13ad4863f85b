package httpfast

import (
	"net"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	"nsqreactor/core"
)

// appendText renders the text /stats (upstream's printStats), byte for byte:
//
//	nsqd v1.3.0 (built w/go1.26.8)
//	start_time 2026-11-24T22:35:13Z
//	uptime 2m9.944290464s
//
//	Health: OK
//
//	Memory:
//	   heap_objects             <TAB>1788
//	   …
//
//	Topics:
//	   [t1             ] depth: 0     be-depth: 0     msgs: 6        e2e%:
//	      [c1                       ] depth: 5     be-depth: 0     inflt: 0    def: 1    re-q: 0     timeout: 0     msgs: 6        e2e%:
//	        [V2 vm:36734 nsq_tail/1.3.0 go-nsq/1.1.0] state: 3 inflt: 0    rdy: 100  fin: 2        re-q: 0        msgs: 2        connected: 2s
//
//	*P [t2             ] depth: 2     be-depth: 0     msgs: 2        e2e%:
//
//	Producers:
//	   [V2 127.0.0.1:40600      ] msgs: 1        topics: t1=1 connected: 1s
//
// ("Topics: None" / "Producers: None" when empty; "*P " marks a paused
// topic, "   *P " a paused channel). Padding is fmt's: %-Ns pads to N runes.
func (d *statsDoc) appendText(b []byte, now time.Time) []byte {
	b = append(b, "nsqd v"+core.Version+" (built w/"+runtime.Version()+")\n"...)
	b = append(b, "start_time "...)
	b = d.startTime.AppendFormat(b, time.RFC3339)
	b = append(b, "\nuptime "...)
	b = append(b, now.Sub(d.startTime).String()...)
	b = append(b, "\n\nHealth: "...)
	b = append(b, d.health...)
	b = append(b, '\n')

	if d.mem != nil {
		b = append(b, "\nMemory:\n"...)
		for _, f := range d.mem.fields() {
			b = append(b, "   "...)
			b = padRight(b, f.name, 25)
			b = append(b, '\t')
			b = strconv.AppendUint(b, f.value, 10)
			b = append(b, '\n')
		}
	}

	if len(d.stats.Topics) == 0 {
		b = append(b, "\nTopics: None\n"...)
	} else {
		b = append(b, "\nTopics:"...)
	}
	for i := range d.stats.Topics {
		b = appendTopicText(b, &d.stats.Topics[i], now)
	}

	if len(d.stats.Producers) == 0 {
		return append(b, "\nProducers: None\n"...)
	}
	b = append(b, "\nProducers:\n"...)
	for i := range d.stats.Producers {
		b = append(b, "   "...)
		b = appendClientText(b, &d.stats.Producers[i], now)
		b = append(b, '\n')
	}
	return b
}

func appendTopicText(b []byte, t *core.TopicStats, now time.Time) []byte {
	b = append(b, '\n')
	if t.Paused {
		b = append(b, "*P "...)
	} else {
		b = append(b, "   "...)
	}
	b = append(b, '[')
	b = padRight(b, t.TopicName, 15)
	b = append(b, "] depth: "...)
	b = padInt(b, t.Depth, 5)
	b = append(b, " be-depth: "...)
	b = padInt(b, t.BackendDepth, 5)
	b = append(b, " msgs: "...)
	b = padUint(b, t.MessageCount, 8)
	b = append(b, " e2e%: "...)
	b = appendE2EText(b, &t.E2eProcessingLatency)
	b = append(b, '\n')
	for i := range t.Channels {
		c := &t.Channels[i]
		if c.Paused {
			b = append(b, "   *P "...)
		} else {
			b = append(b, "      "...)
		}
		b = append(b, '[')
		b = padRight(b, c.ChannelName, 25)
		b = append(b, "] depth: "...)
		b = padInt(b, c.Depth, 5)
		b = append(b, " be-depth: "...)
		b = padInt(b, c.BackendDepth, 5)
		b = append(b, " inflt: "...)
		b = padInt(b, int64(c.InFlightCount), 4)
		b = append(b, " def: "...)
		b = padInt(b, int64(c.DeferredCount), 4)
		b = append(b, " re-q: "...)
		b = padUint(b, c.RequeueCount, 5)
		b = append(b, " timeout: "...)
		b = padUint(b, c.TimeoutCount, 5)
		b = append(b, " msgs: "...)
		b = padUint(b, c.MessageCount, 8)
		b = append(b, " e2e%: "...)
		b = appendE2EText(b, &c.E2eProcessingLatency)
		b = append(b, '\n')
		for j := range c.Clients {
			b = append(b, "        "...)
			b = appendClientText(b, &c.Clients[j], now)
			b = append(b, '\n')
		}
	}
	return b
}

// appendClientText is upstream's ClientStats.String: a connection with
// pub_counts is shown as a producer, any other as a consumer (so, with a
// topic filter, a producer of other topics is shown as a consumer, as
// upstream does).
func appendClientText(b []byte, c *core.ClientStats, now time.Time) []byte {
	_, port, _ := net.SplitHostPort(c.RemoteAddress)
	b = append(b, '[')
	b = append(b, c.Version...)
	b = append(b, ' ')
	b = padRight(b, c.Hostname+":"+port+" "+c.UserAgent, 21)
	b = append(b, "] "...)
	connected := now.Sub(time.Unix(c.ConnectTime, 0)).Truncate(time.Second)
	if len(c.PubCounts) > 0 {
		var total uint64
		for _, p := range c.PubCounts {
			total += p.Count
		}
		b = append(b, "msgs: "...)
		b = padUint(b, total, 8)
		b = append(b, " topics: "...)
		for i, p := range c.PubCounts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p.Topic...)
			b = append(b, '=')
			b = strconv.AppendUint(b, p.Count, 10)
		}
	} else {
		b = append(b, "state: "...)
		b = strconv.AppendInt(b, int64(c.State), 10)
		b = append(b, " inflt: "...)
		b = padInt(b, c.InFlightCount, 4)
		b = append(b, " rdy: "...)
		b = padInt(b, c.ReadyCount, 4)
		b = append(b, " fin: "...)
		b = padUint(b, c.FinishCount, 8)
		b = append(b, " re-q: "...)
		b = padUint(b, c.RequeueCount, 8)
		b = append(b, " msgs: "...)
		b = padUint(b, c.MessageCount, 8)
	}
	b = append(b, " connected: "...)
	return append(b, connected.String()...)
}

// appendE2EText lists the percentile values, one decimal with a unit
// (upstream's quantile.Result.String); empty without percentiles. The shape
// is checked against upstream by test/compat's TestHTTPStatsTextE2E.
func appendE2EText(b []byte, e *core.E2ELatency) []byte {
	for i, p := range e.Percentiles {
		if i > 0 {
			b = append(b, ", "...)
		}
		v, unit := p.Value, "ns"
		switch {
		case v > 1e9:
			v, unit = v/1e9, "s"
		case v > 1e6:
			v, unit = v/1e6, "ms"
		case v > 1e3:
			v, unit = v/1e3, "us"
		}
		b = strconv.AppendFloat(b, v, 'f', 1, 64)
		b = append(b, unit...)
	}
	return b
}

// padRight appends s left-aligned in width runes (fmt's %-<width>s).
func padRight(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for n := utf8.RuneCountInString(s); n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

// padInt appends v left-aligned in width columns (fmt's %-<width>d).
func padInt(b []byte, v int64, width int) []byte {
	start := len(b)
	b = strconv.AppendInt(b, v, 10)
	for len(b)-start < width {
		b = append(b, ' ')
	}
	return b
}

// padUint is padInt for unsigned values.
func padUint(b []byte, v uint64, width int) []byte {
	start := len(b)
	b = strconv.AppendUint(b, v, 10)
	for len(b)-start < width {
		b = append(b, ' ')
	}
	return b
}
