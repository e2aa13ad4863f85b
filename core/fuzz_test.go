package core

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord: any bytes read back from a disk queue (or imported from
// upstream) decode to a message or an error, never a panic; and a record we
// encode decodes to the same message.
func FuzzDecodeRecord(f *testing.F) {
	m := &Message{Body: []byte("body"), Timestamp: 1700000000000000000, Attempts: 3}
	copy(m.ID[:], "0123456789abcdef")
	for _, kind := range []byte{recordMessage, recordDeferred, recordDeferIn} {
		f.Add(appendRecord(nil, m, kind, 42))
	}
	f.Add([]byte{})
	f.Add([]byte{7, 1, 2})
	f.Fuzz(func(t *testing.T, p []byte) {
		got, kind, extra, err := decodeRecord(p)
		if err != nil {
			return
		}
		again := appendRecord(nil, got, kind, extra)
		if !bytes.Equal(again, p) {
			t.Fatalf("decode/encode changed the record:\n got %x\nwant %x", again, p)
		}
		releaseMessage(got)
	})
}
