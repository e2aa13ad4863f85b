// Package cluster connects an nsqd to the rest of an NSQ cluster: it
// registers topics and channels with every nsqlookupd (--lookupd-tcp-address),
// pre-creates a new topic's channels from lookupd, and pushes statsd metrics
// (--statsd-address). It mirrors upstream nsqd v1.3.0's lookup loop,
// lookupPeer, GetTopic pre-creation and statsd loop; the wire strings, log
// lines and metric names are upstream's.
//
// # Threading
//
// Nothing here runs on an event loop. The core lifecycle hooks (topic and
// channel created/deleted) only update an in-memory registry and queue work
// under Cluster.mu; all network I/O happens on the cluster's goroutines:
//
//   - one goroutine per lookupd peer owns that peer's TCP connection: it
//     connects (1 s dial, magic "  V1", IDENTIFY, REGISTER of everything),
//     sends queued REGISTER/UNREGISTER commands, PINGs every 15 s, and
//     reconnects with backoff when the connection breaks;
//   - one reader goroutine per live connection reads lookupd's responses, so
//     a closed connection (lookupd restarted) is noticed at once instead of at
//     the next PING as upstream does;
//   - one goroutine per topic created at runtime queries every known
//     lookupd's HTTP /channels?topic= and creates the non-ephemeral channels
//     before it calls Topic.Start — the topic holds its messages until then, so
//     a slow or dead lookupd never blocks a PUB or SUB (upstream blocks the
//     creating request instead);
//   - one statsd goroutine when --statsd-address is set.
//
// # Registration model
//
// Cluster keeps its own registry of the topics and channels that exist (as
// the hooks report them, keyed by object identity, so hooks that arrive out
// of order cannot resurrect a deleted object). A queued command names only a
// topic (and channel); whether it becomes REGISTER or UNREGISTER is decided
// from the registry when it is sent, so the last command for a name always
// matches the current state. A (re)connected peer first registers the whole
// registry (upstream's connect callback) and drops what was queued before.
//
// # Lock order
//
//	core NSQD.mu → Cluster.mu → core Channel.mu
//
// (TopicCreated runs with NSQD.mu held; ChannelCreated reads
// Channel.Exiting under Cluster.mu.) Cluster never calls into core while
// holding Cluster.mu except for that read.
package cluster
