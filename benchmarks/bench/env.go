package bench

import (
	"context"
	"fmt"
	"time"
)

// Better says which direction of a metric is an improvement.
type Better int

// Directions of improvement.
const (
	Neutral      Better = 0
	HigherBetter Better = 1
	LowerBetter  Better = -1
)

// Units the report knows how to print. Values are stored in these units.
const (
	UnitMsgPerSec = "msg/s"
	UnitMBPerSec  = "MB/s"
	UnitMicros    = "µs"
	UnitMillis    = "ms"
	UnitSeconds   = "s"
	UnitCPUPerM   = "cpu-s/M"
	UnitMiB       = "MiB"
	UnitKiB       = "KiB"
	UnitCount     = "count"
	UnitYesNo     = "yes/no" // 1 or 0; the report shows how many rounds said yes
)

// Metric is one number a scenario run produced.
type Metric struct {
	Name   string // "msg/s", "p99", "peak RSS"
	Unit   string
	Better Better
	Value  float64
	NA     bool // the target cannot produce it (no HTTP listener, the in-process null server)
}

// Target is what a scenario runs against: a daemon subprocess or the in-process null server.
type Target struct {
	Name    string // "upstream", "ours", "ceiling"
	TCPAddr string
	Pid     int // 0 for the in-process null server: no CPU or RSS of its own to read
	daemon  *Daemon
	started time.Time

	nullHTTPAddr string // the null server's HTTP listener (httpnull.go)
}

// httpWait is how long after startup a daemon may take to announce its HTTP listener (upstream
// logs it within a millisecond of the TCP one) before http-pub reports n/a.
const httpWait = time.Second

// HTTPAddr returns the target's HTTP address, or "" if it has none: the null server's is its
// null HTTP answerer; a daemon has one if it announced "HTTP: listening on" within httpWait of
// its start.
func (t *Target) HTTPAddr() string {
	if t.daemon == nil {
		return t.nullHTTPAddr
	}
	return t.daemon.HTTPAddr(time.Until(t.started.Add(httpWait)))
}

// Env is one scenario run's view of its target and configuration, and where it records
// metrics. A scenario runs on one goroutine; its helpers may use more, but only that goroutine
// calls Env's methods.
type Env struct {
	Ctx    context.Context // bounded by Config.CaseTimeout; every network call derives from it
	Target *Target
	Cfg    Config
	Logf   func(format string, args ...any)
	Dir    string // what Case.Prepare wrote, or ""

	metrics    []Metric
	otherCores float64 // highest "other load" any window saw
}

// Add records a metric.
func (e *Env) Add(name, unit string, better Better, v float64) {
	e.metrics = append(e.metrics, Metric{Name: name, Unit: unit, Better: better, Value: v})
}

// AddNA records a metric the target cannot produce.
func (e *Env) AddNA(name, unit string, better Better) {
	e.metrics = append(e.metrics, Metric{Name: name, Unit: unit, Better: better, NA: true})
}

// CheckAlive fails if the daemon has exited.
func (e *Env) CheckAlive() error {
	if e.Target.daemon == nil {
		return nil
	}
	return e.Target.daemon.Alive()
}

// Window is a measured interval: wall time, the daemon's CPU, the harness's CPU and the whole
// machine's, so that load from anything else can be told apart.
type Window struct {
	env       *Env
	start     time.Time
	daemonCPU time.Duration
	selfCPU   time.Duration
	machine   MachineCPU
}

// WindowStats is what a Window measured.
type WindowStats struct {
	Wall       time.Duration
	DaemonCPU  time.Duration // 0 for the null server
	ToolCPU    time.Duration
	OtherCores float64 // average cores used by neither the daemon nor the harness, plus steal
}

// Start opens a measurement window.
func (e *Env) Start() (*Window, error) {
	w := &Window{env: e, selfCPU: SelfCPU()}
	var err error
	if e.Target.Pid != 0 {
		if w.daemonCPU, err = ProcCPU(e.Target.Pid); err != nil {
			return nil, err
		}
	}
	if w.machine, err = ReadMachineCPU(); err != nil {
		return nil, err
	}
	w.start = time.Now()
	return w, nil
}

// Stop closes the window and records its other-load figure in the Env.
func (w *Window) Stop() (WindowStats, error) {
	st := WindowStats{Wall: time.Since(w.start), ToolCPU: SelfCPU() - w.selfCPU}
	if pid := w.env.Target.Pid; pid != 0 {
		cpu, err := ProcCPU(pid)
		if err != nil {
			return st, fmt.Errorf("bench: daemon CPU: %w", err)
		}
		st.DaemonCPU = cpu - w.daemonCPU
	}
	m, err := ReadMachineCPU()
	if err != nil {
		return st, err
	}
	other := (m.Task - w.machine.Task) - st.DaemonCPU - st.ToolCPU
	other = max(other, 0) + (m.Steal - w.machine.Steal)
	if st.Wall > 0 {
		st.OtherCores = other.Seconds() / st.Wall.Seconds()
	}
	w.env.otherCores = max(w.env.otherCores, st.OtherCores)
	return st, nil
}

// AddCPU records the daemon's CPU-seconds per million messages over a window.
func (e *Env) AddCPU(st WindowStats, messages int64) {
	if e.Target.Pid == 0 {
		e.AddNA("daemon cpu", UnitCPUPerM, LowerBetter)
		return
	}
	if messages <= 0 {
		return
	}
	e.Add("daemon cpu", UnitCPUPerM, LowerBetter, st.DaemonCPU.Seconds()/float64(messages)*1e6)
}

// rate returns n per second over d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
