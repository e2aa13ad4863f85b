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
//
// # Negotiated layers: TLS, snappy, deflate
//
// A plain connection carries nothing for them: conn.ext is nil, and the
// fast path's only extra work is that nil test in OnTraffic and endBatch.
// IDENTIFY with feature_negotiation creates ext when it grants an upgrade,
// and the switch happens at the exact byte of spec §3.3: the JSON response
// is flushed as it is, parsing halts, and a self-wake hands the bytes that
// followed IDENTIFY (already in the new protocol: a ClientHello, or
// compressed commands) to the layers. From then on OnTraffic pulls the raw
// bytes, runs them up through TLS and the decoder into ext.in and parses
// there; endBatch sends c.out down through the encoder and TLS.
//
// Compression (codec.SnappyEncoder/Decoder, codec.DeflateEncoder/Decoder)
// runs on the loop. Every batch is one encoder call ending in a flush (a
// whole snappy chunk, a deflate sync flush), so nothing waits in a
// compressor. Decoding is on demand: the loop inflates only what the
// command being parsed can use (c.need, or 64 KiB while its size is
// unknown) and stops as soon as a size check fails, so a compressed body
// over --max-msg-size or --max-body-size is refused after its size is read,
// without inflating it. The deflate decoder keeps klauspost's flate reader
// suspended mid-block in a coroutine (iter.Pull, run only inside Decode on
// the loop's goroutine): one parked goroutine per deflate connection.
//
// TLS: crypto/tls over an in-memory pipe (tlsPipe), in two phases.
//
//   - Handshake, on a helper goroutine (crypto/tls cannot drive a handshake
//     with non-blocking reads). The connection is paused (ext.wait); the
//     loop pushes ciphertext into the pipe, the helper's blocking Read takes
//     it, its writes queue ciphertext in the pipe and Wake the loop, which
//     writes it to gnet. The pipe's mutex is the only shared state. A 5 s
//     deadline (upstream's) ends a stalled handshake. When the helper
//     finishes it records the result and wakes the loop, which sends the
//     upgrade's OK over TLS, then switches on a compression layer granted in
//     the same IDENTIFY and sends its OK through it.
//   - Records, inline on the loop. After the handshake the pipe lends
//     crypto/tls gnet's inbound bytes where they are and returns a temporary
//     "would block" error when they run out; crypto/tls keeps the partial
//     record and resumes on the next Read. The plaintext goes straight into
//     the parse buffer, or into the decoder's input (Space/Commit). Writes
//     encrypt straight into the pipe and go out in the same batch. An
//     established TLS connection costs the crypto and a copy each way, and
//     no goroutine switch: BenchmarkLayeredPub measures ~0.15 µs more per
//     256-byte PUB than plain (≈0.58 vs ≈0.43 µs, 100 PUBs per read), and
//     the layers scenario of the benchmark harness (scripts/bench.sh
//     -scenarios layers, a lean client) ≈ 1.0 daemon cpu-s per million
//     messages published and delivered over TLS, against ≈ 0.8 in the clear
//     and ≈ 7 for upstream.
//
// A TLS connection that fails the handshake gets upstream's E_IDENTIFY_FAILED
// in the clear and is closed. A layered connection whose peer half-closes is
// closed without the "failed to read body" answers of the plain path.
//
// # AUTH
//
// The auth server is queried (package auth) on a helper goroutine. The
// command that needs it (AUTH, or a PUB/MPUB/DPUB/SUB whose authorizations
// expired) is left unconsumed and the connection pauses (ext.wait; parsing
// halts, its bytes stay buffered); the goroutine stores the answer in
// ext.reply and wakes the loop, which re-parses the same command, finds the
// answer and completes it. Commands after it therefore run after the answer,
// in order. The query is cancelled if the connection closes, and Server.Close
// waits (bounded) for handshakes and queries still running.
package loop
