// Package wire is the load generator's own NSQ V2 protocol client, written for throughput rather
// than convenience: commands are appended into caller-owned byte slices (so a batch of PUBs or
// FINs goes out in one write), frames are read through one reusable buffer, and nothing on the
// per-message path allocates. It also holds NullServer, a V2 server that acknowledges every
// publish and stores nothing, which bounds what the client and loopback can do at all.
//
// Frames, as the daemon sends them (big endian):
//
//	[ size uint32 ][ frame type int32 ][ data ... size-4 bytes ]
//	frame type 0 response ("OK", "_heartbeat_", IDENTIFY JSON), 1 error ("E_INVALID ..."), 2 message
//
// A message frame's data:
//
//	[ timestamp int64 ns ][ attempts uint16 ][ id 16 bytes ][ body ... ]
//
// Threading: a Conn is not safe for concurrent use, except that one goroutine may read frames
// while another writes commands (the usual pipelined producer). WriteLocked serialises writers.
package wire
