package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// shortCount prints a count the way people say it: 950, 20k, 1.25M.
func shortCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e3:
		return trim(v/1e3) + "k"
	default:
		return trim(v)
	}
}

// trim prints v with about three significant digits, never in exponent form: 2560, 42.8, 4.77.
func trim(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
	case a == 0:
		return "0"
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// formatMicros prints a latency given in µs with a unit that fits it.
func formatMicros(us float64) string {
	switch {
	case us >= 1e6:
		return trim(us/1e6) + "s"
	case us >= 1e3:
		return trim(us/1e3) + "ms"
	default:
		return trim(us) + "µs"
	}
}

// FormatValue prints a metric value in its unit, compactly.
func FormatValue(unit string, v float64) string {
	switch unit {
	case UnitMsgPerSec:
		return shortCount(v)
	case UnitMicros:
		return formatMicros(v)
	case UnitMillis:
		return formatMicros(v * 1e3)
	case UnitSeconds:
		return formatMicros(v * 1e6)
	case UnitMBPerSec, UnitCPUPerM, UnitKiB, UnitMiB:
		return trim(v)
	case UnitCount:
		if v == math.Trunc(v) {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return trim(v) // a median of an even number of rounds
	case UnitYesNo:
		if v >= 0.5 {
			return "yes"
		}
		return "no"
	default:
		return trim(v)
	}
}

// FormatRatio prints a ratio as "1.23×", "11.5×" or "0.0044×" (two significant digits at least).
func FormatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	switch a := math.Abs(r); {
	case a >= 10:
		return fmt.Sprintf("%.1f×", r)
	case a >= 0.1:
		return fmt.Sprintf("%.2f×", r)
	default:
		return strconv.FormatFloat(r, 'g', 2, 64) + "×"
	}
}

// MetricLabel is the metric name with its unit where the name does not already say it:
// "msg/s", "p99 (µs)", "peak RSS (MiB)".
func MetricLabel(name, unit string) string {
	switch unit {
	case UnitMsgPerSec, UnitMBPerSec, UnitYesNo, UnitCount:
		return name
	}
	return name + " (" + unit + ")"
}
