package cluster

import (
	"fmt"
	"slices"
	"testing"

	"nsqreactor/internal/testutil"
)

// upstream nsqadmin pointed at nsqlookupd shows the three nodes and their
// topics; /api/topics/<t> aggregates every node's /stats.
func TestNSQAdmin(t *testing.T) { forEachImpl(t, testNSQAdmin) }

func testNSQAdmin(t *testing.T, impl testutil.Impl) {
	lk := startLookupd(t, "127.0.0.1:0", "127.0.0.1:0")
	cluster := []*testutil.Daemon{startNode(t, impl, lk), startNode(t, impl, lk), startNode(t, impl, lk)}
	if cluster[0].HTTPAddr == "" {
		t.Skip("this nsqd has no HTTP listener (issue #4): nsqadmin needs its /info and /stats")
	}
	const topic = "adm_topic"
	for i, d := range cluster {
		publish(t, d, topic, fmt.Sprintf("n%d", i), i+1) // 1+2+3 messages
	}
	admin := startProc(t, upstreamBin(t, "nsqadmin"), false,
		"--http-address=127.0.0.1:0", "--lookupd-http-address="+lk.HTTPAddr)
	api := "http://" + admin.HTTPAddr + "/api"

	eventually(t, "nsqadmin /api/nodes lists the three nodes with the topic", func() error {
		var v struct {
			Nodes []struct {
				lookupdProducer
				Topics []struct{ Topic string } `json:"topics"`
			} `json:"nodes"`
		}
		if err := getJSON(api+"/nodes", &v); err != nil {
			return err
		}
		got := make([]lookupdProducer, len(v.Nodes))
		for i, n := range v.Nodes {
			got[i] = n.lookupdProducer
			got[i].Topics = nil
			if !slices.ContainsFunc(n.Topics, func(x struct{ Topic string }) bool { return x.Topic == topic }) {
				return fmt.Errorf("node %d topics %+v lack %s", n.TCPPort, n.Topics, topic)
			}
		}
		return checkProducers(t, got, cluster, "")
	})

	eventually(t, "nsqadmin /api/topics lists the topic", func() error {
		var v struct{ Topics []string }
		if err := getJSON(api+"/topics", &v); err != nil {
			return err
		}
		if !slices.Contains(v.Topics, topic) {
			return fmt.Errorf("topics %q lack %s", v.Topics, topic)
		}
		return nil
	})

	eventually(t, "nsqadmin /api/topics/"+topic+" sums the nodes' /stats", func() error {
		var v struct {
			MessageCount int64 `json:"message_count"`
			Depth        int64 `json:"depth"`
			Nodes        []struct {
				Node         string `json:"node"`
				MessageCount int64  `json:"message_count"`
			} `json:"nodes"`
		}
		if err := getJSON(api+"/topics/"+topic, &v); err != nil {
			return err
		}
		if len(v.Nodes) != 3 || v.MessageCount != 6 || v.Depth != 6 {
			return fmt.Errorf("got %+v, want 3 nodes, message_count 6, depth 6", v)
		}
		return nil
	})
}
