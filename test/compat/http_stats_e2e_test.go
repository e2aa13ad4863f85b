package compat

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Spec §5.6 and §9 (e2e latency): with percentiles configured, the text
// /stats lists one value per percentile on the topic and channel lines,
// formatted like upstream's quantile result (one decimal and a unit
// chosen by magnitude: ns, us, ms, s); a channel with no sample yet shows
// 0.0ns for each. The values themselves are timing, so only the shape is
// compared.
func TestHTTPStatsTextE2E(t *testing.T) {
	value := `[0-9]+\.[0-9](ns|us|ms|s)`
	sampled := regexp.MustCompile(`^` + value + `, ` + value + `$`)
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--e2e-processing-latency-percentile=1.0,0.5")
		topic := "e2e" // short: the text format pads names inside the brackets
		sub := subscriber(t, d, "", topic, "done")
		idle := subscriber(t, d, "", topic, "idle")
		publish(t, d, topic, bodies("m", 3)...)
		sub.Rdy(t, 3)
		for _, m := range sub.ExpectMessages(t, 3) {
			sub.Fin(t, m.ID)
		}
		idle.Close()

		lines := map[string]string{} // "[topic" / "[done" / "[idle" → the e2e list
		deadline := time.Now().Add(5 * time.Second)
		for {
			body := get(t, d.HTTPAddr, "/stats?include_clients=false&include_mem=false&topic="+topic).Body
			for _, line := range strings.Split(body, "\n") {
				name, rest, ok := strings.Cut(strings.TrimLeft(line, " *P"), " ")
				if _, list, found := strings.Cut(rest, "e2e%: "); ok && found {
					lines[strings.TrimSpace(name)] = list
				}
			}
			if sampled.MatchString(lines["[done"]) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond) // FIN samples reach the stats asynchronously on both
		}
		if got := lines["[done"]; !sampled.MatchString(got) {
			t.Errorf("channel with 3 FINs: e2e%% %q, want two values like 1.2ms", got)
		}
		if got := lines["[idle"]; got != "0.0ns, 0.0ns" {
			t.Errorf("channel without samples: e2e%% %q, want %q", got, "0.0ns, 0.0ns")
		}
		if got := lines["["+topic]; !sampled.MatchString(got) {
			t.Errorf("topic: e2e%% %q, want two values like 1.2ms", got)
		}
	})
}
