package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"nsqreactor/benchmarks/wire"
)

// Case is one scenario in one configuration, run against a fresh daemon each time.
type Case struct {
	Name    string   // "pub/conns=4"
	Group   string   // "pub": what -scenarios selects by
	Args    []string // extra daemon flags, e.g. --mem-queue-size=0
	Ceiling bool     // also run against the null server
	Run     func(e *Env) error

	// Prepare, if set, runs before the target starts: it writes what the case needs (TLS
	// certificates) into dir, a directory of the run's own (Env.Dir, removed afterwards), and
	// returns more daemon flags.
	Prepare func(dir string) ([]string, error)
}

// Cases returns every scenario case for cfg, in the order compare runs them.
//
// The memory-path cases (pub, pub-latency, sub, http-pub) run the daemon with
// --mem-queue-size=Config.MemQueueSize, large enough that nothing they publish overflows to disk:
// with the default 10,000, a topic without channels or a pre-filled channel would spill almost
// everything to its disk queue on both daemons and these cases would measure disk/* again. The
// disk cases force every message through disk with --mem-queue-size=0; e2e, fanout and
// connections keep the default, as a deployment would.
func Cases(cfg Config) []Case {
	mem := []string{"--mem-queue-size=" + strconv.Itoa(cfg.MemQueueSize)}
	cs := []Case{
		{Name: "pub/conns=1", Group: "pub", Args: mem, Ceiling: true, Run: func(e *Env) error { return runPub(e, 1) }},
		{Name: fmt.Sprintf("pub/conns=%d", cfg.PubConns), Group: "pub", Args: mem, Ceiling: true,
			Run: func(e *Env) error { return runPub(e, e.Cfg.PubConns) }},
		{Name: "pub-latency", Group: "pub-latency", Args: mem, Ceiling: true, Run: runPubLatency},
		{Name: "sub", Group: "sub", Args: mem, Run: runSub},
	}
	for _, r := range cfg.E2ERates {
		cs = append(cs, Case{Name: fmt.Sprintf("e2e/rate=%s", shortCount(float64(r))), Group: "e2e",
			Run: func(e *Env) error { return runE2E(e, r) }})
	}
	cs = append(cs, Case{Name: "fanout", Group: "fanout", Run: runFanout})
	for _, n := range cfg.Connections {
		cs = append(cs, Case{Name: fmt.Sprintf("connections/n=%d", n), Group: "connections",
			Run: func(e *Env) error { return runConnections(e, n) }})
	}
	diskArgs := []string{"--mem-queue-size=0"}
	cs = append(cs,
		Case{Name: "disk/pub", Group: "disk", Args: diskArgs, Run: func(e *Env) error { return runPub(e, 1) }},
		Case{Name: "disk/sub", Group: "disk", Args: diskArgs, Run: runSub},
		Case{Name: "http-pub/pub", Group: "http-pub", Args: mem, Ceiling: true,
			Run: func(e *Env) error { return runHTTPPub(e, false) }},
		Case{Name: "http-pub/mpub", Group: "http-pub", Args: mem, Ceiling: true,
			Run: func(e *Env) error { return runHTTPPub(e, true) }},
	)
	return append(cs, layerCases(mem)...)
}

// Groups lists the scenario names -scenarios accepts.
func Groups() []string {
	return []string{"pub", "pub-latency", "sub", "e2e", "fanout", "connections", "disk", "http-pub", "layers", "ceiling"}
}

// SelectCases keeps the cases whose group or name is in the comma-separated list; "" or "all"
// keeps everything. "ceiling" selects the cases that have a ceiling run. An unknown name is an
// error.
func SelectCases(cs []Case, list string) ([]Case, error) {
	if list == "" || list == "all" {
		return cs, nil
	}
	var out []Case
	for _, want := range strings.Split(list, ",") {
		want = strings.TrimSpace(want)
		n := len(out)
		for _, c := range cs {
			if c.Group == want || c.Name == want || (want == "ceiling" && c.Ceiling) {
				out = append(out, c)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("bench: no scenario %q (have %s, or a case name from `nsqbench list`)",
				want, strings.Join(Groups(), ", "))
		}
	}
	return out, nil
}

// CaseResult is one run of one case against one target.
type CaseResult struct {
	Case       string
	Target     string
	Round      int
	Metrics    []Metric
	OtherCores float64 // highest load from other processes seen during the run, cores
	LoadAvg    float64 // 1-minute load average when the run started
	Elapsed    time.Duration
	Err        error
}

// Metric returns the named metric, if the run recorded it.
func (r *CaseResult) Metric(name string) (Metric, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// TargetSpec says how to bring up a target for one run: a daemon binary, or Bin == "" for the
// in-process null server.
type TargetSpec struct {
	Name    string
	Bin     string
	WorkDir string
}

// RunCase starts a fresh target, runs the case bounded by cfg.CaseTimeout, records the
// daemon's peak RSS, and stops the target. A daemon that dies or exits uncleanly fails the run.
func RunCase(ctx context.Context, spec TargetSpec, c Case, cfg Config, logf func(string, ...any)) (res CaseResult) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	res = CaseResult{Case: c.Name, Target: spec.Name, LoadAvg: LoadAvg()}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout)
	defer cancel()
	args, dir, err := prepareCase(c, spec.WorkDir)
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		res.Err = err
		return res
	}
	t, stop, err := startTarget(ctx, spec, args)
	if err != nil {
		res.Err = err
		return res
	}
	e := &Env{Ctx: ctx, Target: t, Cfg: cfg, Logf: logf, Dir: dir}
	err = c.Run(e)
	if err == nil {
		err = e.CheckAlive()
	}
	if err == nil && t.Pid != 0 && producedNumbers(e.metrics) {
		var st ProcStatus
		if st, err = ReadProcStatus(t.Pid); err == nil {
			e.Add("peak RSS", UnitMiB, LowerBetter, float64(st.PeakRSS)/(1<<20))
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && err != nil {
		err = fmt.Errorf("%w (case timeout %v)", err, cfg.CaseTimeout)
	}
	if stopErr := stop(); err == nil {
		err = stopErr
	}
	res.Metrics, res.OtherCores, res.Err = e.metrics, e.otherCores, err
	return res
}

// producedNumbers reports whether any metric has a value: a scenario that was n/a for this
// target (no HTTP listener) gets no peak RSS either, so it is not compared on memory alone.
func producedNumbers(ms []Metric) bool {
	for _, m := range ms {
		if !m.NA {
			return true
		}
	}
	return false
}

// prepareCase runs c.Prepare, if any, in a fresh directory under workDir and returns the daemon
// flags and that directory.
func prepareCase(c Case, workDir string) (args []string, dir string, err error) {
	if c.Prepare == nil {
		return c.Args, "", nil
	}
	if dir, err = os.MkdirTemp(workDir, "nsqbench-case-"); err != nil {
		return nil, "", err
	}
	more, err := c.Prepare(dir)
	return append(append([]string(nil), c.Args...), more...), dir, err
}

func startTarget(ctx context.Context, spec TargetSpec, args []string) (*Target, func() error, error) {
	if spec.Bin == "" {
		s, err := wire.StartNull("127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		h, err := wire.StartNullWith("127.0.0.1:0", serveNullHTTP)
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		stop := func() error { return errors.Join(h.Close(), s.Close()) }
		return &Target{Name: spec.Name, TCPAddr: s.Addr(), nullHTTPAddr: h.Addr()}, stop, nil
	}
	d, err := StartDaemon(ctx, DaemonOptions{Bin: spec.Bin, Args: args, WorkDir: spec.WorkDir})
	if err != nil {
		return nil, nil, err
	}
	t := &Target{Name: spec.Name, TCPAddr: d.TCPAddr, Pid: d.Pid(), daemon: d, started: time.Now()}
	return t, d.Stop, nil
}
