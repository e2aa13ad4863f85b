package compat

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"nsqreactor/internal/testutil"
)

// statsFixture builds the same state on a daemon for every /stats test:
//
//	topic sa: channel a (paused, 1 queued), channel b (1 subscriber, 1 in
//	          flight, 1 finished); 2 messages published by the producer
//	topic sb: paused, no channel, 1 message waiting (published over HTTP)
//	topic sc: no channel, nothing published
//
// The consumer identifies as client_id "cid", hostname "chost", user agent
// "cua/1"; the one TCP producer as "pid", "phost", "pua/1" and publishes
// only to sa (so that upstream's one-topic pub_counts quirk cannot show).
func statsFixture(t *testing.T, d *testutil.Daemon) {
	t.Helper()
	for _, target := range []string{
		"/topic/create?topic=sa", "/channel/create?topic=sa&channel=a", "/channel/pause?topic=sa&channel=a",
		"/topic/create?topic=sb", "/topic/pause?topic=sb", "/topic/create?topic=sc",
	} {
		if r := post(t, d.HTTPAddr, target, ""); r.Status != 200 {
			t.Fatalf("%s: %d %s", target, r.Status, r.Body)
		}
	}
	if r := post(t, d.HTTPAddr, "/pub?topic=sb", "wait"); r.Status != 200 {
		t.Fatalf("/pub: %d %s", r.Status, r.Body)
	}
	c := testutil.Dial(t, d.TCPAddr)
	c.Identify(t, `{"client_id":"cid","hostname":"chost","user_agent":"cua/1"}`)
	c.Sub(t, "sa", "b")
	c.Rdy(t, 5)
	p := testutil.Dial(t, d.TCPAddr)
	p.Identify(t, `{"client_id":"pid","hostname":"phost","user_agent":"pua/1"}`)
	p.Pub(t, "sa", []byte("m1"))
	p.Pub(t, "sa", []byte("m2"))
	m := c.ExpectMessage(t)
	c.ExpectMessage(t)
	c.Fin(t, m.ID)
	waitFor(t, "finish_count 1", func() bool {
		return strings.Contains(get(t, d.HTTPAddr, "/stats?format=json&topic=sa").Body, `"finish_count":1,`)
	})
}

const (
	statsTopicA = `{"topic_name":"sa","channels":[` +
		`{"channel_name":"a","depth":2,"backend_depth":0,"in_flight_count":0,"deferred_count":0,"message_count":2,"requeue_count":0,"timeout_count":0,"client_count":0,"clients":[],"paused":true,"e2e_processing_latency":{"count":0,"percentiles":null}},` +
		statsChannelB +
		`],"depth":0,"backend_depth":0,"message_count":2,"message_bytes":4,"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}`
	statsChannelB = `{"channel_name":"b","depth":0,"backend_depth":0,"in_flight_count":1,"deferred_count":0,"message_count":2,"requeue_count":0,"timeout_count":0,"client_count":1,"clients":[` +
		statsConsumer + `],"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}`
	statsConsumer = `{"client_id":"cid","hostname":"chost","version":"V2","remote_address":"-","state":3,"ready_count":5,"in_flight_count":1,"message_count":2,"finish_count":1,"requeue_count":0,"connect_ts":0,"sample_rate":0,"deflate":false,"snappy":false,"user_agent":"cua/1","tls":false,"tls_cipher_suite":"","tls_version":"","tls_negotiated_protocol":"","tls_negotiated_protocol_is_mutual":false}`
	statsTopicB   = `{"topic_name":"sb","channels":[],"depth":1,"backend_depth":0,"message_count":1,"message_bytes":4,"paused":true,"e2e_processing_latency":{"count":0,"percentiles":null}}`
	statsTopicC   = `{"topic_name":"sc","channels":[],"depth":0,"backend_depth":0,"message_count":0,"message_bytes":0,"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}`
	// statsProducer takes the pub_counts part.
	statsProducerHead = `{"client_id":"pid","hostname":"phost","version":"V2","remote_address":"-","state":0,"ready_count":0,"in_flight_count":0,"message_count":0,"finish_count":0,"requeue_count":0,"connect_ts":0,"sample_rate":0,"deflate":false,"snappy":false,"user_agent":"pua/1",`
	statsProducerTail = `"tls":false,"tls_cipher_suite":"","tls_version":"","tls_negotiated_protocol":"","tls_negotiated_protocol_is_mutual":false}`
	statsProducer     = statsProducerHead + `"pub_counts":[{"topic":"sa","count":2}],` + statsProducerTail
	statsHead         = `{"version":"1.3.0","health":"OK","start_time":0,"topics":`
)

// noClients turns the fixture's channels into their include_clients=false
// form: "clients" is null (client_count stays).
var noClients = strings.NewReplacer(`"clients":[]`, `"clients":null`, `"clients":[`+statsConsumer+`]`, `"clients":null`)

// Spec §5.6: the JSON document byte for byte (after blanking times,
// addresses and memory figures): key order, null vs [], omitted keys, the
// filters and the include_* switches.
func TestHTTPStatsJSON(t *testing.T) {
	mem := `,"memory":{}`
	cases := []struct{ query, want string }{
		{"", statsHead + `[` + statsTopicA + `,` + statsTopicB + `,` + statsTopicC + `]` + mem + `,"producers":[` + statsProducer + `]}`},
		{"&include_mem=false", statsHead + `[` + statsTopicA + `,` + statsTopicB + `,` + statsTopicC + `],"producers":[` + statsProducer + `]}`},
		{"&include_mem=0&include_clients=0", statsHead + `[` + noClients.Replace(statsTopicA) +
			`,` + statsTopicB + `,` + statsTopicC + `],"producers":null}`},
		{"&include_clients=false&include_mem=xyz", statsHead + `[` + noClients.Replace(statsTopicA) +
			`,` + statsTopicB + `,` + statsTopicC + `]` + mem + `,"producers":null}`},
		{"&include_clients=f&include_mem=no", statsHead + `[` + statsTopicA + `,` + statsTopicB + `,` + statsTopicC + `]` + mem + `,"producers":[` + statsProducer + `]}`},
		// a topic filter restricts pub_counts to that topic (empty → omitted)
		{"&topic=sb&include_mem=false", statsHead + `[` + statsTopicB + `],"producers":[` + statsProducerHead + statsProducerTail + `]}`},
		{"&topic=sa&include_mem=false", statsHead + `[` + statsTopicA + `],"producers":[` + statsProducer + `]}`},
		// a missing topic: topics and producers null
		{"&topic=nope&include_mem=false", statsHead + `null,"producers":null}`},
		{"&topic=bad!name&include_mem=false", statsHead + `null,"producers":null}`},
		// a channel filter drops the topics without that channel
		{"&channel=b&include_mem=false", statsHead + `[{"topic_name":"sa","channels":[` + statsChannelB + `]` +
			statsTopicA[strings.LastIndex(statsTopicA, `],"depth"`)+1:] + `],"producers":[` + statsProducer + `]}`},
		{"&channel=nope&include_mem=false", statsHead + `[],"producers":[` + statsProducer + `]}`},
		{"&topic=sc&channel=b&include_mem=false", statsHead + `[],"producers":[` + statsProducerHead + statsProducerTail + `]}`},
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		statsFixture(t, d)
		for _, tc := range cases {
			r := get(t, d.HTTPAddr, "/stats?format=json"+tc.query)
			expectHeader(t, tc.query, r, "Content-Type", "application/json; charset=utf-8")
			expectHeader(t, tc.query, r, "X-Nsq-Content-Type", "nsq; version=1.0")
			if got := normalizeJSON(r.Body); r.Status != 200 || got != tc.want {
				t.Errorf("/stats?format=json%s:\n got %d %s\nwant 200 %s", tc.query, r.Status, got, tc.want)
			}
		}
	})
}

// Spec §5.6: an empty daemon: topics [] and producers null; the memory
// object has upstream's nine keys in order; a bad query is INVALID_REQUEST.
func TestHTTPStatsEmpty(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		r := get(t, d.HTTPAddr, "/stats?format=json")
		if got, want := normalizeJSON(r.Body), statsHead+`[],"memory":{},"producers":null}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		var doc struct {
			Memory json.RawMessage `json:"memory"`
		}
		json.Unmarshal([]byte(r.Body), &doc)
		var keys []string
		dec := json.NewDecoder(strings.NewReader(string(doc.Memory)))
		dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var v uint64
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("memory.%s: %v", k, err)
			}
		}
		want := []string{"heap_objects", "heap_idle_bytes", "heap_in_use_bytes", "heap_released_bytes",
			"gc_pause_usec_100", "gc_pause_usec_99", "gc_pause_usec_95", "next_gc_bytes", "gc_total_runs"}
		if !slices.Equal(keys, want) {
			t.Errorf("memory keys %q, want %q", keys, want)
		}
		expectV1Error(t, "bad query", get(t, d.HTTPAddr, "/stats?format=json&topic=%zz"), 400, "INVALID_REQUEST")
	})
}

// Spec §5.6: the text format, line for line (after blanking times, ports
// and memory figures).
func TestHTTPStatsText(t *testing.T) {
	const want = "nsqd v1.3.0 (built w/go)\n" +
		"start_time -\n" +
		"uptime -\n" +
		"\n" +
		"Health: OK\n" +
		"\n" +
		"Memory:\n" +
		"   heap_objects             \t0\n" +
		"   heap_idle_bytes          \t0\n" +
		"   heap_in_use_bytes        \t0\n" +
		"   heap_released_bytes      \t0\n" +
		"   gc_pause_usec_100        \t0\n" +
		"   gc_pause_usec_99         \t0\n" +
		"   gc_pause_usec_95         \t0\n" +
		"   next_gc_bytes            \t0\n" +
		"   gc_total_runs            \t0\n" +
		"\n" +
		"Topics:\n" +
		"   [sa             ] depth: 0     be-depth: 0     msgs: 2        e2e%: \n" +
		"   *P [a                        ] depth: 2     be-depth: 0     inflt: 0    def: 0    re-q: 0     timeout: 0     msgs: 2        e2e%: \n" +
		"      [b                        ] depth: 0     be-depth: 0     inflt: 1    def: 0    re-q: 0     timeout: 0     msgs: 2        e2e%: \n" +
		"        [V2 chost:PORT cua/1    ] state: 3 inflt: 1    rdy: 5    fin: 1        re-q: 0        msgs: 2        connected: -\n" +
		"\n" +
		"*P [sb             ] depth: 1     be-depth: 0     msgs: 1        e2e%: \n" +
		"\n" +
		"   [sc             ] depth: 0     be-depth: 0     msgs: 0        e2e%: \n" +
		"\n" +
		"Producers:\n" +
		"   [V2 phost:PORT pua/1    ] msgs: 2        topics: sa=2 connected: -\n"
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		r := get(t, d.HTTPAddr, "/stats")
		if !strings.HasPrefix(r.Body, "Topics: None") && !strings.Contains(r.Body, "\nTopics: None\n") {
			t.Errorf("empty daemon: no \"Topics: None\" in\n%s", r.Body)
		}
		if !strings.HasSuffix(r.Body, "\nProducers: None\n") {
			t.Errorf("empty daemon: no \"Producers: None\" at the end of\n%s", r.Body)
		}
		statsFixture(t, d)
		r = get(t, d.HTTPAddr, "/stats")
		expectHeader(t, "text", r, "Content-Type", "text/plain; charset=utf-8")
		expectHeader(t, "text", r, "X-Nsq-Content-Type", "nsq; version=1.0")
		if got := normalizeText(r.Body); got != want {
			t.Errorf("text /stats:\n%s\nwant:\n%s", got, want)
		}
		// format other than "json" is text; include_* apply to text too;
		// with a topic filter a producer without pub_counts for it is
		// printed as a consumer (upstream's ClientStats.String)
		r = get(t, d.HTTPAddr, "/stats?format=JSON&include_mem=false&include_clients=false&topic=sb")
		if got := normalizeText(r.Body); strings.Contains(got, "Memory:") || !strings.Contains(got, "*P [sb") || !strings.HasSuffix(got, "\nProducers: None\n") {
			t.Errorf("filtered text /stats:\n%s", got)
		}
		r = get(t, d.HTTPAddr, "/stats?topic=sb&include_mem=false")
		if got := normalizeText(r.Body); !strings.HasSuffix(got, "Producers:\n   [V2 phost:PORT pua/1    ] state: 0 inflt: 0    rdy: 0    fin: 0        re-q: 0        msgs: 0        connected: -\n") {
			t.Errorf("producer under a topic filter:\n%s", got)
		}
	})
}

// Spec §10.9, DELIBERATE DIFFERENCE: without a topic filter upstream's
// pub_counts lists only one (arbitrary) topic of a connection that
// published to several; ours lists every topic (sorted), which is what the
// field means. With a topic filter both list just that topic.
func TestHTTPStatsPubCounts(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		p := testutil.Dial(t, d.TCPAddr)
		p.Pub(t, "pc1", []byte("x"))
		p.Pub(t, "pc2", []byte("x"))
		p.Pub(t, "pc2", []byte("x"))
		subscriber(t, d, "", "pc1", "c") // a consumer that never published is not a producer
		type doc struct {
			Producers []struct {
				PubCounts []struct {
					Topic string `json:"topic"`
					Count int    `json:"count"`
				} `json:"pub_counts"`
			} `json:"producers"`
		}
		read := func(query string) doc {
			var v doc
			r := get(t, d.HTTPAddr, "/stats?format=json&include_mem=false"+query)
			if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
				t.Fatal(err)
			}
			if len(v.Producers) != 1 {
				t.Fatalf("%s: %d producers, want 1: %s", query, len(v.Producers), r.Body)
			}
			return v
		}
		all := read("").Producers[0].PubCounts
		if impl.Ours {
			if len(all) != 2 || all[0].Topic != "pc1" || all[0].Count != 1 || all[1].Topic != "pc2" || all[1].Count != 2 {
				t.Errorf("pub_counts %+v, want pc1=1, pc2=2", all)
			}
		} else if len(all) != 1 {
			t.Errorf("upstream pub_counts %+v: the one-topic quirk is gone?", all)
		}
		if f := read("&topic=pc2").Producers[0].PubCounts; len(f) != 1 || f[0].Topic != "pc2" || f[0].Count != 2 {
			t.Errorf("pub_counts with topic=pc2: %+v, want pc2=2", f)
		}
		// a producer that disconnects is no longer listed
		p.Close()
		waitFor(t, "producers null", func() bool {
			return strings.Contains(get(t, d.HTTPAddr, "/stats?format=json&include_mem=false").Body, `"producers":null`)
		})
	})
}
