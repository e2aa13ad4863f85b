// Package codec is the NSQ protocol V2 wire format: command parsing, frame
// encoding, the wire error type and its codes, and IDENTIFY's JSON shapes.
//
// Everything here is a pure function over byte slices. Nothing reads a socket,
// takes a lock or logs; the event loop (package loop) owns the bytes and the
// connection, and decides what to do with an error.
//
// Client → server, one command:
//
//	"VERB[ param]*" ['\r'] '\n'                 command line (≤ MaxLineLen bytes)
//	[int32 size][size bytes]                    body, only for IDENTIFY AUTH PUB DPUB MPUB
//
// MPUB body:
//
//	[int32 count]([int32 len][len bytes]){count}
//
// Server → client, one frame:
//
//	[int32 size][int32 frame type][payload: size-4 bytes]
//	frame type 0 response ("OK", "CLOSE_WAIT", "_heartbeat_", IDENTIFY JSON)
//	frame type 1 error    ("E_CODE description")
//	frame type 2 message:
//	    [int64 timestamp ns][uint16 attempts][16-byte id][body]
//
// All integers are big-endian. Parse functions follow the convention
// n == 0 ⇒ "need more bytes": the caller keeps the bytes and calls again when
// more have arrived, so parsing resumes at any split point. Slices returned by
// a parse function alias the input and are valid only until the caller
// discards or overwrites those bytes.
package codec
