package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Names of the targets in a comparison.
const (
	TargetUpstream = "upstream"
	TargetOurs     = "ours"
	TargetCeiling  = "ceiling"
)

// CompareOptions configures a comparison run.
type CompareOptions struct {
	Upstream, Ours string  // daemon binaries: A and B
	Rounds         int     // A B pairs per case
	Ceiling        bool    // also run the ceiling cases against the null server each round
	Cfg            Config  // scenario sizes
	Cases          []Case  // what to run, in order
	WorkDir        string  // parent of the daemons' data directories; "" means os.TempDir()
	Noise          float64 // other load, in cores, above which a run is flagged as disturbed
	Progress       io.Writer
	Logf           func(string, ...any) // scenario details; nil for none
}

// Report is everything a comparison produced: the per-run results and what is needed to print
// and file them.
type Report struct {
	Opts    CompareOptions
	Machine MachineInfo // filled in by the caller
	Command string      // the command line, for the results file
	Start   time.Time
	End     time.Time
	Runs    []CaseResult
}

// Compare runs every case Rounds times, alternating upstream (A) and ours (B) with a fresh
// daemon and data directory for each run, plus the ceiling where the case has one. It shows
// progress as it goes and keeps going past a failed run (which the report shows as failed);
// it stops early only when ctx ends. The returned report is complete up to that point.
func Compare(ctx context.Context, opts CompareOptions) *Report {
	rep := &Report{Opts: opts, Start: time.Now()}
	targets := []TargetSpec{
		{Name: TargetUpstream, Bin: opts.Upstream, WorkDir: opts.WorkDir},
		{Name: TargetOurs, Bin: opts.Ours, WorkDir: opts.WorkDir},
	}
	var plan []string // case name of every run, in order, for the ETA
	for _, c := range opts.Cases {
		for range opts.Rounds * len(targetsFor(c, targets, opts.Ceiling)) {
			plan = append(plan, c.Name)
		}
	}
	for _, c := range opts.Cases {
		for round := 1; round <= opts.Rounds; round++ {
			for _, t := range targetsFor(c, targets, opts.Ceiling) {
				if ctx.Err() != nil {
					rep.End = time.Now()
					return rep
				}
				res := RunCase(ctx, t, c, opts.Cfg, opts.Logf)
				res.Round = round
				rep.Runs = append(rep.Runs, res)
				rep.progress(plan, res)
			}
		}
	}
	rep.End = time.Now()
	return rep
}

// eta estimates the time the runs still planned will take: each at the average of its case's
// runs so far, or at one phase plus startup for a case not yet run.
func (r *Report) eta(plan []string) time.Duration {
	sum, n := map[string]time.Duration{}, map[string]int{}
	for _, res := range r.Runs {
		sum[res.Case] += res.Elapsed
		n[res.Case]++
	}
	var eta time.Duration
	for _, name := range plan[len(r.Runs):] {
		if n[name] > 0 {
			eta += sum[name] / time.Duration(n[name])
		} else {
			eta += r.Opts.Cfg.Duration + 500*time.Millisecond
		}
	}
	return eta
}

func targetsFor(c Case, daemons []TargetSpec, ceiling bool) []TargetSpec {
	if ceiling && c.Ceiling {
		return append([]TargetSpec{{Name: TargetCeiling}}, daemons...)
	}
	return daemons
}

// Disturbed reports whether a run saw more load from other processes than opts.Noise.
func (r *Report) Disturbed(res CaseResult) bool { return res.OtherCores > r.Opts.Noise }

// progress prints one line per finished run: position, elapsed, a rough ETA, the headline
// numbers, and any disturbance or failure.
func (r *Report) progress(plan []string, res CaseResult) {
	if r.Opts.Progress == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%3d/%d %s eta %s] %-20s r%d %-8s ", len(r.Runs), len(plan), clock(time.Since(r.Start)),
		clock(r.eta(plan)),
		res.Case, res.Round, res.Target)
	if res.Err != nil {
		fmt.Fprintf(&b, "FAILED: %v", firstLine(res.Err.Error()))
	} else {
		for i, m := range res.Metrics {
			if i == 3 {
				break
			}
			v := "n/a"
			if !m.NA {
				v = FormatValue(m.Unit, m.Value)
			}
			fmt.Fprintf(&b, "%s=%s ", m.Name, v)
		}
	}
	if r.Disturbed(res) {
		fmt.Fprintf(&b, " DISTURBED (other load %.2f cores, loadavg %.2f)", res.OtherCores, res.LoadAvg)
	}
	fmt.Fprintln(r.Opts.Progress, b.String())
	if res.Err != nil && strings.Contains(res.Err.Error(), "\n") {
		fmt.Fprintln(r.Opts.Progress, indent(res.Err.Error(), "      "))
	}
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
