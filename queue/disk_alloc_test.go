//go:build !race

package queue

import "testing"

// TestDiskAllocs asserts the steady state allocates nothing: a Put within a
// segment, and a Read plus an in-order Ack.
func TestDiskAllocs(t *testing.T) {
	for _, syncer := range []bool{false, true} {
		d := openDisk(t, t.TempDir(), nil, func(c *DiskConfig) {
			c.MaxBytesPerFile = 64 << 20
			if syncer {
				c.SyncEvery = 1 << 40 // a syncer that never fires during the test
			}
		})
		p := make([]byte, 256)
		if n := testing.AllocsPerRun(2000, func() { d.Put(p) }); n != 0 {
			t.Errorf("syncer %v: Put allocates %.1f times", syncer, n)
		}
		if n := testing.AllocsPerRun(2000, func() {
			seq, _, err := d.Read()
			if err != nil {
				t.Fatal(err)
			}
			d.Ack(seq)
		}); n != 0 {
			t.Errorf("syncer %v: Read+Ack allocates %.1f times", syncer, n)
		}
		diskClose(t, d)
	}
}
