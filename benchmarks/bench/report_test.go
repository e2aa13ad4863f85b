package bench

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
	}
	for _, tt := range tests {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v): got %v, want %v", tt.in, got, tt.want)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil): want NaN")
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		unit string
		v    float64
		want string
	}{
		{UnitMsgPerSec, 1_354_000, "1.35M"},
		{UnitMsgPerSec, 20_000, "20k"},
		{UnitMBPerSec, 2560.4, "2560"},
		{UnitMBPerSec, 42.84, "42.8"},
		{UnitMicros, 85.3, "85.3µs"},
		{UnitMicros, 2_410, "2.41ms"},
		{UnitMillis, 250, "250ms"},
		{UnitSeconds, 0.312, "312ms"},
		{UnitYesNo, 1, "yes"},
		{UnitCount, 8, "8"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.unit, tt.v); got != tt.want {
			t.Errorf("FormatValue(%s, %v): got %q, want %q", tt.unit, tt.v, got, tt.want)
		}
	}
}

func TestFormatRatio(t *testing.T) {
	tests := []struct {
		r    float64
		want string
	}{{1.234, "1.23×"}, {11.55, "11.6×"}, {0.0044, "0.0044×"}, {math.NaN(), "-"}, {math.Inf(1), "-"}}
	for _, tt := range tests {
		if got := FormatRatio(tt.r); got != tt.want {
			t.Errorf("FormatRatio(%v): got %q, want %q", tt.r, got, tt.want)
		}
	}
}

// syntheticReport has two rounds of pub (ours 2× faster, one disturbed round), one of a failed
// case, and latency percentiles for the chart.
func syntheticReport() *Report {
	pub := Case{Name: "pub/conns=1", Group: "pub", Ceiling: true}
	lat := Case{Name: "pub-latency", Group: "pub-latency"}
	bad := Case{Name: "sub", Group: "sub"}
	rep := &Report{
		Opts:    CompareOptions{Upstream: "/up/nsqd", Ours: "/ours/nsqd", Rounds: 2, Cfg: TinyConfig(), Cases: []Case{pub, lat, bad}, Noise: 0.3},
		Machine: MachineInfo{CPU: "Test CPU", Cores: 2, Commit: "abc123", Date: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)},
		Start:   time.Now().Add(-time.Minute), End: time.Now(), Command: "nsqbench compare -quick",
	}
	mk := func(name, target string, round int, other float64, ms ...Metric) CaseResult {
		return CaseResult{Case: name, Target: target, Round: round, Metrics: ms, OtherCores: other}
	}
	tput := func(v float64) Metric {
		return Metric{Name: "msg/s", Unit: UnitMsgPerSec, Better: HigherBetter, Value: v}
	}
	cpu := func(v float64) Metric {
		return Metric{Name: "daemon cpu", Unit: UnitCPUPerM, Better: LowerBetter, Value: v}
	}
	p := func(name string, v float64) Metric {
		return Metric{Name: name, Unit: UnitMicros, Better: LowerBetter, Value: v}
	}
	rep.Runs = []CaseResult{
		mk(pub.Name, TargetCeiling, 1, 0, tput(10e6), Metric{Name: "daemon cpu", Unit: UnitCPUPerM, NA: true}),
		mk(pub.Name, TargetUpstream, 1, 0, tput(100), cpu(4)),
		mk(pub.Name, TargetOurs, 1, 0, tput(200), cpu(2)),
		mk(pub.Name, TargetUpstream, 2, 0.9, tput(110), cpu(4)),
		mk(pub.Name, TargetOurs, 2, 0, tput(198), cpu(2)),
		mk(lat.Name, TargetUpstream, 1, 0, p("p50", 40), p("p90", 100), p("p99", 200), p("p99.9", 900), p("max", 3000)),
		mk(lat.Name, TargetOurs, 1, 0, p("p50", 20), p("p90", 50), p("p99", 80), p("p99.9", 300), p("max", 2000)),
		{Case: bad.Name, Target: TargetOurs, Round: 1, Err: errors.New("wire: SUB: E_INVALID\nlog tail")},
	}
	return rep
}

func TestSummarize(t *testing.T) {
	rows := Summarize(syntheticReport())
	var tput, cpu, failed *Row
	for i := range rows {
		switch r := &rows[i]; {
		case r.Case == "pub/conns=1" && r.Metric == "msg/s":
			tput = r
		case r.Case == "pub/conns=1" && r.Metric == "daemon cpu":
			cpu = r
		case r.Case == "sub" && r.Failed != "":
			failed = r
		}
	}
	if tput == nil || cpu == nil || failed == nil {
		t.Fatalf("missing rows in %+v", rows)
	}
	if got, want := tput.Ratio, 199.0/105; math.Abs(got-want) > 1e-9 {
		t.Errorf("msg/s ratio: got %v, want %v", got, want)
	}
	if tput.Pairs != 2 || tput.Noisy != 1 || math.Abs(tput.PairMin-1.8) > 1e-9 || tput.PairMax != 2 {
		t.Errorf("msg/s pairs: got %d pairs, %d noisy, %v..%v; want 2, 1, 1.8..2", tput.Pairs, tput.Noisy, tput.PairMin, tput.PairMax)
	}
	if tput.Ceiling.N != 1 || tput.Ceiling.Median != 10e6 {
		t.Errorf("ceiling: got %+v", tput.Ceiling)
	}
	if !cpu.Ceiling.NA || Advantage(cpu.Ratio, cpu.Better) != 2 {
		t.Errorf("cpu: got ceiling %+v, advantage %v; want n/a and 2", cpu.Ceiling, Advantage(cpu.Ratio, cpu.Better))
	}
	if !strings.Contains(failed.Failed, "ours r1: wire: SUB: E_INVALID") || strings.Contains(failed.Failed, "log tail") {
		t.Errorf("failure row: got %q", failed.Failed)
	}
}

func TestReportSave(t *testing.T) {
	rep := syntheticReport()
	rows := Summarize(rep)
	var table bytes.Buffer
	if err := WriteTable(&table, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ours/upstream", "1.90×", "1.80×..2.00×", "1/2", "FAILED"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	dir := t.TempDir()
	md, png, err := rep.Save(dir, rows)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(md) != "2026-11-24-abc123.md" {
		t.Errorf("got results file %s", md)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Test CPU, 2 cores", "abc123", "nsqbench compare -quick", "## Raw runs",
		"### pub/conns=1", "0.90* |", "![ratios and latency percentiles](2026-11-24-abc123.png)"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("results file lacks %q", want)
		}
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("chart: got %v, %v; want a PNG", st, err)
	}
	md2, _, err := rep.Save(dir, rows)
	if err != nil || filepath.Base(md2) != "2026-11-24-abc123-2.md" {
		t.Errorf("second save: got %s, %v; want a -2 suffix", md2, err)
	}
}

// A round that measured 0 (a daemon CPU figure below the clock tick) makes
// a pair ratio 0 or infinite; the chart must still be drawn (it panicked
// at the end of a 5-minute run and lost the results file with it).
func TestChartWithZeroPairs(t *testing.T) {
	rows := Summarize(syntheticReport())
	rows = append(rows,
		Row{Case: "connections/n=1000", Metric: "deliver cpu", Unit: UnitMillis, Better: LowerBetter,
			Ratio: 0.5, PairMin: 0, PairMax: 0.5, Pairs: 3},
		Row{Case: "connections/n=1000", Metric: "deliver first", Unit: UnitMillis, Better: LowerBetter,
			Ratio: 0, PairMin: 0, PairMax: math.Inf(1), Pairs: 3})
	png := filepath.Join(t.TempDir(), "chart.png")
	if err := WriteChart(png, syntheticReport(), rows); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("chart: got %v, %v; want a PNG", st, err)
	}
}
