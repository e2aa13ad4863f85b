// Package queue holds generic data structures with no NSQ semantics: a
// growable ring buffer (Ring) and an indexed binary min-heap (Heap).
//
// None of the types here is safe for concurrent use; callers serialize
// (package core holds a channel's lock around them).
//
// # Disk queue
//
// Disk is a segmented, memory-mapped FIFO of byte records with at-least-once
// semantics, the spill-over for a topic's or channel's ring. It is the one
// type here with a concurrent part: its owner (Put, Read, Ack, ...) is
// serialized by the caller as above, while Sync, WaitDurable and the
// accessors may be called from any goroutine, and one background goroutine
// per queue runs the SyncEvery/SyncTimeout policy. The methods' docs give
// the contract; Put writes into a mapping and Read returns a slice of it, so
// a record costs one copy in and none out (the caller copies if it keeps the
// payload past the next Read, Ack, Empty, Delete or Close).
//
// Files, in DiskConfig.Dir, all mode 0600 and little-endian:
//
//	<name>.queue.<NNNNNNNNNN>.seg   segments, numbered from 0, never reused
//	<name>.queue.meta               metadata (absent until the first sync)
//
// A segment is a header and records, back to back on 8-byte boundaries. The
// write segment gets real blocks a MiB at a time (fallocate) before they are
// written through the mapping, so a full disk is an error from Put, not a
// SIGBUS; sealing (the roll to the next segment, or Close) trims the file to
// its last record, and a zero-filled tail is simply the end.
//
//	segment header (24 bytes)
//	0        4        8                 16       20       24
//	+--------+--------+-----------------+--------+--------+
//	| magic  | version| first seq       | crc32c | zero   |
//	| "NRQS" | 1      | uint64          | of 0:16|        |
//	+--------+--------+-----------------+--------+--------+
//
//	record (20-byte header, payload, zero padding to a multiple of 8)
//	0        4        8                 16       20
//	+--------+--------+-----------------+--------+=================+......+
//	| magic  | length | seq             | crc32c | payload         | pad  |
//	|        | uint32 | uint64          |        | (length bytes)  |      |
//	+--------+--------+-----------------+--------+=================+......+
//	magic is 0xD7C35A1E (bytes 1E 5A C3 D7); zero means no record here.
//	crc32c is CRC-32C (Castagnoli) of bytes 4:16 and the payload.
//
// Sequence numbers are assigned by Put, from 0, and only grow (Empty does
// not reset them). The seq in each record is what Ack names, what the
// reader uses to skip acknowledged records after a restart, and how it
// notices records that are gone.
//
//	metadata file
//	0        4        8        12       16
//	+--------+--------+--------+--------+------------------------------------+
//	| magic  | version| body   | crc32c | body                               |
//	| "NRQM" | 1      | length | of body|                                    |
//	+--------+--------+--------+--------+------------------------------------+
//	body: uint64 nextSeq, floor, firstSeg, nextNum, floorSeg, floorPos, endSeg, endPos
//	      uvarint n, then n times uvarint (lo - previous hi), uvarint (hi - lo)
//
// floor and the n ranges [lo, hi) above it are the acknowledgement ledger:
// every seq below floor and every seq in a range is acknowledged. floorSeg/
// floorPos say where reading restarts, endSeg/endPos how far the last
// segment was flushed, firstSeg/nextNum which segment numbers may exist
// (firstSeg includes the segments the writing sync is about to unlink).
//
// # Disk queue: acknowledgements
//
// Read does not consume a record; Ack does. After a restart every record
// not acknowledged at the last sync is read again, in order, whether or not
// it had been read. In-order Acks only advance the floor; out-of-order ones
// add or extend a range, so the ledger grows with the disorder, not with the
// traffic. A segment is dropped once it is sealed and the floor has passed
// its last record; its file is unlinked by the next sync, after that sync's
// metadata is on disk. That metadata still counts the file among the
// segments that may exist, so a kill between the rename and the unlink
// leaves a file that recovery finds (it probes the numbers from firstSeg
// to nextNum, skipping missing ones), sees fully acknowledged, and drops
// again; the metadata of a later sync no longer names it.
//
// # Disk queue: syncing and group commit
//
// A sync takes a snapshot under the queue's mutex (the dirty byte range of
// each segment, and the metadata if the ledger or the segment set changed),
// then, without the mutex, msyncs the ranges, fsyncs the directory if a
// segment was created, replaces the metadata file (temporary file,
// fdatasync, rename) and unlinks dropped segments. It makes every record
// Put before the snapshot durable; Durable reports the bound.
//
// One sync runs at a time, and whoever needs one runs it: the background
// syncer when SyncEvery operations (Puts plus Acks, upstream's reads plus
// writes) were counted or SyncTimeout passed with activity, and otherwise
// the callers of WaitDurable and Sync themselves. WaitDurable(seq) returns
// at once if seq is durable; if no sync is running the caller leads one for
// every record Put so far; if one is running it waits on a condition
// variable, and when that sync ends the waiters it covered return while one
// of the others leads the next. So --sync-every=1 costs one sync per batch
// of concurrent Puts, not one per Put: a publisher Puts under the topic's
// lock (a memory copy), releases the lock, and calls WaitDurable(seq) before
// it answers OK; while one sync is in flight, every Put that arrives joins
// the next one (BenchmarkDiskGroupCommit reports the syncs per Put). An
// event loop that must not block uses OnDurable instead: it Puts, holds the
// reply, and the callback (run by whichever goroutine synced) wakes it.
//
// # Disk queue: recovery and corruption
//
// OpenDisk trusts nothing it has not checked. With metadata it opens the
// segments named there, restarts the reader at floorSeg/floorPos with the
// ledger, and scans the last segment from endPos: records written after the
// last sync come back too (a process crash leaves them in the page cache),
// and a torn tail after the last valid record is cut. Without metadata, or
// with a corrupt one (logged), it lists the directory and starts from the
// first segment's first seq: every record on disk comes back, acknowledged
// or not. New records always go to a new segment.
//
// A bad record (wrong magic, impossible length, checksum mismatch, cut off
// by the end of the file) costs only itself: the reader scans forward in
// 8-byte steps for the next position holding the magic and a valid record,
// and if there is none skips the rest of that segment. Each such event is
// one Logf line and one count in Corruptions; the sequence numbers that
// went missing are entered in the ledger as lost, so Depth stays true. The
// reader only moves forward, so corruption can neither loop nor crash it.
//
// What survives what: a process crash keeps every record Put and replays
// Acks made since the last sync; a machine crash keeps the records and Acks
// of the last sync; a full disk fails the Put that needed the space and
// nothing else.
//
// # Disk queue: importing go-diskqueue files
//
// UpstreamQueue reads the segment and metadata files of go-diskqueue
// v1.1.0 (upstream nsqd's disk queue, whose records are a big-endian int32
// length and the payload, without checksum), from the metadata's read
// position through the end of the last file, and Disk.ImportUpstream moves
// such a queue into a Disk: Put everything, sync, only then remove the old
// files, so an upgrade in place loses nothing even if it crashes halfway.
package queue
