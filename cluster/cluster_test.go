package cluster

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"nsqreactor/core"
)

func identifyLine(t *testing.T, tcpPort, httpPort int) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := appendIdentify(nil, identifyBody{"127.0.0.1", host, httpPort, tcpPort, "1.3.0"})
	return "IDENTIFY " + string(b[len("IDENTIFY\n")+4:])
}

// The commands and their order are upstream's (spec §8.2, checked against
// nsqd v1.3.0 with a fake lookupd): magic, IDENTIFY with sorted keys, then
// REGISTER/UNREGISTER as topics and channels come and go, ephemeral ones
// included; pre-creation skips ephemeral channels.
func TestRegistrationSequence(t *testing.T) {
	lk := newFakeLookupd(t)
	lk.channels["lk1"] = []string{"pre1", "pre2#ephemeral"}
	n, c, _ := testCluster(t, lookupdAt(lk.addr()))

	host, _ := os.Hostname()
	lk.expect(t, "MAGIC   V1",
		`IDENTIFY {"broadcast_address":"127.0.0.1","hostname":"`+host+`","http_port":4151,"tcp_port":4150,"version":"1.3.0"}`)
	waitConnected(t, c)

	tp, _ := n.GetTopic("lk1")
	lk.expect(t, "REGISTER lk1", "REGISTER lk1 pre1")
	tp.GetChannel("c1")
	lk.expect(t, "REGISTER lk1 c1")

	et, _ := n.GetTopic("e#ephemeral")
	lk.expect(t, "REGISTER e#ephemeral")
	ech, _ := et.GetChannel("c#ephemeral")
	lk.expect(t, "REGISTER e#ephemeral c#ephemeral")
	subscribeAndLeave(t, ech) // last client gone: channel, then topic deleted
	lk.expect(t, "UNREGISTER e#ephemeral c#ephemeral", "UNREGISTER e#ephemeral")

	if err := n.DeleteExistingTopic("lk1"); err != nil {
		t.Fatal(err)
	}
	lk.expect(t, "UNREGISTER lk1 c1", "UNREGISTER lk1 pre1", "UNREGISTER lk1")
	lk.quiet(t, 50*time.Millisecond)
}

// A runtime-created topic holds its messages until lookupd's channels are
// created, so they get the very first message; the PUB itself does not wait.
func TestPrecreatedChannelsGetFirstMessage(t *testing.T) {
	lk := newFakeLookupd(t)
	lk.channels["t"] = []string{"pre1", "pre2#ephemeral"}
	lk.delay = 200 * time.Millisecond
	n, c, _ := testCluster(t, lookupdAt(lk.addr()))
	lk.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151))
	waitConnected(t, c)

	begin := time.Now()
	tp, err := n.GetTopic("t")
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Put([]byte("first"), 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 100*time.Millisecond {
		t.Errorf("GetTopic+Put took %s while lookupd answers after 200 ms: it must not wait", d)
	}
	waitFor(t, "pre1 to receive the first message", func() bool {
		ch, err := tp.GetExistingChannel("pre1")
		return err == nil && ch.Depth() == 1
	})
	if _, err := tp.GetExistingChannel("pre2#ephemeral"); err == nil {
		t.Error("ephemeral channel pre2#ephemeral was pre-created")
	}
}

// A lookupd whose HTTP API hangs delays only the topic's start, by at most
// --http-client-request-timeout; publishing never waits.
func TestHangingLookupdNeverBlocksPublish(t *testing.T) {
	lk := newFakeLookupd(t)
	lk.delay = time.Hour
	n, c, logs := testCluster(t, func(o *core.Options) {
		o.NSQLookupdTCPAddresses = []string{lk.addr()}
		o.HTTPClientRequestTimeout = 300 * time.Millisecond
	})
	lk.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151))
	waitConnected(t, c)

	begin := time.Now()
	tp, _ := n.GetTopic("slow")
	ch, _ := tp.GetChannel("c")
	tp.Put([]byte("m"), 0)
	if d := time.Since(begin); d > 100*time.Millisecond {
		t.Errorf("GetTopic+GetChannel+Put took %s with a hanging lookupd", d)
	}
	if ch.Depth() != 0 {
		t.Error("topic delivered before channel pre-creation finished")
	}
	waitFor(t, "the topic to start after the query timed out", func() bool { return ch.Depth() == 1 })
	if d := time.Since(begin); d < 250*time.Millisecond {
		t.Errorf("topic started after %s, before the 300 ms request timeout", d)
	}
	logs.waitLog(t, "WARNING: failed to query nsqlookupd for channels to pre-create for topic slow - failed to query any nsqlookupd: ")
}

// With lookupd configured but never reached, the topic starts at once with
// upstream's error line.
func TestNoLookupdAvailable(t *testing.T) {
	lk := newFakeLookupd(t)
	addr := lk.addr()
	lk.close() // nothing listens there now
	n, _, logs := testCluster(t, lookupdAt(addr))
	tp, _ := n.GetTopic("alone")
	ch, _ := tp.GetChannel("c")
	tp.Put([]byte("m"), 0)
	waitFor(t, "the topic to start", func() bool { return ch.Depth() == 1 })
	logs.waitLog(t, "ERROR: no available nsqlookupd to query for channels to pre-create for topic alone")
}

// Without lookupd the hook starts the topic synchronously.
func TestNoLookupdConfiguredStartsAtOnce(t *testing.T) {
	n, _, logs := testCluster(t, nil)
	tp, _ := n.GetTopic("t")
	ch, _ := tp.GetChannel("c")
	tp.Put([]byte("m"), 0)
	if ch.Depth() != 1 {
		t.Fatalf("depth %d right after Put, want 1", ch.Depth())
	}
	if strings.Contains(logs.String(), "pre-create") {
		t.Errorf("pre-creation logged without lookupd:\n%s", logs)
	}
}

// When lookupd drops the connection (a restart), nsqd notices at once,
// reconnects with backoff and registers everything again, sorted.
func TestReconnectRegistersEverything(t *testing.T) {
	lk := newFakeLookupd(t)
	n, c, _ := testCluster(t, lookupdAt(lk.addr()))
	lk.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151))
	waitConnected(t, c)
	a, _ := n.GetTopic("a")
	a.GetChannel("c2")
	a.GetChannel("c1")
	n.GetTopic("b")
	lk.expect(t, "REGISTER a", "REGISTER a c2", "REGISTER a c1", "REGISTER b")

	lk.dropConns()
	lk.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151), "REGISTER a c1", "REGISTER a c2", "REGISTER b")
	a.GetChannel("c3")
	lk.expect(t, "REGISTER a c3")
}

// A lookupd that is down for a while is retried until it is back.
func TestReconnectAfterLookupdDown(t *testing.T) {
	lk := newFakeLookupd(t)
	addr := lk.addr()
	n, c, _ := testCluster(t, lookupdAt(addr))
	lk.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151))
	waitConnected(t, c)
	n.GetTopic("t")
	lk.expect(t, "REGISTER t")
	lk.close()
	time.Sleep(300 * time.Millisecond) // several failed attempts

	back := newFakeLookupdAt(t, addr)
	back.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151), "REGISTER t")
}

// PUT /config/nsqlookupd_tcp_addresses: removed peers are closed, new ones
// connect and register everything.
func TestSetLookupdAddresses(t *testing.T) {
	lkA, lkB := newFakeLookupd(t), newFakeLookupd(t)
	n, c, logs := testCluster(t, lookupdAt(lkA.addr()))
	lkA.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151))
	waitConnected(t, c)
	n.GetTopic("t")
	lkA.expect(t, "REGISTER t")

	c.SetLookupdAddresses([]string{lkB.addr(), lkB.addr()})
	lkB.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151), "REGISTER t")
	logs.waitLog(t, "LOOKUP("+lkA.addr()+"): removing peer")
	if got := c.LookupdAddresses(); !slices.Equal(got, []string{lkB.addr()}) {
		t.Errorf("LookupdAddresses() = %q, want [%s]", got, lkB.addr())
	}
	n.GetTopic("u")
	lkB.expect(t, "REGISTER u")
	lkA.quiet(t, 50*time.Millisecond)
}

// PING every pingInterval.
func TestPing(t *testing.T) {
	lk := newFakeLookupd(t)
	logs := &logBuffer{}
	opts := core.NewOptions()
	opts.Logger = logs
	opts.BroadcastAddress = "127.0.0.1"
	opts.DataPath = t.TempDir()
	opts.NSQLookupdTCPAddresses = []string{lk.addr()}
	n := core.New(opts)
	c := New(n)
	c.pingInterval = 30 * time.Millisecond
	c.Start(4150, 4151)
	defer func() { c.Stop(); n.Exit() }()
	lk.expect(t, "MAGIC   V1", identifyLine(t, 4150, 4151), "PING", "PING")
}

// An IDENTIFY that lookupd refuses closes the connection and is retried;
// nothing is registered meanwhile.
func TestIdentifyRefused(t *testing.T) {
	for _, tc := range []struct{ answer, log string }{
		{"E_INVALID", "INFO: LOOKUPD(%s): lookupd returned E_INVALID"},
		{"E_BAD_BODY IDENTIFY missing fields", "ERROR: LOOKUPD(%s): parsing response - E_BAD_BODY IDENTIFY missing fields"},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			lk := newFakeLookupd(t)
			lk.identify = []byte(tc.answer)
			n, _, logs := testCluster(t, lookupdAt(lk.addr()))
			n.GetTopic("t")
			id := identifyLine(t, 4150, 4151)
			lk.expect(t, "MAGIC   V1", id, "MAGIC   V1", id)
			logs.waitLog(t, strings.Replace(tc.log, "%s", lk.addr(), 1))
		})
	}
}

// Broadcast ports: the flags win, else the listen ports; a unix socket (-1)
// registers 0.
func TestBroadcastPorts(t *testing.T) {
	for _, tc := range []struct{ flag, listen, want int }{
		{0, 4150, 4150}, {5000, 4150, 5000}, {0, -1, 0}, {0, 0, 0},
	} {
		if got := broadcastPort(tc.flag, tc.listen); got != tc.want {
			t.Errorf("broadcastPort(%d, %d) = %d, want %d", tc.flag, tc.listen, got, tc.want)
		}
	}
}

// Hooks may arrive after the object they report has gone; the registry
// follows object identity, so a late "created" cannot resurrect a deleted
// channel and a late "deleted" cannot remove its successor.
func TestLateHooksFollowIdentity(t *testing.T) {
	n, c, _ := testCluster(t, nil)
	tp, _ := n.GetTopic("t")
	old, _ := tp.GetChannel("c")
	tp.DeleteExistingChannel("c")
	c.channelCreated(old) // late
	registered := func(k regKey) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.commandLocked(k).register
	}
	if registered(regKey{"t", "c"}) {
		t.Fatal("a late created hook re-registered a deleted channel")
	}
	fresh, _ := tp.GetChannel("c")
	c.channelDeleted(old) // late
	if !registered(regKey{"t", "c"}) {
		t.Fatal("a late deleted hook unregistered the channel's successor")
	}
	n.DeleteExistingTopic("t")
	c.channelCreated(fresh)
	if registered(regKey{"t", ""}) || registered(regKey{"t", "c"}) {
		t.Fatal("a late created hook registered a channel of a deleted topic")
	}
}

func TestRegCommandWire(t *testing.T) {
	for _, tc := range []struct {
		rc         regCommand
		wire, kind string
	}{
		{regCommand{regKey{"t", ""}, true}, "REGISTER t\n", "topic"},
		{regCommand{regKey{"t", "c"}, true}, "REGISTER t c\n", "channel"},
		{regCommand{regKey{"t#ephemeral", ""}, false}, "UNREGISTER t#ephemeral\n", "topic"},
		{regCommand{regKey{"t", "c#ephemeral"}, false}, "UNREGISTER t c#ephemeral\n", "channel"},
	} {
		if got := string(tc.rc.appendTo(nil)); got != tc.wire {
			t.Errorf("wire %q, want %q", got, tc.wire)
		}
		if got := tc.rc.String(); got+"\n" != tc.wire {
			t.Errorf("String() %q, want %q", got, strings.TrimSuffix(tc.wire, "\n"))
		}
		if got := tc.rc.branch(); got != tc.kind {
			t.Errorf("branch() %q, want %q", got, tc.kind)
		}
	}
}

// Topics created between New and Start (or Stop) wait for it: Start (or
// Stop) starts them without a lookupd query; after Stop, new topics start
// at once.
func TestLifecycleStartsWaitingTopics(t *testing.T) {
	for _, viaStop := range []bool{false, true} {
		opts := core.NewOptions()
		opts.Logger = &logBuffer{}
		opts.DataPath = t.TempDir()
		opts.NSQLookupdTCPAddresses = []string{"127.0.0.1:1"} // never reached
		n := core.New(opts)
		c := New(n)
		c.SetLookupdAddresses([]string{"127.0.0.1:2"})
		tp, _ := n.GetTopic("early")
		ch, _ := tp.GetChannel("c")
		tp.Put([]byte("m"), 0)
		if ch.Depth() != 0 {
			t.Fatal("a topic created before Start delivered before Start")
		}
		if viaStop {
			c.Stop()
		} else {
			c.Start(4150, 4151)
		}
		if ch.Depth() != 1 {
			t.Fatalf("viaStop=%v: depth %d after Start/Stop, want 1", viaStop, ch.Depth())
		}
		if got := c.LookupdAddresses(); !viaStop && !slices.Equal(got, []string{"127.0.0.1:2"}) {
			t.Errorf("LookupdAddresses() = %q after SetLookupdAddresses before Start", got)
		}
		c.Stop()
		c.Stop() // idempotent
		late, _ := n.GetTopic("late")
		lch, _ := late.GetChannel("c")
		late.Put([]byte("m"), 0)
		if lch.Depth() != 1 {
			t.Fatalf("viaStop=%v: a topic created after Stop did not start at once", viaStop)
		}
		n.Exit()
	}
}
