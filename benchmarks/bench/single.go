package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// RunSingle runs each case once against one target and prints its metrics: the command for
// profiling one daemon or trying a scenario. It returns an error if any case failed.
func RunSingle(ctx context.Context, spec TargetSpec, cases []Case, cfg Config, out io.Writer,
	logf func(string, ...any)) error {
	var failed []string
	for _, c := range cases {
		res := RunCase(ctx, spec, c, cfg, logf)
		if res.Err != nil {
			fmt.Fprintf(out, "%-22s FAILED after %v: %v\n", c.Name, res.Elapsed.Round(1e6), res.Err)
			failed = append(failed, c.Name)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		var parts []string
		for _, m := range res.Metrics {
			v := "n/a"
			if !m.NA {
				v = FormatValue(m.Unit, m.Value)
			}
			parts = append(parts, MetricLabel(m.Name, m.Unit)+"="+v)
		}
		flag := ""
		if res.OtherCores > 0 {
			flag = fmt.Sprintf("  [other load %.2f cores]", res.OtherCores)
		}
		fmt.Fprintf(out, "%-22s %s  (%v)%s\n", c.Name, strings.Join(parts, "  "), res.Elapsed.Round(1e6), flag)
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench: %d case(s) failed: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}
