package cluster

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"nsqreactor/internal/testutil"
)

// lookupdProducer is one producer in nsqlookupd's /nodes and /lookup.
type lookupdProducer struct {
	BroadcastAddress string   `json:"broadcast_address"`
	Hostname         string   `json:"hostname"`
	TCPPort          int      `json:"tcp_port"`
	HTTPPort         int      `json:"http_port"`
	Version          string   `json:"version"`
	Topics           []string `json:"topics"` // /nodes only
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// wantProducer is what lookupd must report for d.
func wantProducer(t *testing.T, d *testutil.Daemon) lookupdProducer {
	t.Helper()
	httpPort := 1 // startNode's placeholder
	if d.HTTPAddr != "" {
		httpPort = port(t, d.HTTPAddr)
	}
	return lookupdProducer{BroadcastAddress: "127.0.0.1", TCPPort: port(t, d.TCPAddr), HTTPPort: httpPort, Version: "1.3.0"}
}

// checkProducers compares got with the producers expected for nodes (any
// order), each carrying topic when topic is not "".
func checkProducers(t *testing.T, got []lookupdProducer, nodes []*testutil.Daemon, topic string) error {
	if len(got) != len(nodes) {
		return fmt.Errorf("%d producers %+v, want %d", len(got), got, len(nodes))
	}
	for _, d := range nodes {
		want := wantProducer(t, d)
		i := slices.IndexFunc(got, func(p lookupdProducer) bool { return p.TCPPort == want.TCPPort })
		if i < 0 {
			return fmt.Errorf("no producer with tcp_port %d in %+v", want.TCPPort, got)
		}
		p := got[i]
		if p.BroadcastAddress != want.BroadcastAddress || p.HTTPPort != want.HTTPPort || p.Version != want.Version || p.Hostname == "" {
			return fmt.Errorf("producer %+v, want %+v and a hostname", p, want)
		}
		if topic != "" && p.Topics != nil && !slices.Contains(p.Topics, topic) {
			return fmt.Errorf("producer %d topics %q lack %q", p.TCPPort, p.Topics, topic)
		}
	}
	return nil
}

func nodes(lk *proc) ([]lookupdProducer, error) {
	var v struct{ Producers []lookupdProducer }
	err := getJSON("http://"+lk.HTTPAddr+"/nodes", &v)
	return v.Producers, err
}

func lookup(lk *proc, topic string) ([]lookupdProducer, error) {
	var v struct{ Producers []lookupdProducer }
	err := getJSON("http://"+lk.HTTPAddr+"/lookup?topic="+url.QueryEscape(topic), &v)
	if err == errNotFound {
		return nil, nil
	}
	return v.Producers, err
}

// publish PUBs n bodies "<prefix>-i" to topic on d.
func publish(t *testing.T, d *testutil.Daemon, topic, prefix string, n int) []string {
	t.Helper()
	c := testutil.Dial(t, d.TCPAddr)
	defer c.Close()
	var sent []string
	for i := range n {
		body := fmt.Sprintf("%s-%d", prefix, i)
		c.Pub(t, topic, []byte(body))
		sent = append(sent, body)
	}
	return sent
}

// received is what a go-nsq consumer got.
type received struct {
	mu     sync.Mutex
	bodies map[string]int
}

func (r *received) HandleMessage(m *nsq.Message) error {
	r.mu.Lock()
	r.bodies[string(m.Body)]++
	r.mu.Unlock()
	return nil
}

func (r *received) missing(bodies []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var miss []string
	for _, b := range bodies {
		if r.bodies[b] == 0 {
			miss = append(miss, b)
		}
	}
	return miss
}

// logCollector keeps go-nsq's log for the failure report.
type logCollector struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logCollector) Output(_ int, s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s + "\n")
	return nil
}

// consumeViaLookupd starts a go-nsq consumer of topic/channel that finds
// its nsqd through lk (polling every 200 ms); it is stopped in t.Cleanup.
func consumeViaLookupd(t *testing.T, lk *proc, topic, channel string) *received {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.LookupdPollInterval = 200 * time.Millisecond
	cfg.MaxInFlight = 10
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logCollector{}
	c.SetLogger(logs, nsq.LogLevelInfo)
	r := &received{bodies: map[string]int{}}
	c.AddHandler(r)
	if err := c.ConnectToNSQLookupd(lk.HTTPAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		select {
		case <-c.StopChan:
		case <-time.After(10 * time.Second):
			t.Error("go-nsq consumer did not stop within 10 s")
		}
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("go-nsq log:\n%s", logs.b.String())
			logs.mu.Unlock()
		}
	})
	return r
}

// restartLookupd stops lk and starts a new nsqlookupd on the same ports.
func restartLookupd(t *testing.T, lk *proc) *proc {
	t.Helper()
	lk.stop()
	return startLookupd(t, lk.TCPAddr, lk.HTTPAddr)
}

// Three nsqd behind upstream's nsqlookupd: registration, discovery by a
// go-nsq consumer, channel pre-creation, unregistration, a lookupd restart
// and a node restart. The steps share the cluster and run in order.
func TestClusterOfThree(t *testing.T) { forEachImpl(t, testClusterOfThree) }

func testClusterOfThree(t *testing.T, impl testutil.Impl) {
	top := t // owns what outlives a step: the consumer, lookupd, the nodes
	lk := startLookupd(t, "127.0.0.1:0", "127.0.0.1:0")
	cluster := []*testutil.Daemon{startNode(t, impl, lk), startNode(t, impl, lk), startNode(t, impl, lk)}
	const topic = "cl_topic"

	t.Run("nodes", func(t *testing.T) {
		eventually(t, "lookupd /nodes lists the three nodes", func() error {
			got, err := nodes(lk)
			if err != nil {
				return err
			}
			return checkProducers(t, got, cluster, "")
		})
	})

	var sent []string
	var r *received
	t.Run("consume-via-lookupd", func(t *testing.T) {
		for i, d := range cluster {
			sent = append(sent, publish(t, d, topic, fmt.Sprintf("node%d", i), 10)...)
		}
		eventually(t, "lookupd /lookup lists the three nodes for the topic", func() error {
			got, err := lookup(lk, topic)
			if err != nil {
				return err
			}
			return checkProducers(t, got, cluster, "")
		})
		r = consumeViaLookupd(top, lk, topic, "c")
		eventually(t, "the consumer receives every message from the three nodes", func() error {
			if miss := r.missing(sent); len(miss) > 0 {
				return fmt.Errorf("missing %d of %d: %q", len(miss), len(sent), miss)
			}
			return nil
		})
	})

	// A topic new to a node gets the channels lookupd knows before its first
	// message is distributed: both channels receive it.
	t.Run("precreate", func(t *testing.T) {
		base := "http://" + lk.HTTPAddr
		post(t, base+"/channel/create?topic=pre_topic&channel=pc1")
		post(t, base+"/channel/create?topic=pre_topic&channel=pc2")
		publish(t, cluster[1], "pre_topic", "pre", 1)
		for _, ch := range []string{"pc1", "pc2"} {
			c := testutil.Dial(t, cluster[1].TCPAddr)
			c.Sub(t, "pre_topic", ch)
			c.Rdy(t, 1)
			if m := c.ExpectMessage(t); string(m.Body) != "pre-0" {
				t.Fatalf("channel %s got %q, want pre-0", ch, m.Body)
			}
			c.Close()
		}
	})

	t.Run("unregister", func(t *testing.T) {
		const eph = "eph#ephemeral"
		c := testutil.Dial(t, cluster[0].TCPAddr)
		c.Sub(t, eph, "c#ephemeral")
		eventually(t, "the ephemeral topic is registered", func() error {
			got, err := lookup(lk, eph)
			if err != nil {
				return err
			}
			return checkProducers(t, got, cluster[:1], "")
		})
		c.Close() // last subscriber: channel deleted, then the ephemeral topic
		eventually(t, "the ephemeral topic is unregistered", func() error {
			got, err := lookup(lk, eph)
			if err != nil || len(got) > 0 {
				return fmt.Errorf("producers %+v (%v), want none", got, err)
			}
			return nil
		})
		if cluster[2].HTTPAddr == "" {
			t.Log("HTTP /topic/delete not checked: this nsqd has no HTTP listener")
			return
		}
		publish(t, cluster[2], "del_topic", "del", 1)
		eventually(t, "del_topic is registered", func() error {
			got, err := lookup(lk, "del_topic")
			if err != nil {
				return err
			}
			return checkProducers(t, got, cluster[2:], "")
		})
		post(t, "http://"+cluster[2].HTTPAddr+"/topic/delete?topic=del_topic")
		eventually(t, "the deleted topic is unregistered", func() error {
			got, err := lookup(lk, "del_topic")
			if err != nil || len(got) > 0 {
				return fmt.Errorf("producers %+v (%v), want none", got, err)
			}
			return nil
		})
	})

	// lookupd forgets everything when it restarts; the nodes reconnect and
	// register it all again. DELIBERATE DIFFERENCE: upstream notices at its
	// next 15 s PING and reconnects at the PING after (15–30 s); ours sees
	// the closed connection at once and retries with a 250 ms–15 s backoff.
	t.Run("lookupd-restart", func(t *testing.T) {
		bound := 10 * time.Second
		if !impl.Ours {
			bound = 35 * time.Second
		}
		lk = restartLookupd(top, lk)
		eventuallyWithin(t, bound, "the nodes re-register with the restarted lookupd", func() error {
			got, err := nodes(lk)
			if err != nil {
				return err
			}
			return checkProducers(t, got, cluster, topic)
		})
	})

	t.Run("node-restart", func(t *testing.T) {
		if r == nil {
			t.Skip("no consumer (consume-via-lookupd failed)")
		}
		cluster[2].Stop()
		cluster[2] = startNode(top, impl, lk)
		more := publish(t, cluster[2], topic, "restarted", 5)
		eventually(t, "lookupd lists the restarted node instead of the old one", func() error {
			got, err := nodes(lk)
			if err != nil {
				return err
			}
			return checkProducers(t, got, cluster, "")
		})
		eventually(t, "the consumer receives the restarted node's messages", func() error {
			if miss := r.missing(more); len(miss) > 0 {
				return fmt.Errorf("missing %q", miss)
			}
			return nil
		})
	})
}
