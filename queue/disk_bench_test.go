package queue

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Disk queue benchmarks. The files live in the test's temporary directory
// (tmpfs or not, that is the page cache's business: Put and Read never wait
// for the device; the group-commit benchmark does).

var diskBenchSizes = []int{16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

func diskSizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

func benchDisk(b *testing.B, mod func(*DiskConfig)) *Disk {
	d := openDisk(b, b.TempDir(), nil, func(c *DiskConfig) {
		c.MaxBytesPerFile = DefaultMaxBytesPerFile
		if mod != nil {
			mod(c)
		}
	})
	b.Cleanup(func() { d.Delete() })
	return d
}

// BenchmarkDiskPut appends records; the queue is emptied (untimed) every
// 256 MiB so that the disk does not fill.
func BenchmarkDiskPut(b *testing.B) {
	for _, size := range diskBenchSizes {
		b.Run("size="+diskSizeName(size), func(b *testing.B) {
			d := benchDisk(b, nil)
			p := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			written := 0
			for b.Loop() {
				if _, err := d.Put(p); err != nil {
					b.Fatal(err)
				}
				if written += size; written > 256<<20 {
					b.StopTimer()
					d.Empty()
					written = 0
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkDiskReadAck reads and acknowledges records (CRC check included),
// refilling the queue untimed when it runs dry.
func BenchmarkDiskReadAck(b *testing.B) {
	for _, size := range diskBenchSizes {
		b.Run("size="+diskSizeName(size), func(b *testing.B) {
			d := benchDisk(b, nil)
			p := make([]byte, size)
			fill := max(1, (64<<20)/size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				seq, _, err := d.Read()
				if err == ErrEmpty {
					b.StopTimer()
					for range fill {
						d.Put(p)
					}
					b.StartTimer()
					seq, _, err = d.Read()
				}
				if err != nil {
					b.Fatal(err)
				}
				d.Ack(seq)
			}
		})
	}
}

// BenchmarkDiskGroupCommit is --sync-every=1 with a publisher per writer
// goroutine: each Puts a 256-byte record under a shared lock (the topic's,
// in core) and then waits, without the lock, until it is on disk. Reported:
// syncs/put, the fraction of an fsync round each durable Put costs (1.0
// would be upstream's one sync per write).
func BenchmarkDiskGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 4, 16, 64, 256} {
		b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
			d := benchDisk(b, func(c *DiskConfig) { c.SyncEvery = 1 })
			p := make([]byte, 256)
			var owner sync.Mutex
			var left atomic.Int64
			left.Store(int64(b.N))
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			start := d.Syncs()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						owner.Lock()
						seq, err := d.Put(p)
						owner.Unlock()
						if err == nil {
							err = d.WaitDurable(seq)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(d.Syncs()-start)/float64(b.N), "syncs/put")
		})
	}
}
