package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// scanTick is how often the scanner looks for due in-flight and deferred
// messages. Upstream samples 20 channels every 100 ms and refreshes its list
// every 5 s; we visit every channel whose earliest deadline has passed.
const scanTick = 10 * time.Millisecond

// NSQD is the registry of topics, the scanner, and the options.
type NSQD struct {
	opts      *Options
	log       *Logger
	startTime time.Time

	clientIDSeq atomic.Int64

	clientsMu sync.Mutex // guards clients
	clients   map[int64]Client

	mu     sync.RWMutex // guards topics
	topics map[string]*Topic

	// allChannels is a snapshot of every channel, for the scanner.
	allChannels atomic.Pointer[[]*Channel]
	chanDirty   atomic.Bool

	hooks  Hooks
	health health // last storage write error (/ping, /stats)

	metaMu    sync.Mutex // serializes nsqd.dat writes
	metaDirty atomic.Bool

	exitOnce sync.Once
	exitCh   chan struct{}
	wg       sync.WaitGroup
}

// New returns an NSQD for opts. Options must already be validated.
func New(opts *Options) *NSQD {
	n := &NSQD{
		opts:      opts,
		log:       NewLogger(opts),
		startTime: time.Now(),
		topics:    make(map[string]*Topic),
		clients:   make(map[int64]Client),
		exitCh:    make(chan struct{}),
	}
	empty := []*Channel{}
	n.allChannels.Store(&empty)
	return n
}

// Options returns the daemon's options. Callers must not modify them.
func (n *NSQD) Options() *Options { return n.opts }

// Logger returns the daemon's logger.
func (n *NSQD) Logger() *Logger { return n.log }

// StartTime is when New was called.
func (n *NSQD) StartTime() time.Time { return n.startTime }

func (n *NSQD) now() int64 { return time.Now().UnixNano() }

func (n *NSQD) logf(level int, format string, args ...any) { n.log.Logf(level, format, args...) }

// NextClientID returns a process-wide client id, counting from 1.
func (n *NSQD) NextClientID() int64 { return n.clientIDSeq.Add(1) }

// Start runs the scanner.
func (n *NSQD) Start() {
	n.wg.Add(2)
	go n.scanLoop()
	go n.metadataLoop()
}

// Exit stops the background loops and closes every topic: queued,
// in-flight and deferred messages are written to the disk queues (ephemeral
// ones are dropped, as upstream), and the queues are synced and closed.
func (n *NSQD) Exit() {
	n.exitOnce.Do(func() {
		close(n.exitCh)
		n.wg.Wait()
		n.mu.Lock()
		topics := n.topics
		n.topics = make(map[string]*Topic)
		n.mu.Unlock()
		for _, t := range topics {
			t.close()
		}
	})
}

// syncing returns dur when publishes must wait for an fsync
// (--sync-every=1), else nil.
func (n *NSQD) syncing(dur *Durability) *Durability {
	if n.opts.SyncEvery == 1 {
		return dur
	}
	return nil
}

// GetTopicBytes returns the named topic, creating it if needed. The lookup of
// an existing topic does not allocate. The name must be valid.
func (n *NSQD) GetTopicBytes(name []byte) (*Topic, error) {
	n.mu.RLock()
	t, ok := n.topics[string(name)]
	n.mu.RUnlock()
	if ok {
		return t, nil
	}
	return n.GetTopic(string(name))
}

// GetTopic returns the named topic, creating it if needed.
func (n *NSQD) GetTopic(name string) (*Topic, error) {
	n.mu.RLock()
	t, ok := n.topics[name]
	n.mu.RUnlock()
	if ok {
		return t, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.exitCh:
		return nil, ErrExiting
	default:
	}
	if t, ok := n.topics[name]; ok {
		return t, nil
	}
	t, err := newTopic(n, name)
	if err != nil {
		n.logf(LogLevelError, "TOPIC(%s): failed to create - %s", name, err)
		return nil, err
	}
	n.topics[name] = t
	n.logf(LogLevelInfo, "TOPIC(%s): created", name)
	if !t.ephemeral {
		n.metadataChanged()
	}
	if h := n.hooks.TopicCreated; h != nil {
		h(t) // it calls t.Start when the topic may deliver
	} else {
		t.Start()
	}
	return t, nil
}

// GetExistingTopic returns the named topic or ErrTopicNotFound.
func (n *NSQD) GetExistingTopic(name string) (*Topic, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if t, ok := n.topics[name]; ok {
		return t, nil
	}
	return nil, ErrTopicNotFound
}

// DeleteExistingTopic deletes a topic and all its channels.
func (n *NSQD) DeleteExistingTopic(name string) error {
	n.mu.Lock()
	t, ok := n.topics[name]
	if !ok {
		n.mu.Unlock()
		return ErrTopicNotFound
	}
	delete(n.topics, name)
	n.mu.Unlock()
	n.logf(LogLevelInfo, "TOPIC(%s): deleting", name)
	t.exit()
	if !t.ephemeral {
		n.metadataChanged()
	}
	if h := n.hooks.TopicDeleted; h != nil {
		h(t)
	}
	return nil
}

// Topics returns every topic, in no particular order.
func (n *NSQD) Topics() []*Topic {
	n.mu.RLock()
	defer n.mu.RUnlock()
	list := make([]*Topic, 0, len(n.topics))
	for _, t := range n.topics {
		list = append(list, t)
	}
	return list
}

// channelsChanged marks the scanner's channel snapshot stale.
func (n *NSQD) channelsChanged() { n.chanDirty.Store(true) }

func (n *NSQD) refreshChannels() []*Channel {
	if !n.chanDirty.Swap(false) {
		return *n.allChannels.Load()
	}
	var list []*Channel
	for _, t := range n.Topics() {
		list = append(list, *t.channels.Load()...)
	}
	n.allChannels.Store(&list)
	return list
}

func (n *NSQD) scanLoop() {
	defer n.wg.Done()
	ticker := time.NewTicker(scanTick)
	defer ticker.Stop()
	for {
		select {
		case <-n.exitCh:
			return
		case <-ticker.C:
		}
		n.scan(n.now())
	}
}

// scan processes every channel with a due deadline.
func (n *NSQD) scan(now int64) {
	for _, ch := range n.refreshChannels() {
		ch.processTimeouts(now)
	}
}

// e2eSample records a FIN's end-to-end latency (ns) when
// --e2e-processing-latency-percentile is set (see e2e.go).
func (n *NSQD) e2eSample(ch *Channel, latency int64) {
	if len(n.opts.E2EProcessingLatencyPercentiles) > 0 {
		n.e2eInsert(ch, latency)
	}
}

// Hooks let the cluster layer (nsqlookupd registration, metadata) follow
// topic and channel lifecycles. Each is called without any core lock held,
// except TopicCreated, which runs with NSQD.mu held and must only schedule
// work. None may block.
type Hooks struct {
	// TopicCreated is called for a topic created at runtime; it must
	// arrange for t.Start to be called (at once or after lookupd channel
	// pre-creation). Without it topics start at once.
	TopicCreated   func(t *Topic)
	TopicDeleted   func(t *Topic)
	ChannelCreated func(ch *Channel)
	ChannelDeleted func(ch *Channel)
}

// SetHooks installs lifecycle hooks. Call it before Start.
func (n *NSQD) SetHooks(h Hooks) { n.hooks = h }
