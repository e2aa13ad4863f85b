package compat

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Spec §2.2 and §4.3: a delivered message carries the publish timestamp,
// attempts 1 on first delivery, a 16-byte id and the exact body.
func TestPublishConsume(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "pc")
		c := subscriber(t, d, "", topic, "c")
		c.Rdy(t, 1)
		before := time.Now()
		publish(t, d, topic, "hello world!!")
		after := time.Now()
		ft, payload := c.Next(t)
		if ft != testutil.FrameMessage || len(payload) != testutil.MsgHeaderSize+13 {
			t.Fatalf("got %s frame of %d bytes, want a message frame of 26+13 bytes", testutil.FrameTypeName(ft), len(payload))
		}
		m, _ := testutil.DecodeMessage(payload)
		if string(m.Body) != "hello world!!" || m.Attempts != 1 {
			t.Fatalf("got body %q attempts %d, want %q attempts 1", m.Body, m.Attempts, "hello world!!")
		}
		if ts := time.Unix(0, m.Timestamp); ts.Before(before.Add(-time.Second)) || ts.After(after.Add(time.Second)) {
			t.Fatalf("got timestamp %s, want within [%s, %s]", ts, before, after)
		}
		c.Fin(t, m.ID)
		c.ExpectNoFrame(t, 200*time.Millisecond)
	})
}

// Bodies are opaque bytes: newlines, NULs, the protocol magic, and sizes up
// to --max-msg-size come through PUB, MPUB and DPUB unchanged; ids are
// unique.
func TestMessageBodiesExact(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-msg-size=4096")
		topic := uniq(t, "bodies")
		max := bytes.Repeat([]byte{0xa5}, 4096)
		want := [][]byte{[]byte("x"), []byte("line\nPUB x\n"), {0, 0, 0, 4, 0, 0, 0, 0}, []byte(testutil.Magic), max}
		c := subscriber(t, d, "", topic, "c")
		p := testutil.Dial(t, d.TCPAddr)
		for _, b := range want {
			p.Pub(t, topic, b)
		}
		p.MPUB(t, topic, want...)
		p.ExpectResponse(t, "OK")
		for _, b := range want {
			p.CommandBody(t, "DPUB "+topic+" 0", b)
			p.ExpectResponse(t, "OK")
		}
		c.Rdy(t, 100)
		ids := map[testutil.MessageID]bool{}
		var got [][]byte
		for range 3 * len(want) {
			m := c.ExpectMessage(t)
			if ids[m.ID] {
				t.Fatalf("id %s delivered twice", m.ID)
			}
			ids[m.ID] = true
			got = append(got, m.Body)
			c.Fin(t, m.ID)
		}
		for _, b := range want {
			if n := countBytes(got, b); n != 3 {
				t.Fatalf("body %q delivered %d times, want 3 (PUB, MPUB, DPUB)", truncate(b), n)
			}
		}
	})
}

func countBytes(list [][]byte, b []byte) int {
	n := 0
	for _, x := range list {
		if bytes.Equal(x, b) {
			n++
		}
	}
	return n
}

func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// Spec §4.4: every channel of a topic gets its own copy of every message.
func TestFanOutChannels(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "fan")
		c1 := subscriber(t, d, "", topic, "c1")
		c2 := subscriber(t, d, "", topic, "c2#ephemeral")
		c1.Rdy(t, 50)
		c2.Rdy(t, 50)
		want := bodies("m", 20)
		publish(t, d, topic, want...)
		for i, c := range []*testutil.RawConn{c1, c2} {
			got := collectFrom(t, []*testutil.RawConn{c}, len(want), true, testutil.DefaultTimeout)[0]
			slices.Sort(got)
			if w := slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
				t.Fatalf("channel %d got %q, want %q", i+1, got, w)
			}
			c.ExpectNoFrame(t, 200*time.Millisecond)
		}
	})
}

// Spec §4.6: consumers of one channel share its messages: each message is
// delivered once in total.
func TestChannelSharing(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "share")
		var conns []*testutil.RawConn
		for range 3 {
			c := subscriber(t, d, "", topic, "c")
			c.Rdy(t, 4)
			conns = append(conns, c)
		}
		want := bodies("m", 60)
		publish(t, d, topic, want...)
		perConn := collectFrom(t, conns, len(want), true, 10*time.Second)
		var all []string
		for i, got := range perConn {
			t.Logf("consumer %d got %d messages", i, len(got))
			all = append(all, got...)
		}
		slices.Sort(all)
		if w := slices.Sorted(slices.Values(want)); !slices.Equal(all, w) {
			t.Fatalf("got %q, want each of %q exactly once", all, w)
		}
		for _, c := range conns {
			c.ExpectNoFrame(t, 100*time.Millisecond)
		}
	})
}

// Spec §4.6: RDY is a max-in-flight window, not a credit: with RDY 2 two
// messages arrive, and FINing one lets a third arrive without a new RDY.
func TestRdyWindow(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "window")
		c := subscriber(t, d, "", topic, "c")
		publish(t, d, topic, bodies("m", 5)...)
		c.Rdy(t, 2)
		ms := c.ExpectMessages(t, 2)
		c.ExpectNoFrame(t, 400*time.Millisecond)
		c.Fin(t, ms[0].ID)
		ms = append(ms, c.ExpectMessage(t))
		c.ExpectNoFrame(t, 400*time.Millisecond)
		// REQ frees a slot too (the requeued message may be the one that comes back).
		c.Req(t, ms[1].ID, 0)
		m := c.ExpectMessage(t)
		c.ExpectNoFrame(t, 300*time.Millisecond)
		// Lowering RDY below in-flight pauses delivery until enough are finished.
		c.Rdy(t, 1)
		c.Fin(t, ms[2].ID)
		c.ExpectNoFrame(t, 300*time.Millisecond)
		c.Fin(t, m.ID)
		c.ExpectMessage(t)
	})
}

// Spec §4.6: RDY 0 stops delivery; in-flight messages stay finishable.
func TestRdyZeroStopsDelivery(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "stop")
		c := subscriber(t, d, "", topic, "c")
		c.Rdy(t, 1)
		publish(t, d, topic, "m1")
		m1 := c.ExpectMessage(t)
		c.Rdy(t, 0)
		c.Fin(t, m1.ID)
		publish(t, d, topic, "m2", "m3")
		c.ExpectNoFrame(t, 500*time.Millisecond)
		c.Rdy(t, 5)
		got := collectFrom(t, []*testutil.RawConn{c}, 2, true, testutil.DefaultTimeout)[0]
		if slices.Sort(got); !slices.Equal(got, []string{"m2", "m3"}) {
			t.Fatalf("got %q after RDY 5, want m2 and m3", got)
		}
	})
}

// Spec §4.2: messages published to a topic without channels wait in the
// topic and all go to the first channel created; a later channel only gets
// later messages.
func TestChannelLessTopicBacklog(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "backlog")
		publish(t, d, topic, "b1", "b2", "b3")
		first := subscriber(t, d, "", topic, "first")
		first.Rdy(t, 10)
		got := collectFrom(t, []*testutil.RawConn{first}, 3, true, testutil.DefaultTimeout)[0]
		if slices.Sort(got); !slices.Equal(got, []string{"b1", "b2", "b3"}) {
			t.Fatalf("first channel got %q, want b1 b2 b3", got)
		}
		second := subscriber(t, d, "", topic, "second")
		second.Rdy(t, 10)
		second.ExpectNoFrame(t, 400*time.Millisecond)
		publish(t, d, topic, "after")
		for _, c := range []*testutil.RawConn{first, second} {
			if m := c.ExpectMessage(t); string(m.Body) != "after" {
				t.Fatalf("got %q, want %q", m.Body, "after")
			}
		}
	})
}

// Spec §4.12: an ephemeral channel is deleted when its last subscriber
// leaves (its undelivered messages with it); a durable channel keeps them.
func TestEphemeralChannelDeleted(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, tc := range []struct {
			channel   string
			subs      int  // subscribers before publishing; all but one leave first
			wantStale bool // whether the old message is still there for a newcomer
		}{
			{"durable", 1, true},
			{"eph#ephemeral", 1, false},
			{"eph2#ephemeral", 2, true}, // one subscriber stays: the channel lives
		} {
			t.Run(tc.channel, func(t *testing.T) {
				t.Parallel()
				topic := uniq(t, "eph")
				var subs []*testutil.RawConn
				for range tc.subs {
					subs = append(subs, subscriber(t, d, "", topic, tc.channel))
				}
				publish(t, d, topic, "stale")
				for _, c := range subs[:len(subs)-1] {
					c.Close()
				}
				if tc.subs == 1 {
					subs[0].Close()
				}
				awaitClientsGone(t, d, topic, tc.channel, tc.subs-1)
				c := subscriber(t, d, "", topic, tc.channel)
				publish(t, d, topic, "fresh")
				c.Rdy(t, 10)
				want := []string{"fresh"}
				if tc.wantStale {
					want = append(want, "stale")
				}
				got := collectFrom(t, []*testutil.RawConn{c}, len(want), true, testutil.DefaultTimeout)[0]
				c.ExpectNoFrame(t, 300*time.Millisecond)
				if slices.Sort(got); !slices.Equal(got, want) {
					t.Fatalf("newcomer got %q, want %q", got, want)
				}
			})
		}
	})
}

// awaitClientsGone gives the daemon time to process closed connections:
// it polls HTTP /stats when the daemon has HTTP, else waits a fixed 500 ms.
func awaitClientsGone(t *testing.T, d *testutil.Daemon, topic, channel string, want int) {
	t.Helper()
	if d.HTTPAddr == "" {
		time.Sleep(500 * time.Millisecond)
		return
	}
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for time.Now().Before(deadline) {
		if n, ok := channelClients(t, d, topic, channel); !ok || n == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("channel %s/%s still has clients after %s", topic, channel, testutil.DefaultTimeout)
}

// Spec §4.6: with sample_rate N the consumer gets about (N+1)% of the
// messages; the others are consumed from the channel and never delivered to
// anyone.
func TestSampleRate(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "sample")
		const n = 200
		c := subscriber(t, d, `{"sample_rate":50}`, topic, "c")
		c.Rdy(t, n)
		p := testutil.Dial(t, d.TCPAddr)
		p.MPUB(t, topic, bytesOf(bodies("m", n))...)
		p.ExpectResponse(t, "OK")
		got := 0
		for {
			ft, payload, err := c.TryNext(time.Second)
			if err != nil {
				break
			}
			m, err := testutil.DecodeMessage(payload)
			if ft != testutil.FrameMessage || err != nil {
				t.Fatalf("got %s %q, want messages", testutil.FrameTypeName(ft), payload)
			}
			c.Fin(t, m.ID)
			got++
		}
		if got < n/5 || got > n*4/5 {
			t.Fatalf("sample_rate 50 delivered %d of %d messages, want about half", got, n)
		}
		t.Logf("sample_rate 50 delivered %d of %d", got, n)
		// The rest is gone: a consumer without sampling gets nothing.
		c2 := subscriber(t, d, "", topic, "c")
		c2.Rdy(t, n)
		c2.ExpectNoFrame(t, 500*time.Millisecond)
	})
}

// channelClients returns the client_count of topic/channel from HTTP
// /stats, and false if the channel does not exist.
func channelClients(t *testing.T, d *testutil.Daemon, topic, channel string) (int, bool) {
	t.Helper()
	u := "http://" + d.HTTPAddr + "/stats?format=json&topic=" + url.QueryEscape(topic) + "&channel=" + url.QueryEscape(channel)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var stats struct {
		Topics []struct {
			TopicName string `json:"topic_name"`
			Channels  []struct {
				ChannelName string `json:"channel_name"`
				ClientCount int    `json:"client_count"`
			} `json:"channels"`
		} `json:"topics"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatalf("GET %s: decoding: %v", u, err)
	}
	for _, tp := range stats.Topics {
		for _, ch := range tp.Channels {
			if tp.TopicName == topic && ch.ChannelName == channel {
				return ch.ClientCount, true
			}
		}
	}
	return 0, false
}

func bytesOf(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// A consumer connection may publish (spec §1.4), including to its own topic.
func TestConsumerPublishesToOwnTopic(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "self")
		c := subscriber(t, d, "", topic, "c")
		c.CommandBody(t, "PUB "+topic, []byte("to myself"))
		c.ExpectResponse(t, "OK")
		c.Rdy(t, 1)
		if m := c.ExpectMessage(t); string(m.Body) != "to myself" {
			t.Fatalf("got %q, want %q", m.Body, "to myself")
		}
	})
}
