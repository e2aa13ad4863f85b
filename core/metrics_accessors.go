package core

// Read-only accessors for GET /metrics (package httpfast), which walks the
// topics and channels at scrape time instead of counting anything per
// message. Each is safe for concurrent use and cheap: atomics, or one short
// critical section that does no I/O.

// DiskCorruptions returns how many corruption events the topic's disk queue
// met since it was opened (queue.Disk.Corruptions: a bad record or region
// skipped, a torn tail cut, a bad header or metadata file); 0 for an
// ephemeral topic, which has no disk queue.
func (t *Topic) DiskCorruptions() uint64 {
	if t.disk == nil {
		return 0
	}
	return t.disk.Corruptions()
}

// DiskCorruptions returns how many corruption events the channel's disk
// queue met since it was opened; 0 for an ephemeral channel (or a channel of
// an ephemeral topic), which has no disk queue.
func (ch *Channel) DiskCorruptions() uint64 {
	if ch.disk == nil {
		return 0
	}
	return ch.disk.Corruptions()
}

// ClientCount returns the number of connections registered with AddClient:
// every open TCP (V2) connection, whatever its state. Takes the client
// registry's lock briefly.
func (n *NSQD) ClientCount() int {
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	return len(n.clients)
}

// ProducerCount returns how many registered connections have published: the
// length of Producers, without building the list.
func (n *NSQD) ProducerCount() int {
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	count := 0
	for _, c := range n.clients {
		if c.IsProducer() {
			count++
		}
	}
	return count
}
