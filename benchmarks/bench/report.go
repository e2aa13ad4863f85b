package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

var tableHeader = []string{"scenario", "metric", "better", "upstream", "ours", "ours/upstream",
	"pair range", "ceiling", "noisy"}

// cells renders a row as table cells, in tableHeader's order.
func (row Row) cells() []string {
	if row.Failed != "" {
		return []string{row.Case, "FAILED", "", row.Failed, "", "", "", "", ""}
	}
	better := map[Better]string{HigherBetter: "↑", LowerBetter: "↓"}[row.Better]
	pairs, noisy := "-", "-"
	if row.Pairs > 0 {
		pairs = FormatRatio(row.PairMin) + ".." + FormatRatio(row.PairMax)
		noisy = fmt.Sprintf("%d/%d", row.Noisy, row.Pairs)
	}
	ceiling := ""
	if row.Ceiling.N > 0 {
		ceiling = statCell(row.Ceiling, row.Unit)
	}
	return []string{row.Case, MetricLabel(row.Metric, row.Unit), better, statCell(row.Upstream, row.Unit),
		statCell(row.Ours, row.Unit), FormatRatio(row.Ratio), pairs, ceiling, noisy}
}

func statCell(s Stat, unit string) string {
	switch {
	case s.NA:
		return "n/a"
	case s.N == 0:
		return "-"
	case unit == UnitYesNo:
		return fmt.Sprintf("%d/%d yes", s.Yes, s.N)
	default:
		return FormatValue(unit, s.Median)
	}
}

// WriteTable prints the comparison table as aligned text.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t"))
	prev := ""
	for _, row := range rows {
		c := row.cells()
		if c[0] == prev {
			c[0] = ""
		} else {
			prev = c[0]
		}
		fmt.Fprintln(tw, strings.Join(c, "\t"))
	}
	return tw.Flush()
}

// writeMarkdownTable prints the rows as a Markdown table.
func writeMarkdownTable(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(tableHeader, " | "), strings.Repeat("---|", len(tableHeader)))
	for _, row := range rows {
		c := row.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", "\\|")
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
	}
}

// WriteMarkdown writes the results file: machine header, how to read the table, the table,
// the chart, and every run's raw numbers.
func (r *Report) WriteMarkdown(w io.Writer, rows []Row, chartFile string) {
	m, o := r.Machine, r.Opts
	fmt.Fprintf(w, "# nsqbench compare: %s, commit %s\n\n", m.Date.UTC().Format("2006-01-02 15:04 MST"), m.commitLabel())
	fmt.Fprintf(w, "| | |\n|---|---|\n")
	for _, kv := range [][2]string{
		{"cpu", fmt.Sprintf("%s, %d cores", m.CPU, m.Cores)}, {"memory", m.Memory}, {"kernel", m.Kernel},
		{"go", m.GoVersion}, {"commit", m.commitLabel()}, {"date", m.Date.UTC().Format(time.RFC3339)},
		{"upstream (A)", fmt.Sprintf("`%s`: %s", o.Upstream, m.UpstreamInfo)},
		{"ours (B)", fmt.Sprintf("`%s`: %s", o.Ours, m.OursInfo)},
		{"command", "`" + r.Command + "`"},
		{"rounds", fmt.Sprintf("%d (A B per round, fresh daemon and data directory per run)", o.Rounds)},
		{"config", o.Cfg.String()},
		{"wall time", r.End.Sub(r.Start).Round(time.Second).String()},
	} {
		fmt.Fprintf(w, "| %s | %s |\n", kv[0], strings.ReplaceAll(kv[1], "|", "\\|"))
	}
	fmt.Fprintf(w, "\n## Results\n\nMedians over rounds. ours/upstream is the ratio of the medians: above 1 is better "+
		"for ↑ metrics, below 1 for ↓ ones. Pair range is the min..max of the per-round ratios, the noise "+
		"of this run. Ceiling is the in-process null server (answers OK, stores nothing): the most the "+
		"client and loopback allow. Noisy counts rounds in which other processes used more than %.2f "+
		"cores (from /proc/stat, less the daemon's and the tool's own CPU, plus steal).\n\n", o.Noise)
	writeMarkdownTable(w, rows)
	if chartFile != "" {
		fmt.Fprintf(w, "\n![ratios and latency percentiles](%s)\n", chartFile)
	}
	fmt.Fprintf(w, "\n## Raw runs\n\nOne line per run; \"other\" is the load from other processes in cores, "+
		"* marks a disturbed run.\n")
	for _, c := range o.Cases {
		r.writeRaw(w, c.Name)
	}
}

func (r *Report) writeRaw(w io.Writer, name string) {
	runs := r.runsOf(name)
	if len(runs) == 0 {
		return
	}
	metrics := metricOrder(runs)
	fmt.Fprintf(w, "\n### %s\n\n| round | target |", name)
	for _, m := range metrics {
		fmt.Fprintf(w, " %s |", MetricLabel(m.Name, m.Unit))
	}
	fmt.Fprintf(w, " other | loadavg | time |\n|%s\n", strings.Repeat("---|", len(metrics)+5))
	for _, res := range runs {
		fmt.Fprintf(w, "| %d | %s |", res.Round, res.Target)
		for _, m := range metrics {
			got, ok := res.Metric(m.Name)
			switch {
			case res.Err != nil || !ok:
				fmt.Fprint(w, " - |")
			case got.NA:
				fmt.Fprint(w, " n/a |")
			default:
				fmt.Fprintf(w, " %s |", rawValue(got))
			}
		}
		mark := ""
		if r.Disturbed(res) {
			mark = "*"
		}
		fmt.Fprintf(w, " %.2f%s | %.2f | %s |\n", res.OtherCores, mark, res.LoadAvg, res.Elapsed.Round(time.Millisecond))
		if res.Err != nil {
			fmt.Fprintf(w, "| | FAILED: %s |\n", strings.ReplaceAll(firstLine(res.Err.Error()), "|", "\\|"))
		}
	}
}

// rawValue prints a metric with more precision than the table, for re-analysis.
func rawValue(m Metric) string {
	if m.Unit == UnitYesNo {
		return FormatValue(m.Unit, m.Value)
	}
	return fmt.Sprintf("%.6g", m.Value)
}

func (m MachineInfo) commitLabel() string {
	if m.Dirty {
		return m.Commit + " (work tree modified)"
	}
	return m.Commit
}

// Save writes <dir>/<date>-<commit>.md and its chart <date>-<commit>.png, adding -2, -3, ... to
// the name if a run from the same day and commit is already there. It returns both paths.
func (r *Report) Save(dir string, rows []Row) (md, png string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	base := r.Machine.Date.Format("2006-01-02") + "-" + r.Machine.Commit
	name := base
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, name+".md")); os.IsNotExist(err) {
			break
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
	md, png = filepath.Join(dir, name+".md"), filepath.Join(dir, name+".png")
	// the figures first: a failing chart must not lose a long run's results
	f, err := os.Create(md)
	if err != nil {
		return "", "", err
	}
	r.WriteMarkdown(f, rows, filepath.Base(png))
	if err := f.Close(); err != nil {
		return "", "", err
	}
	if err := writeChartSafely(png, r, rows); err != nil {
		return md, "", fmt.Errorf("bench: chart: %w", err)
	}
	return md, png, nil
}

// writeChartSafely is WriteChart with gonum/plot's panics (it panics on
// values a scale cannot show) turned into errors.
func writeChartSafely(path string, r *Report, rows []Row) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return WriteChart(path, r, rows)
}
