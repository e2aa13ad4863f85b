package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat and /proc/stat times. It is 100 on every
// Linux architecture Go supports (the kernel's HZ may differ, the exported unit does not).
const clockTick = 10 * time.Millisecond

// ProcCPU returns utime+stime of process pid (all its threads) from /proc/<pid>/stat.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(b)
}

// parseProcStatCPU reads fields 14 (utime) and 15 (stime) of a /proc/<pid>/stat line. The
// command name (field 2) may contain spaces and parentheses, so fields count from the last ')'.
func parseProcStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc/pid/stat: %.40q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) is f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc/pid/stat: %d fields", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: bad utime/stime %q %q", f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// ProcStatus is the part of /proc/<pid>/status the harness reports.
type ProcStatus struct {
	RSS     int64 // VmRSS, bytes
	PeakRSS int64 // VmHWM, bytes
	Threads int
}

// ReadProcStatus reads /proc/<pid>/status.
func ReadProcStatus(pid int) (ProcStatus, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ProcStatus{}, err
	}
	return parseProcStatus(b)
}

func parseProcStatus(b []byte) (ProcStatus, error) {
	var st ProcStatus
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			st.RSS, seen = n<<10, seen|1
		case "VmHWM":
			st.PeakRSS, seen = n<<10, seen|2
		case "Threads":
			st.Threads, seen = int(n), seen|4
		}
	}
	if seen != 7 {
		return st, fmt.Errorf("bench: /proc/pid/status lacks VmRSS, VmHWM or Threads")
	}
	return st, nil
}

// MachineCPU is the whole machine's CPU time from the first line of /proc/stat, summed over
// all cores.
type MachineCPU struct {
	Task  time.Duration // user + nice + system: time any task ran, ours or others'
	IRQ   time.Duration // irq + softirq: loopback traffic lands here, so it is not counted as "other"
	Steal time.Duration // taken by the hypervisor for other guests
	Total time.Duration // every field up to steal, idle included
}

// ReadMachineCPU reads /proc/stat.
func ReadMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, err
	}
	return parseMachineCPU(b)
}

func parseMachineCPU(b []byte) (MachineCPU, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}, fmt.Errorf("bench: malformed /proc/stat: %.60q", line)
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return MachineCPU{}, fmt.Errorf("bench: /proc/stat field %d: %w", i+1, err)
		}
		v[i] = n
	}
	var m MachineCPU
	m.Task = time.Duration(v[0]+v[1]+v[2]) * clockTick
	m.IRQ = time.Duration(v[5]+v[6]) * clockTick
	m.Steal = time.Duration(v[7]) * clockTick
	for _, n := range v {
		m.Total += time.Duration(n) * clockTick
	}
	return m, nil
}

// SelfCPU returns the harness process's own user+system CPU time (the null server included).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoadAvg returns the 1-minute load average from /proc/loadavg, or -1.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// RaiseFileLimit sets the soft RLIMIT_NOFILE to the hard limit and returns it. Calling Setrlimit
// explicitly also stops os/exec from restoring the original soft limit in children, so daemons
// started afterwards inherit the raised limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// ProcFileLimit returns the soft "Max open files" of process pid from /proc/<pid>/limits.
func ProcFileLimit(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseUint(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("bench: no Max open files in /proc/%d/limits", pid)
}
