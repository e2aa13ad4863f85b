package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// FuzzDiskRecover damages a real queue directory and checks what OpenDisk
// promises (doc.go, "Recovery and corruption"): it neither fails, panics
// nor hangs; every record it returns is one that was Put, with that seq and
// its payload, in increasing seq order; with the metadata file intact no
// record acknowledged at the last sync comes back; with nothing damaged
// exactly the unacknowledged records come back, without a corruption
// count; Depth is 0 once Read says empty; a new Put gets a seq above every
// seq read back and is read next; Close succeeds; and a second recovery
// (after that clean Close) returns the same records again.
//
// The directory starts as one of two images of the same history (see
// recoverTemplates): a process crash (files copied while the queue was
// open, with Acks and Puts after the last sync) or a clean Close. The
// input then edits the files in memory before they are written: a header
// byte selects the image, then ops of 4 bytes (and data) each:
//
//	op&7 (op>>3 = n):  0 overwrite n+1 bytes at off    1 truncate to off
//	                   2 append n+1 bytes              3 delete the file
//	                   4 replace with the next off%1024 bytes
//	                   5 flip bit n%8 of the byte at off
//	                   6 copy (n+1)*8 bytes of the file (1 more byte: source offset/8)
//	                   7 zero (n+1)*8 bytes at off
//	file:  an index into the image's files plus the names recovery may probe
//	off:   little-endian uint16, reduced modulo the file's size (+1)
func FuzzDiskRecover(f *testing.F) {
	// last segment zeroed, then replaced with garbage
	f.Add([]byte{0, 7 | 31<<3, 5, 24, 0, 4, 5, 10, 0, 'g', 'a', 'r', 'b', 'a', 'g', 'e', '!', 0, 1})
	f.Add([]byte{0})                                              // crash image, untouched
	f.Add([]byte{1})                                              // clean image, untouched
	f.Add([]byte{0, 3, 12, 0, 0})                                 // metadata deleted (names[12] is the meta file)
	f.Add([]byte{0, 0 | 3<<3, 12, 20, 0, 0xde, 0xad, 0xbe, 0xef}) // metadata body damaged
	f.Add([]byte{1, 5 | 7<<3, 2, 40, 0})                          // a bit flipped in a segment
	f.Add([]byte{0, 1, 3, 100, 0})                                // a segment cut mid-record
	f.Add([]byte{0, 3, 3, 0, 0})                                  // a middle segment deleted
	f.Add([]byte{0, 1, 5, 10, 0})                                 // the last segment cut inside its header
	f.Add([]byte{1, 6 | 31<<3, 1, 0, 1, 3})                       // a segment's records copied over its later ones
	f.Add([]byte{0, 6 | 31<<3, 5, 0xff, 0xff, 3})                 // old records copied past the last segment's tail
	f.Add([]byte{0, 4, 9, 24, 0, 'N', 'R', 'Q', 'S', 1, 0, 0, 0}) // a new segment file with a header start
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || len(in) > 4<<10 { // small inputs minimize fast
			return
		}
		tmpl := recoverTemplates(t)[int(in[0])%2]
		files := maps.Clone(tmpl.files)
		applyRecoverOps(files, tmpl.names, in[1:])

		dir := fuzzDir(t)
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		metaIntact := bytes.Equal(files[recoverMeta], tmpl.files[recoverMeta]) && files[recoverMeta] != nil
		segsIntact := true
		for name, b := range files {
			if name != recoverMeta && name != recoverMeta+".tmp" && !bytes.Equal(b, tmpl.files[name]) {
				segsIntact = false
			}
		}
		for name := range tmpl.files {
			if _, ok := files[name]; !ok && name != recoverMeta {
				segsIntact = false
			}
		}

		cfg := recoverConfig(dir)
		d, err := OpenDisk(cfg)
		if err != nil {
			t.Fatalf("OpenDisk: %v", err)
		}
		seqs := recoverReadAll(t, d, tmpl)
		for _, seq := range seqs {
			if metaIntact && tmpl.acked[seq] {
				t.Fatalf("seq %d was acknowledged at the last sync and came back (metadata intact); read %v", seq, seqs)
			}
		}
		switch {
		case metaIntact && segsIntact:
			if !slices.Equal(seqs, tmpl.pending) {
				t.Fatalf("undamaged files: read %v, want %v", seqs, tmpl.pending)
			}
			if n := d.Corruptions(); n != 0 {
				t.Fatalf("undamaged files: %d corruptions", n)
			}
		case segsIntact: // metadata missing or corrupt: a scan, replaying acknowledged records
			for _, seq := range tmpl.pending {
				if !slices.Contains(seqs, seq) {
					t.Fatalf("segments undamaged, metadata lost: seq %d not read back; read %v", seq, seqs)
				}
			}
		}
		if n := d.Depth(); n != 0 {
			t.Fatalf("Depth = %d after reading everything", n)
		}

		// the queue still works, and never reuses a seq
		extra := []byte("after recovery")
		seq, err := d.Put(extra)
		if err != nil {
			t.Fatalf("Put after recovery: %v", err)
		}
		if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
			t.Fatalf("Put after recovery got seq %d, but %d was read back", seq, seqs[len(seqs)-1])
		}
		rseq, p, err := d.Read()
		if err != nil || rseq != seq || !bytes.Equal(p, extra) {
			t.Fatalf("Read after Put = %d, %q, %v; want %d, %q", rseq, p, err, seq, extra)
		}
		if err := d.Ack(seq); err != nil {
			t.Fatalf("Ack(%d): %v", seq, err)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		// after a clean Close: the same records again, and not the acknowledged one
		d, err = OpenDisk(cfg)
		if err != nil {
			t.Fatalf("second OpenDisk: %v", err)
		}
		again := recoverReadAll(t, d, tmpl)
		if !slices.Equal(again, seqs) {
			t.Fatalf("second recovery read %v, first %v", again, seqs)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

const recoverMeta = "q.queue.meta"

func recoverConfig(dir string) DiskConfig {
	return DiskConfig{Dir: dir, Name: "q", MaxBytesPerFile: 1024, MaxRecordSize: 512}
}

// recoverPayload is the payload of seq: every record the fuzzer can build
// from the images' bytes carries its own seq's payload, so "was Put" is
// checkable record by record.
func recoverPayload(seq uint64) []byte {
	n := int(seq*53+11) % 190
	if seq%11 == 5 {
		n = 0
	}
	prefix := "s" + strconv.FormatUint(seq, 10) + ":"
	p := make([]byte, n)
	for i := range p {
		p[i] = prefix[i%len(prefix)]
	}
	return p
}

// recoverReadAll reads until ErrEmpty, checking each record against the
// history, and returns the seqs.
func recoverReadAll(t *testing.T, d *Disk, tmpl *recoverTemplate) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := 0; ; i++ {
		seq, p, err := d.Read()
		if errors.Is(err, ErrEmpty) {
			return seqs
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if seq >= tmpl.puts {
			t.Fatalf("Read returned seq %d; only %d records were Put", seq, tmpl.puts)
		}
		if want := recoverPayload(seq); !bytes.Equal(p, want) {
			t.Fatalf("Read returned seq %d with payload %q, want %q", seq, p, want)
		}
		if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
			t.Fatalf("Read returned seq %d after %d", seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, seq)
		if i > int(tmpl.puts) {
			t.Fatalf("runaway reader: %v", seqs)
		}
	}
}

// recoverTemplate is one image of the queue directory and what it holds.
type recoverTemplate struct {
	files   map[string][]byte
	names   []string // the files, and the other names recovery looks for, sorted
	puts    uint64   // seqs [0, puts) were Put
	acked   []bool   // by seq: acknowledged in the metadata file
	pending []uint64 // what recovering the untouched image returns
}

var (
	recoverOnce  sync.Once
	recoverTmpls [2]*recoverTemplate
	recoverErr   error
)

// recoverTemplates builds the two images once per process: Put 0..39, Read
// 0..29, Ack some in and some out of order, Sync, Ack three more, Put
// 40..47, Read 30..33, copy the files (crash image), Close, copy again
// (clean image).
func recoverTemplates(t *testing.T) [2]*recoverTemplate {
	recoverOnce.Do(func() { recoverErr = buildRecoverTemplates() })
	if recoverErr != nil {
		t.Fatal(recoverErr)
	}
	return recoverTmpls
}

func buildRecoverTemplates() (err error) {
	dir, err := os.MkdirTemp("", "fuzzrecover")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d, err := OpenDisk(recoverConfig(dir))
	if err != nil {
		return err
	}
	defer func() {
		if d != nil {
			d.Close()
		}
	}()
	const puts = 48
	put := func(lo, hi uint64) error {
		for seq := lo; seq < hi; seq++ {
			got, err := d.Put(recoverPayload(seq))
			if err != nil || got != seq {
				return fmt.Errorf("Put %d = %d, %v", seq, got, err)
			}
		}
		return nil
	}
	read := func(n int) error {
		for range n {
			if _, _, err := d.Read(); err != nil {
				return err
			}
		}
		return nil
	}
	acked := make([]bool, puts)
	ack := func(seqs ...uint64) error {
		for _, seq := range seqs {
			if err := d.Ack(seq); err != nil {
				return err
			}
			acked[seq] = true
		}
		return nil
	}
	if err := put(0, 40); err != nil {
		return err
	}
	if err := read(30); err != nil {
		return err
	}
	if err := ack(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15, 20, 21, 22, 23, 24, 27); err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		return err
	}
	synced := slices.Clone(acked)
	if err := ack(10, 11, 13); err != nil {
		return err
	}
	if err := put(40, puts); err != nil {
		return err
	}
	if err := read(4); err != nil {
		return err
	}
	crash, err := snapshotDir(dir)
	if err != nil {
		return err
	}
	err, d = d.Close(), nil
	if err != nil {
		return err
	}
	clean, err := snapshotDir(dir)
	if err != nil {
		return err
	}
	if len(crash) < 4 || crash[recoverMeta] == nil {
		return fmt.Errorf("crash image has only %d files", len(crash))
	}
	recoverTmpls[0] = newRecoverTemplate(crash, puts, synced)
	recoverTmpls[1] = newRecoverTemplate(clean, puts, acked)
	return nil
}

func newRecoverTemplate(files map[string][]byte, puts uint64, acked []bool) *recoverTemplate {
	tm := &recoverTemplate{files: files, puts: puts, acked: acked}
	for seq := range puts {
		if !acked[seq] {
			tm.pending = append(tm.pending, seq)
		}
	}
	names := map[string]bool{recoverMeta: true, recoverMeta + ".tmp": true}
	for name := range files {
		names[name] = true
	}
	for num := range 12 { // probed or listed by recovery
		names[fmt.Sprintf("q.queue.%010d.seg", num)] = true
	}
	tm.names = slices.Sorted(maps.Keys(names))
	return tm
}

func snapshotDir(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files[e.Name()] = b
	}
	return files, nil
}

// applyRecoverOps edits files as the ops in the FuzzDiskRecover comment say.
func applyRecoverOps(files map[string][]byte, names []string, ops []byte) {
	for k := 0; k < 64 && len(ops) >= 4; k++ {
		op, name, off := ops[0], names[int(ops[1])%len(names)], int(binary.LittleEndian.Uint16(ops[2:4]))
		ops = ops[4:]
		n := int(op>>3) + 1
		take := func(n int) []byte {
			n = min(n, len(ops))
			b := ops[:n]
			ops = ops[n:]
			return b
		}
		b := bytes.Clone(files[name]) // the map's slices are the template's
		off %= len(b) + 1
		switch op & 7 {
		case 0:
			data := take(n)
			if end := off + len(data); end > len(b) {
				b = append(b, make([]byte, end-len(b))...)
			}
			copy(b[off:], data)
		case 1:
			b = b[:off]
		case 2:
			b = append(b, take(n)...)
		case 3:
			delete(files, name)
			continue
		case 4:
			b = append([]byte(nil), take(off%1024)...)
		case 5:
			if off < len(b) {
				b[off] ^= 1 << (n % 8)
			}
		case 6:
			// Within the file only: a record or header copied into another
			// file is a misdirected write, which breaks what recovery rests
			// on (a valid header bounds the seqs of the segment before it).
			sel := take(1)
			if len(sel) < 1 {
				return
			}
			from := int(sel[0]) * 8
			if from >= len(b) {
				continue
			}
			data := bytes.Clone(b[from:min(from+n*8, len(b))])
			if end := off + len(data); end > len(b) {
				b = append(b, make([]byte, end-len(b))...)
			}
			copy(b[off:], data)
		case 7:
			clear(b[off:min(off+n*8, len(b))])
		}
		files[name] = b
	}
}

// fuzzDir returns a fresh directory, on tmpfs when there is one: an
// execution syncs files, which on a real disk would dominate its time.
func fuzzDir(t *testing.T) string {
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "nsqreactor-fuzz")
	if err != nil {
		dir, err = os.MkdirTemp("", "nsqreactor-fuzz")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
