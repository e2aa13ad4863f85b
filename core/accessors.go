package core

// Read-only accessors for the cluster layer (nsqlookupd registration,
// statsd). Each is safe for concurrent use.

// Exiting reports whether the channel has been deleted (or its topic, or the
// daemon, is closing). A channel never stops exiting once it started.
func (ch *Channel) Exiting() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.exiting
}

// Exiting reports whether the topic has been deleted or the daemon is
// closing. A topic never stops exiting once it started.
func (t *Topic) Exiting() bool { return t.exiting.Load() }
