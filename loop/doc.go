// Package loop is the gnet event handler that speaks protocol V2: one
// connection object per client, command dispatch, RDY/heartbeat handling,
// write batching and cross-loop delivery.
//
// # Threading contract
//
// A connection belongs to one gnet event loop. Its parse state, negotiated
// options and write batch (conn.out) are touched only inside that loop's
// callbacks (OnOpen, OnTraffic, OnClose). Other goroutines reach it only
// through:
//
//   - conn.Deliver / conn.Kick (core calls them, holding a channel lock, from
//     any loop or the scanner): Deliver appends the encoded message frame to
//     the connection's outbox under outboxMu and, if no drain is already
//     guaranteed, schedules one with gnet's Conn.Wake;
//   - the ticker (Server.OnTick, a separate goroutine) which reads atomics
//     and calls the concurrency-safe gnet methods Wake and Close.
//
// # Write batching and flush policy
//
// Everything a connection must send during one OnTraffic call — responses,
// errors, message frames pulled by its own FIN/RDY, frames other loops put in
// its outbox — is gathered in conn.out and written with one Write at the end
// of the call. A delivery from another loop wakes the consumer's loop once
// per outbox transition from empty, however many messages follow before the
// consumer's loop drains it.
//
// This is a deliberate, documented improvement over upstream, which holds
// message frames in a buffered writer until output_buffer_timeout (250 ms by
// default) or until the buffer fills: the same bytes reach the socket, but a
// lone message is written at the end of the batch that produced it instead
// of up to 250 ms later. output_buffer_size and output_buffer_timeout are
// negotiated and reported exactly as upstream, and honoured as upper bounds
// (nothing waits longer than they allow).
//
// # Timers
//
// There is no goroutine, ticker or timer per connection. One ticker per
// server (gnet's OnTick, every tickInterval) walks the connection registry:
// it marks heartbeats due and wakes their loops, and closes connections whose
// read deadline (2 × heartbeat interval since the last complete command, as
// upstream) has passed or whose socket has not drained for a heartbeat
// interval (upstream's write deadline).
package loop
