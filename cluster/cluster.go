package cluster

import (
	"context"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"nsqreactor/core"
)

// Fixed values, as upstream (not configurable there either).
const (
	pingInterval   = 15 * time.Second // PING to every lookupd
	lookupdTimeout = time.Second      // lookupd dial, each write, each response
)

// Reconnect backoff after a lost or failed lookupd connection: it starts at
// backoffMin and doubles up to backoffMax (upstream simply retries at the
// next 15 s PING).
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 15 * time.Second
)

const (
	stateNew = iota
	stateStarted
	stateStopped
)

// Cluster is the daemon's link to nsqlookupd and statsd. Create it with New
// before the listeners accept anything, start it with Start once the listen
// ports are known, and Stop it before core's Exit. Its methods are safe for
// concurrent use.
type Cluster struct {
	nsqd     *core.NSQD
	opts     *core.Options // read-only
	log      *core.Logger
	hostname string

	// intervals; tests shorten them before Start
	pingInterval time.Duration
	backoffMin   time.Duration
	backoffMax   time.Duration

	httpClient *http.Client // lookupd /channels queries
	ctx        context.Context
	cancel     context.CancelFunc
	exitCh     chan struct{} // closed by Stop
	wg         sync.WaitGroup

	mu       sync.Mutex // guards the fields below (lock order: doc.go)
	state    int
	tcpPort  int // broadcast ports, resolved by Start
	httpPort int
	addrs    []string               // lookupd TCP addresses, deduplicated, in order
	peers    []*peer                // one per address once started
	topics   map[string]*topicEntry // what exists, as the hooks reported it
	waiting  []*core.Topic          // created before Start: started by Start
}

// topicEntry is one topic of the registry and its channels.
type topicEntry struct {
	topic    *core.Topic
	channels map[string]*core.Channel
}

// New returns the cluster link of n and installs n's lifecycle hooks. Call
// it before any topic can be created at runtime (before the listeners
// start), because core's hooks may only be set before use. Topics created
// before Start are started by Start (or at once when no lookupd is
// configured).
func New(n *core.NSQD) *Cluster {
	opts := n.Options()
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "localhost" // upstream exits; a name is only informative here
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		nsqd:         n,
		opts:         opts,
		log:          n.Logger(),
		hostname:     hostname,
		pingInterval: pingInterval,
		backoffMin:   backoffMin,
		backoffMax:   backoffMax,
		httpClient:   newHTTPClient(opts.HTTPClientConnectTimeout, opts.HTTPClientRequestTimeout),
		ctx:          ctx,
		cancel:       cancel,
		exitCh:       make(chan struct{}),
		addrs:        dedupe(opts.NSQLookupdTCPAddresses),
		topics:       make(map[string]*topicEntry),
	}
	for _, t := range n.Topics() { // e.g. loaded from nsqd.dat
		e := &topicEntry{topic: t, channels: make(map[string]*core.Channel)}
		for _, ch := range t.Channels() {
			e.channels[ch.Name()] = ch
		}
		c.topics[t.Name()] = e
	}
	n.SetHooks(core.Hooks{
		TopicCreated:   c.topicCreated,
		TopicDeleted:   c.topicDeleted,
		ChannelCreated: c.channelCreated,
		ChannelDeleted: c.channelDeleted,
	})
	return c
}

// Start connects to every lookupd and starts the statsd loop. tcpPort and
// httpPort are the real listen ports (≤ 0 for a unix socket or no HTTP
// listener); --broadcast-tcp-port / --broadcast-http-port override them when
// non-zero, as upstream. Start returns at once; connections are made in the
// background. Calls after the first are no-ops.
func (c *Cluster) Start(tcpPort, httpPort int) {
	c.mu.Lock()
	if c.state != stateNew {
		c.mu.Unlock()
		return
	}
	c.state = stateStarted
	c.tcpPort = broadcastPort(c.opts.BroadcastTCPPort, tcpPort)
	c.httpPort = broadcastPort(c.opts.BroadcastHTTPPort, httpPort)
	for _, addr := range c.addrs {
		c.addPeerLocked(addr)
	}
	waiting := c.waiting
	c.waiting = nil
	c.mu.Unlock()

	// Upstream does not pre-create channels for topics loaded at startup.
	for _, t := range waiting {
		t.Start()
	}
	if c.opts.StatsdAddress != "" {
		c.startStatsd()
	}
}

func broadcastPort(configured, listening int) int {
	if configured != 0 {
		return configured
	}
	return max(listening, 0)
}

// Stop closes every lookupd connection, cancels pending lookupd queries
// (their topics start at once) and stops statsd; it returns when all the
// cluster's goroutines have ended. Hooks keep working after Stop but only
// start topics. Idempotent.
func (c *Cluster) Stop() {
	c.mu.Lock()
	if c.state == stateStopped {
		c.mu.Unlock()
		return
	}
	started := c.state == stateStarted
	c.state = stateStopped
	waiting := c.waiting
	c.waiting = nil
	c.mu.Unlock()

	close(c.exitCh)
	c.cancel()
	c.wg.Wait()
	c.httpClient.CloseIdleConnections()
	for _, t := range waiting {
		t.Start()
	}
	if started {
		c.log.Logf(core.LogLevelInfo, "LOOKUP: closing")
	}
}

// SetLookupdAddresses replaces the nsqlookupd TCP addresses, live (PUT
// /config/nsqlookupd_tcp_addresses): peers not in addrs are disconnected,
// new ones are connected at once and register everything. Duplicates are
// ignored. Before Start it only sets the list; after Stop it does nothing.
func (c *Cluster) SetLookupdAddresses(addrs []string) {
	addrs = dedupe(addrs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateStopped {
		return
	}
	c.addrs = addrs
	if c.state != stateStarted {
		return
	}
	kept := c.peers[:0]
	for _, p := range c.peers {
		if slices.Contains(addrs, p.addr) {
			kept = append(kept, p)
			continue
		}
		c.log.Logf(core.LogLevelInfo, "LOOKUP(%s): removing peer", p.addr)
		close(p.quit)
	}
	clear(c.peers[len(kept):])
	c.peers = kept
	for _, addr := range addrs {
		if !slices.ContainsFunc(c.peers, func(p *peer) bool { return p.addr == addr }) {
			c.addPeerLocked(addr)
		}
	}
}

// LookupdAddresses returns the current nsqlookupd TCP addresses (GET
// /config/nsqlookupd_tcp_addresses).
func (c *Cluster) LookupdAddresses() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.addrs)
}

// BroadcastPorts returns the TCP and HTTP ports registered with lookupd
// (and used in the statsd prefix); 0 before Start.
func (c *Cluster) BroadcastPorts() (tcpPort, httpPort int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcpPort, c.httpPort
}

// addPeerLocked starts the goroutine of a new lookupd peer. c.mu must be
// held and the cluster started.
func (c *Cluster) addPeerLocked(addr string) {
	c.log.Logf(core.LogLevelInfo, "LOOKUP(%s): adding peer", addr)
	p := newPeer(c, addr)
	c.peers = append(c.peers, p)
	c.wg.Add(1)
	go p.run()
}

// lookupdHTTPAddrs returns broadcast_address:http_port of every peer that
// has answered an IDENTIFY. Like upstream it keeps a peer's answer after a
// disconnect, so a lookupd that is restarting is still asked.
func (c *Cluster) lookupdHTTPAddrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var list []string
	for _, p := range c.peers {
		if p.info.BroadcastAddress != "" {
			list = append(list, net.JoinHostPort(p.info.BroadcastAddress, strconv.Itoa(p.info.HTTPPort)))
		}
	}
	return list
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
