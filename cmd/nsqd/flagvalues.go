package main

import (
	"crypto/tls"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"nsqreactor/core"
)

// The flag.Value types below mirror upstream's (apps/nsqd/options.go,
// internal/app, internal/lg) method by method, because their String results
// appear in -h output and their Set errors in flag error messages. Get
// returns the type of the core.Options field the flag resolves into.

// stringArray is a repeatable string flag (upstream app.StringArray): every
// occurrence appends; commas are not split.
type stringArray []string

func (a *stringArray) Get() any { return []string(*a) }

func (a *stringArray) Set(s string) error {
	*a = append(*a, s)
	return nil
}

func (a *stringArray) String() string { return strings.Join(*a, ",") }

// floatArray is the repeatable, comma-separated float flag (upstream
// app.FloatArray); the list is kept sorted descending. Upstream calls
// log.Fatalf from Set on a bad number; here Set records the text in
// unparsable and fails, and parseOptions prints upstream's line instead of
// flag's error.
type floatArray struct {
	values     []float64
	unparsable *string // first element that did not parse, nil if none
}

func (a *floatArray) Get() any { return a.values }

func (a *floatArray) Set(param string) error {
	for _, s := range strings.Split(param, ",") {
		v, err := strconv.ParseFloat(s, 64) // no TrimSpace: "1.0, 0.5" fails, as upstream
		if err != nil {
			a.unparsable = &s
			return fmt.Errorf("could not parse %q", s)
		}
		a.values = append(a.values, v)
	}
	sort.Sort(descending(a.values))
	return nil
}

// descending is upstream's FloatArray ordering (plain >, so NaN placement
// is upstream's too).
type descending []float64

func (d descending) Len() int           { return len(d) }
func (d descending) Less(i, j int) bool { return d[i] > d[j] }
func (d descending) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }

func (a *floatArray) String() string {
	s := make([]string, len(a.values))
	for i, v := range a.values {
		s[i] = fmt.Sprintf("%f", v)
	}
	return strings.Join(s, ",")
}

// logLevelOption is upstream's lg.LogLevel as a flag.
type logLevelOption int

func (l *logLevelOption) Get() any { return int(*l) }

func (l *logLevelOption) Set(s string) error {
	lvl, err := parseLogLevel(s)
	if err != nil {
		return err
	}
	*l = logLevelOption(lvl)
	return nil
}

func (l *logLevelOption) String() string {
	switch int(*l) {
	case core.LogLevelDebug:
		return "DEBUG"
	case core.LogLevelInfo:
		return "INFO"
	case core.LogLevelWarn:
		return "WARNING"
	case core.LogLevelError:
		return "ERROR"
	case core.LogLevelFatal:
		return "FATAL"
	}
	return "invalid"
}

// parseLogLevel is upstream's lg.ParseLogLevel (case-insensitive names).
func parseLogLevel(s string) (int, error) {
	switch strings.ToLower(s) {
	case "debug":
		return core.LogLevelDebug, nil
	case "info":
		return core.LogLevelInfo, nil
	case "warn":
		return core.LogLevelWarn, nil
	case "error":
		return core.LogLevelError, nil
	case "fatal":
		return core.LogLevelFatal, nil
	}
	return 0, fmt.Errorf("invalid log level '%s' (debug, info, warn, error, fatal)", s)
}

// tlsRequiredOption is a bool-like flag that also accepts "tcp-https"; a
// bare --tls-required means true.
type tlsRequiredOption int

func (t *tlsRequiredOption) Set(s string) error {
	s = strings.ToLower(s)
	if s == "tcp-https" {
		*t = core.TLSRequiredExceptHTTP
		return nil
	}
	// Matches upstream: on a parse error the value is still set (to not
	// required) and the error returned.
	required, err := strconv.ParseBool(s)
	if required {
		*t = core.TLSRequired
	} else {
		*t = core.TLSNotRequired
	}
	return err
}

func (t *tlsRequiredOption) Get() any { return int(*t) }

func (t *tlsRequiredOption) String() string { return strconv.FormatInt(int64(*t), 10) }

// IsBoolFlag lets "--tls-required" stand alone (flag calls Set("true")).
func (t *tlsRequiredOption) IsBoolFlag() bool { return true }

// tlsMinVersionOption accepts tls1.0 … tls1.3 (case-insensitive) or "" (no
// change). ssl3.0 is rejected although the usage text lists it (upstream
// 1.3.0 behaviour, verified with the binary).
type tlsMinVersionOption uint16

var tlsVersionTable = []struct {
	val uint16
	str string
}{
	{tls.VersionTLS10, "tls1.0"},
	{tls.VersionTLS11, "tls1.1"},
	{tls.VersionTLS12, "tls1.2"},
	{tls.VersionTLS13, "tls1.3"},
}

func (t *tlsMinVersionOption) Set(s string) error {
	s = strings.ToLower(s)
	if s == "" {
		return nil
	}
	for _, v := range tlsVersionTable {
		if s == v.str {
			*t = tlsMinVersionOption(v.val)
			return nil
		}
	}
	return fmt.Errorf("unknown tlsVersionOption %q", s)
}

func (t *tlsMinVersionOption) Get() any { return uint16(*t) }

func (t *tlsMinVersionOption) String() string {
	for _, v := range tlsVersionTable {
		if uint16(*t) == v.val {
			return v.str
		}
	}
	return strconv.FormatInt(int64(*t), 10)
}
