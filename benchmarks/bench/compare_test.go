package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCompareFake runs compare mode end to end with the fake daemon as both sides: A B order,
// the ceiling run first, progress lines, and a summary with every ratio near 1.
func TestCompareFake(t *testing.T) {
	spec := fakeSpec(t, "tcp")
	cfg := TinyConfig()
	cases, err := SelectCases(Cases(cfg), "pub/conns=1,http-pub/pub")
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	rep := Compare(context.Background(), CompareOptions{Upstream: spec.Bin, Ours: spec.Bin, Rounds: 2,
		Ceiling: true, Cfg: cfg, Cases: cases, WorkDir: spec.WorkDir, Noise: 100, Progress: &progress})
	var order []string
	for _, r := range rep.Runs {
		if r.Err != nil {
			t.Fatalf("%s %s r%d: %v", r.Case, r.Target, r.Round, r.Err)
		}
		order = append(order, r.Case+" "+r.Target)
	}
	want := []string{
		"pub/conns=1 ceiling", "pub/conns=1 upstream", "pub/conns=1 ours",
		"pub/conns=1 ceiling", "pub/conns=1 upstream", "pub/conns=1 ours",
		"http-pub/pub ceiling", "http-pub/pub upstream", "http-pub/pub ours",
		"http-pub/pub ceiling", "http-pub/pub upstream", "http-pub/pub ours",
	}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("run order:\ngot  %v\nwant %v", order, want)
	}
	if n := strings.Count(progress.String(), "\n"); n != len(want) {
		t.Errorf("got %d progress lines, want %d:\n%s", n, len(want), progress.String())
	}
	for _, row := range Summarize(rep) {
		if row.Case == "http-pub/pub" && row.Metric == "msg/s" && !(row.Upstream.NA && row.Ours.NA) {
			t.Errorf("http-pub %s: got %+v / %+v, want n/a", row.Metric, row.Upstream, row.Ours)
		}
		// the ceiling's null HTTP answerer is measured even where the daemons have no listener
		if row.Case == "http-pub/pub" && row.Metric == "msg/s" && (row.Ceiling.NA || row.Ceiling.Median <= 0) {
			t.Errorf("http-pub ceiling: got %+v, want a rate", row.Ceiling)
		}
	}
}

func TestSelectCases(t *testing.T) {
	cs := Cases(DefaultConfig())
	got, err := SelectCases(cs, "ceiling")
	if err != nil || len(got) != 5 {
		t.Errorf("ceiling: got %d cases, %v; want 5 (pub x2, pub-latency, http-pub x2)", len(got), err)
	}
	got, err = SelectCases(cs, "e2e,disk/sub")
	if err != nil || len(got) != 4 {
		t.Errorf("e2e,disk/sub: got %d cases, %v; want 4", len(got), err)
	}
	if _, err := SelectCases(cs, "nope"); err == nil {
		t.Error("unknown scenario: got nil error")
	}
}
