package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStatCPU(t *testing.T) {
	// Field 2 may hold spaces and parentheses; utime=150, stime=50 ticks.
	line := []byte("1234 (nsqd (a) b) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 8 0 100 0 0")
	got, err := parseProcStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * time.Second; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := parseProcStatCPU([]byte("garbage")); err == nil {
		t.Error("got nil error for a line without ')'")
	}
}

func TestParseProcStatus(t *testing.T) {
	b := []byte("Name:\tnsqd\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n")
	got, err := parseProcStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStatus{RSS: 10 << 20, PeakRSS: 20 << 20, Threads: 7}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := parseProcStatus([]byte("Name:\tx\n")); err == nil {
		t.Error("got nil error for a status without the fields")
	}
}

func TestParseMachineCPU(t *testing.T) {
	b := []byte("cpu  100 10 50 1000 5 2 3 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	got, err := parseMachineCPU(b)
	if err != nil {
		t.Fatal(err)
	}
	want := MachineCPU{Task: 160 * clockTick, IRQ: 5 * clockTick, Steal: 7 * clockTick, Total: 1177 * clockTick}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestProcSelf reads this process's own /proc entries, the same files the harness reads for a
// daemon.
func TestProcSelf(t *testing.T) {
	if _, err := ProcCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	st, err := ReadProcStatus(os.Getpid())
	if err != nil || st.RSS <= 0 || st.Threads <= 0 {
		t.Errorf("got %+v, %v; want positive RSS and threads", st, err)
	}
	if lim, err := ProcFileLimit(os.Getpid()); err != nil || lim == 0 {
		t.Errorf("ProcFileLimit: got %d, %v", lim, err)
	}
	if _, err := ReadMachineCPU(); err != nil {
		t.Error(err)
	}
}
