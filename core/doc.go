// Package core holds NSQ's semantics: the NSQD registry, topics, channels,
// messages and their IDs, in-flight and deferred bookkeeping, RDY accounting,
// pause/empty/delete, ephemeral rules, and the options.
//
// It never imports gnet, fasthttp or the event loop. A connection reaches a
// channel through a *Subscription, and the channel reaches the connection
// through the small Consumer interface (package loop implements it).
//
// # Data path
//
// Topic.Put runs on the publisher's goroutine (an event loop): it stamps an ID
// and fans the message out synchronously to every channel — no per-topic
// goroutine, no Go channel. Channel.put either hands the message to a
// subscriber with spare RDY (round robin), recording it in flight, or queues
// it on the channel's ring — as a compact entry, not a Message
// (channel_queue.go): the Message goes back to the pool at once, and a
// fan-out copy that can only wait never becomes one. FIN/REQ/TOUCH/RDY run on
// the subscriber's loop and pull the next queued message for that subscriber
// directly, building its Message then.
//
// A topic with no channel (or paused) keeps what is published as parked runs
// (topic_park.go): an MPUB waits as its one body copy (HTTP /mpub: its bodies
// slice) and the first of a block of consecutive IDs, and becomes Messages
// only when it flows to the channels.
//
// In-flight deadlines and deferred due times live in two heaps per channel.
// One scanner goroutine per NSQD wakes every scanTick and visits only the
// channels whose earliest deadline has passed (an atomic per channel), so
// timeouts fire within ~10 ms instead of upstream's 100 ms–5 s sampling.
//
// # Lock order
//
// Always acquired in this order, never the reverse:
//
//	NSQD.mu → Topic.mu → Channel.mu → the consumer's outbox lock (package loop)
//
// Consumer.Deliver and Consumer.Kick are the only calls made while a
// Channel.mu is held; they append to an outbox or schedule a close and never
// call back into core. No I/O happens under any core lock.
package core
