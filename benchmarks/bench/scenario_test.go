package bench

import (
	"context"
	"errors"
	"strings"
	"testing"

	"nsqreactor/benchmarks/wire"
)

// TestScenariosNull runs every scenario, tiny, against the null server: the ceiling cases must
// produce numbers, http-pub must say n/a (no HTTP listener), and everything that subscribes must
// fail on the null server's E_INVALID instead of reporting a number.
func TestScenariosNull(t *testing.T) {
	cfg := TinyConfig()
	for _, c := range Cases(cfg) {
		t.Run(c.Name, func(t *testing.T) {
			res := RunCase(context.Background(), TargetSpec{Name: TargetCeiling}, c, cfg, t.Logf)
			switch {
			case c.Ceiling || c.Name == "disk/pub":
				if res.Err != nil {
					t.Fatalf("got error %v, want numbers", res.Err)
				}
				checkPositive(t, res, "msg/s")
			case c.Group == "http-pub":
				if res.Err != nil {
					t.Fatalf("got error %v, want n/a", res.Err)
				}
				if m, ok := res.Metric("msg/s"); !ok || !m.NA {
					t.Fatalf("got msg/s %+v, want n/a", m)
				}
			case c.Group == "layers":
				if !errors.Is(res.Err, wire.ErrNotNegotiated) {
					t.Fatalf("got error %v, want wire.ErrNotNegotiated (the null server answers IDENTIFY with OK)", res.Err)
				}
			default:
				var fe *wire.FrameError
				if !errors.As(res.Err, &fe) || !strings.Contains(fe.Msg, "E_INVALID") {
					t.Fatalf("got error %v, want the null server's E_INVALID", res.Err)
				}
			}
		})
	}
}

// TestScenariosUpstream runs every scenario, tiny, against upstream nsqd v1.3.0 when it is built.
func TestScenariosUpstream(t *testing.T) {
	bin := upstreamBin(t)
	cfg := TinyConfig()
	spec := TargetSpec{Name: TargetUpstream, Bin: bin, WorkDir: t.TempDir()}
	for _, c := range Cases(cfg) {
		t.Run(c.Name, func(t *testing.T) {
			res := RunCase(context.Background(), spec, c, cfg, t.Logf)
			if res.Err != nil {
				t.Fatalf("%s: %v", c.Name, res.Err)
			}
			for _, m := range res.Metrics {
				if m.NA {
					t.Errorf("%s: got n/a, want a number (upstream has every listener)", m.Name)
				}
			}
			checkPositive(t, res, "peak RSS")
			if c.Group == "connections" {
				checkPositive(t, res, "deliver all")
			}
			t.Logf("%s: %d metrics in %v", c.Name, len(res.Metrics), res.Elapsed)
		})
	}
}

func checkPositive(t *testing.T, res CaseResult, name string) {
	t.Helper()
	m, ok := res.Metric(name)
	if !ok || m.NA || !(m.Value > 0) {
		t.Fatalf("got %s = %+v (present %v), want a positive number", name, m, ok)
	}
}
