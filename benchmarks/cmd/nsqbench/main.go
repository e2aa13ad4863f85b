// Command nsqbench is nsqreactor's load tool: it runs the benchmark scenarios against nsqd
// binaries (ours and upstream v1.3.0) and compares them. See `nsqbench help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"nsqreactor/benchmarks/bench"
)

const usage = `nsqbench: load scenarios for nsqd-compatible daemons.

  nsqbench compare [flags]   build ours and upstream, run every scenario A B A B, write results
  nsqbench run [flags]       run scenarios once against one binary (or -bin null) and print metrics
  nsqbench list              list scenario cases

Run "nsqbench compare -h" or "nsqbench run -h" for flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if _, err := bench.RaiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "nsqbench: raising RLIMIT_NOFILE:", err)
	}
	var err error
	switch os.Args[1] {
	case "compare":
		err = runCompare(ctx, os.Args[2:])
	case "run":
		err = runOne(ctx, os.Args[2:])
	case "list":
		for _, c := range bench.Cases(bench.DefaultConfig()) {
			fmt.Printf("%-22s group=%s ceiling=%v %v\n", c.Name, c.Group, c.Ceiling, c.Args)
		}
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "nsqbench:", err)
		}
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "  "+format+"\n", args...) }

func runOne(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	bin := fs.String("bin", "", `nsqd-compatible binary, or "null" for the in-process null server`)
	scenarios := fs.String("scenarios", "all", "comma-separated scenario groups or case names (see list)")
	quick := fs.Bool("quick", false, "short phases (QuickConfig)")
	verbose := fs.Bool("v", false, "log scenario details")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("run: -bin is required")
	}
	cfg := bench.DefaultConfig()
	if *quick {
		cfg = bench.QuickConfig()
	}
	cases, err := bench.SelectCases(bench.Cases(cfg), *scenarios)
	if err != nil {
		return err
	}
	spec := bench.TargetSpec{Name: *bin, Bin: *bin}
	if *bin == "null" {
		spec = bench.TargetSpec{Name: "ceiling"}
	}
	l := func(string, ...any) {}
	if *verbose {
		l = logf
	}
	return bench.RunSingle(ctx, spec, cases, cfg, os.Stdout, l)
}

// compareFlags are compare's command-line flags.
type compareFlags struct {
	quick, ceiling, verbose                      bool
	rounds                                       int
	ours, upstream, scenarios, repo, results, wd string
	noise                                        float64
}

func parseCompareFlags(args []string) (compareFlags, error) {
	var f compareFlags
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.BoolVar(&f.quick, "quick", false, "about a minute: 1 s phases, 2 rounds, 1,000 connections only")
	fs.IntVar(&f.rounds, "rounds", 0, "A B rounds per scenario (default 3, or 2 with -quick)")
	fs.StringVar(&f.ours, "ours", "", "our nsqd binary (default: go build ./cmd/nsqd at the repository root)")
	fs.StringVar(&f.upstream, "upstream", "", "upstream nsqd v1.3.0 (default: <repo>/.bin/nsqd, built through tools/upstream if missing)")
	fs.StringVar(&f.scenarios, "scenarios", "all", "comma-separated scenario groups or case names (see nsqbench list)")
	fs.BoolVar(&f.ceiling, "ceiling", true, "also run the null-server ceiling for pub, pub-latency and http-pub")
	fs.StringVar(&f.repo, "repo", "", "repository root (default: found above the working directory)")
	fs.StringVar(&f.results, "results", "", `directory for the results file and chart (default <repo>/benchmarks/results; "-" writes none)`)
	fs.Float64Var(&f.noise, "noise", 0.3, "flag a run as disturbed when other processes used more than this many cores")
	fs.StringVar(&f.wd, "workdir", "", "parent of the daemons' data directories (default $TMPDIR)")
	fs.BoolVar(&f.verbose, "v", false, "log scenario details")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("compare: unexpected argument %q", fs.Arg(0))
	}
	if f.rounds == 0 {
		f.rounds = 3
		if f.quick {
			f.rounds = 2
		}
	}
	if f.rounds < 1 {
		return f, fmt.Errorf("compare: -rounds %d: need at least 1", f.rounds)
	}
	return f, nil
}

func runCompare(ctx context.Context, args []string) error {
	f, err := parseCompareFlags(args)
	if err != nil {
		return err
	}
	cfg := bench.DefaultConfig()
	if f.quick {
		cfg = bench.QuickConfig()
	}
	cases, err := bench.SelectCases(bench.Cases(cfg), f.scenarios)
	if err != nil {
		return err
	}
	repo := f.repo
	if repo == "" {
		wd, _ := os.Getwd()
		if repo, err = bench.FindRepoRoot(wd); err != nil && (f.ours == "" || f.upstream == "" || f.results == "") {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "nsqbench-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	up, us, err := resolveBinaries(ctx, repo, tmp, f.upstream, f.ours)
	if err != nil {
		return err
	}
	l := func(string, ...any) {}
	if f.verbose {
		l = logf
	}
	opts := bench.CompareOptions{Upstream: up, Ours: us, Rounds: f.rounds, Ceiling: f.ceiling, Cfg: cfg,
		Cases: cases, WorkDir: f.wd, Noise: f.noise, Progress: os.Stderr, Logf: l}
	machine := bench.CollectMachine(ctx, repo, up, us)
	fmt.Fprintf(os.Stderr, "nsqbench compare: %d cases x %d rounds (A=upstream %s, B=ours %s)\n",
		len(cases), f.rounds, machine.UpstreamInfo, machine.OursInfo)
	rep := bench.Compare(ctx, opts)
	rep.Machine, rep.Command = machine, "nsqbench compare "+strings.Join(args, " ")
	if ctx.Err() != nil {
		return fmt.Errorf("compare: interrupted after %d runs; no results written", len(rep.Runs))
	}
	rows := bench.Summarize(rep)
	fmt.Println()
	if err := bench.WriteTable(os.Stdout, rows); err != nil {
		return err
	}
	return finishCompare(rep, rows, repo, f.results)
}

// resolveBinaries returns the upstream and our daemon binaries, building what was not given.
func resolveBinaries(ctx context.Context, repo, tmp, upstream, ours string) (string, string, error) {
	var err error
	if upstream == "" {
		fmt.Fprintln(os.Stderr, "nsqbench: upstream: <repo>/.bin/nsqd (building it through tools/upstream if missing)")
		if upstream, err = bench.EnsureUpstream(ctx, repo); err != nil {
			return "", "", err
		}
	}
	if ours == "" {
		fmt.Fprintln(os.Stderr, "nsqbench: ours: go build ./cmd/nsqd")
		if ours, err = bench.BuildOurs(ctx, repo, tmp); err != nil {
			return "", "", err
		}
	}
	for _, bin := range []string{upstream, ours} {
		if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", "", fmt.Errorf("compare: %s is not an executable file", bin)
		}
	}
	return upstream, ours, nil
}

// finishCompare writes the results file and chart and turns failed runs into an error.
func finishCompare(rep *bench.Report, rows []bench.Row, repo, dir string) error {
	disturbed, failed := 0, 0
	for _, r := range rep.Runs {
		if rep.Disturbed(r) {
			disturbed++
		}
		if r.Err != nil {
			failed++
		}
	}
	fmt.Fprintf(os.Stderr, "\n%d runs in %v; %d disturbed by other load (> %.2f cores)\n",
		len(rep.Runs), rep.End.Sub(rep.Start).Round(time.Second), disturbed, rep.Opts.Noise)
	if dir != "-" {
		if dir == "" {
			dir = filepath.Join(repo, "benchmarks", "results")
		}
		md, png, err := rep.Save(dir, rows)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "results: %s\nchart:   %s\n", md, png)
	}
	if failed > 0 {
		return fmt.Errorf("compare: %d of %d runs failed (see FAILED rows)", failed, len(rep.Runs))
	}
	return nil
}
