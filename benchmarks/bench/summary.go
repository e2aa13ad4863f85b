package bench

import (
	"fmt"
	"math"
	"slices"
)

// Stat summarises one target's runs of one metric.
type Stat struct {
	Median float64
	N      int  // runs that produced the metric
	Yes    int  // for yes/no metrics: runs that said yes
	NA     bool // every run that recorded the metric marked it n/a
}

// Row is one line of the comparison table: one metric of one case.
type Row struct {
	Case, Metric, Unit string
	Better             Better
	Upstream, Ours     Stat
	Ceiling            Stat
	Ratio              float64 // ours median / upstream median; NaN when not comparable
	PairMin, PairMax   float64 // range of the per-round ratios ours/upstream (the noise)
	Pairs              int     // rounds with both numbers
	Noisy              int     // of those, rounds in which either run was disturbed
	Failed             string  // for a failure row: which runs failed and why
}

// Summarize turns a report's runs into table rows, in case order and, within a case, in the
// order the metrics were recorded. A case with failed runs gets a failure row first.
func Summarize(r *Report) []Row {
	var rows []Row
	for _, c := range r.Opts.Cases {
		runs := r.runsOf(c.Name)
		if len(runs) == 0 {
			continue
		}
		if msg := failures(runs); msg != "" {
			rows = append(rows, Row{Case: c.Name, Failed: msg, Ratio: math.NaN()})
		}
		for _, m := range metricOrder(runs) {
			rows = append(rows, r.row(c.Name, m, runs))
		}
	}
	return rows
}

func (r *Report) runsOf(name string) []CaseResult {
	var out []CaseResult
	for _, res := range r.Runs {
		if res.Case == name {
			out = append(out, res)
		}
	}
	return out
}

func failures(runs []CaseResult) string {
	msg := ""
	for _, res := range runs {
		if res.Err != nil {
			if msg != "" {
				msg += "; "
			}
			msg += fmt.Sprintf("%s r%d: %s", res.Target, res.Round, firstLine(res.Err.Error()))
		}
	}
	return msg
}

// metricOrder lists the metrics the runs recorded, first appearance first, describing each by
// an occurrence that has a value where there is one.
func metricOrder(runs []CaseResult) []Metric {
	var out []Metric
	for _, res := range runs {
		for _, m := range res.Metrics {
			i := slices.IndexFunc(out, func(o Metric) bool { return o.Name == m.Name })
			switch {
			case i < 0:
				out = append(out, m)
			case out[i].NA && !m.NA:
				out[i] = m
			}
		}
	}
	return out
}

func (r *Report) row(name string, m Metric, runs []CaseResult) Row {
	row := Row{Case: name, Metric: m.Name, Unit: m.Unit, Better: m.Better, Ratio: math.NaN(),
		PairMin: math.NaN(), PairMax: math.NaN()}
	byTarget := map[string]map[int]Metric{}
	disturbed := map[int]bool{}
	for _, res := range runs {
		if res.Err != nil {
			continue
		}
		if got, ok := res.Metric(m.Name); ok {
			if byTarget[res.Target] == nil {
				byTarget[res.Target] = map[int]Metric{}
			}
			byTarget[res.Target][res.Round] = got
		}
		if res.Target != TargetCeiling && r.Disturbed(res) {
			disturbed[res.Round] = true
		}
	}
	row.Upstream = stat(byTarget[TargetUpstream])
	row.Ours = stat(byTarget[TargetOurs])
	row.Ceiling = stat(byTarget[TargetCeiling])
	if m.Unit == UnitYesNo {
		return row
	}
	if comparable(row.Upstream, row.Ours) {
		row.Ratio = row.Ours.Median / row.Upstream.Median
	}
	for round, up := range byTarget[TargetUpstream] {
		ours, ok := byTarget[TargetOurs][round]
		if !ok || up.NA || ours.NA || up.Value == 0 {
			continue
		}
		pr := ours.Value / up.Value
		if row.Pairs == 0 || pr < row.PairMin {
			row.PairMin = pr
		}
		if row.Pairs == 0 || pr > row.PairMax {
			row.PairMax = pr
		}
		row.Pairs++
		if disturbed[round] {
			row.Noisy++
		}
	}
	return row
}

func comparable(a, b Stat) bool {
	return a.N > 0 && b.N > 0 && !a.NA && !b.NA && a.Median != 0
}

func stat(byRound map[int]Metric) Stat {
	var vals []float64
	var s Stat
	for _, m := range byRound {
		if m.NA {
			continue
		}
		vals = append(vals, m.Value)
		if m.Value >= 0.5 {
			s.Yes++
		}
	}
	s.N = len(vals)
	s.NA = len(byRound) > 0 && s.N == 0
	s.Median = Median(vals)
	return s
}

// Median returns the median of vals (the mean of the middle two for an even count), or NaN.
func Median(vals []float64) float64 {
	if len(vals) == 0 {
		return math.NaN()
	}
	v := slices.Clone(vals)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Advantage turns a ratio into "how many times better ours is": the ratio itself when higher
// is better, its inverse when lower is better. Above 1 favours ours.
func Advantage(ratio float64, b Better) float64 {
	if b == LowerBetter {
		return 1 / ratio
	}
	return ratio
}
