package core

import (
	"encoding/binary"
	"errors"
	"os"

	"nsqreactor/codec"
	"nsqreactor/queue"
)

// Disk record payloads (inside queue.Disk's checksummed records). The first
// byte says what follows; the message part is upstream's disk layout
// (timestamp, attempts, id, body), so an imported go-diskqueue record is a
// recordMessage with the kind byte added.
//
//	recordMessage   [0x00][int64 ts][uint16 attempts][16-byte id][body]
//	recordDeferred  [0x01][int64 due UnixNano][message part]   channel: due at an absolute time
//	recordDeferIn   [0x02][int64 defer ns][message part]       topic: DPUB delay, starts at the channel
//
// Upstream stores no deferral, so its deferred messages lose their delay on
// overflow and shutdown; ours keep it.
const (
	recordMessage  = 0
	recordDeferred = 1
	recordDeferIn  = 2
)

// appendRecord encodes m as a disk record of the given kind; extra is the due
// time or the delay.
func appendRecord(dst []byte, m *Message, kind byte, extra int64) []byte {
	return appendRecordParts(dst, kind, extra, m.Timestamp, m.Attempts, &m.ID, m.Body)
}

// appendRecordParts is appendRecord for a message that has no Message yet.
func appendRecordParts(dst []byte, kind byte, extra, ts int64, attempts uint16, id *MessageID, body []byte) []byte {
	dst = append(dst, kind)
	if kind != recordMessage {
		dst = binary.BigEndian.AppendUint64(dst, uint64(extra))
	}
	return codec.AppendMessage(dst, ts, attempts, (*[codec.MsgIDLength]byte)(id), body)
}

// decodeRecord builds a Message from a record (copying the body out of the
// mapping) and returns its kind and extra field.
func decodeRecord(p []byte) (m *Message, kind byte, extra int64, err error) {
	if len(p) < 1 {
		return nil, 0, 0, errBadRecord
	}
	kind, p = p[0], p[1:]
	if kind != recordMessage {
		if len(p) < 8 || kind > recordDeferIn {
			return nil, 0, 0, errBadRecord
		}
		extra, p = int64(binary.BigEndian.Uint64(p)), p[8:]
	}
	ts, attempts, id, body, ok := codec.ParseMessage(p)
	if !ok || len(body) == 0 {
		return nil, 0, 0, errBadRecord
	}
	m = acquireMessage()
	m.ID = id
	m.Timestamp = ts
	m.Attempts = attempts
	m.Body = append([]byte(nil), body...)
	return m, kind, extra, nil
}

var errBadRecord = errors.New("invalid message record")

// openDisk opens the disk queue for a topic or channel (name `<topic>` or
// `<topic>:<channel>`, upstream's queue names) and imports an upstream
// go-diskqueue backlog of the same name, if one is there.
func (n *NSQD) openDisk(name string) (*queue.Disk, error) {
	dir := n.opts.DataPath
	if dir == "" {
		dir, _ = os.Getwd()
	}
	d, err := queue.OpenDisk(queue.DiskConfig{
		Dir:             dir,
		Name:            name,
		MaxBytesPerFile: n.opts.MaxBytesPerFile,
		MinRecordSize:   1 + codec.MessageHeaderLen,
		MaxRecordSize:   1 + 8 + codec.MessageHeaderLen + int(n.opts.MaxMsgSize),
		SyncEvery:       n.opts.SyncEvery,
		SyncTimeout:     n.opts.SyncTimeout,
		Logf: func(format string, args ...any) {
			n.logf(LogLevelError, "DISKQUEUE("+name+"): "+format, args...)
		},
	})
	if err != nil {
		return nil, err
	}
	if names, _ := queue.UpstreamNames(dir); contains(names, name) {
		count, err := n.importUpstream(d, dir, name)
		if err != nil {
			n.logf(LogLevelError, "DISKQUEUE(%s): importing upstream queue - %s", name, err)
		} else {
			n.logf(LogLevelInfo, "DISKQUEUE(%s): imported %d messages from upstream's queue files", name, count)
		}
	}
	return d, nil
}

// importUpstream moves go-diskqueue's backlog named name into d: each
// upstream record (the bare message layout) gets our kind byte, d is synced,
// and only then are upstream's files removed — a crash at any point loses
// nothing (at worst a message is imported twice).
func (n *NSQD) importUpstream(d *queue.Disk, dir, name string) (int, error) {
	u := queue.UpstreamQueue{Dir: dir, Name: name,
		MinRecordSize: codec.MessageHeaderLen, MaxRecordSize: codec.MessageHeaderLen + int(n.opts.MaxMsgSize),
		Logf: func(format string, args ...any) { n.logf(LogLevelError, "DISKQUEUE("+name+"): "+format, args...) }}
	var buf []byte
	count, err := u.Each(func(p []byte) error {
		buf = append(append(buf[:0], recordMessage), p...)
		_, err := d.Put(buf)
		return err
	})
	if err != nil {
		return count, err
	}
	if err := d.Sync(); err != nil {
		return count, err
	}
	return count, u.Remove()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Durability collects the disk records a publish must see synced before it
// is acknowledged. It is used only with --sync-every=1 (upstream's "fsync
// every write"), where it makes group commit work: a whole batch of
// publishes waits for one shared fsync per disk queue. The zero value is
// ready to use; it is not safe for concurrent use.
type Durability struct {
	disks []*queue.Disk
	seqs  []uint64
}

// add notes that seq of d must be durable.
func (w *Durability) add(d *queue.Disk, seq uint64) {
	if w == nil {
		return
	}
	for i, x := range w.disks {
		if x == d {
			if seq > w.seqs[i] {
				w.seqs[i] = seq
			}
			return
		}
	}
	w.disks = append(w.disks, d)
	w.seqs = append(w.seqs, seq)
}

// Pending reports whether anything must be waited for.
func (w *Durability) Pending() bool { return len(w.disks) > 0 }

// Wait blocks until every noted record is on disk, then resets w. Never
// call it on an event loop or with a core lock held.
func (w *Durability) Wait() error {
	var first error
	for i, d := range w.disks {
		if err := d.WaitDurable(w.seqs[i]); err != nil && first == nil {
			first = err
		}
	}
	clear(w.disks)
	w.disks, w.seqs = w.disks[:0], w.seqs[:0]
	return first
}
