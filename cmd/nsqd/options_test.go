package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"nsqreactor/core"
)

// parseResult is everything parseOptions produced.
type parseResult struct {
	opts           *core.Options
	code           int
	done           bool
	stdout, stderr string
}

func parse(t *testing.T, args ...string) parseResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	opts, code, done := parseOptions(args, &stdout, &stderr)
	return parseResult{opts, code, done, stdout.String(), stderr.String()}
}

// writeConfig writes a TOML file and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nsqd.cfg")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustParse(t *testing.T, args ...string) *core.Options {
	t.Helper()
	r := parse(t, args...)
	if r.done || r.code != 0 || r.opts == nil {
		t.Fatalf("parse(%q): done=%v code=%d stderr=%q, want options", args, r.done, r.code, r.stderr)
	}
	return r.opts
}

func TestParseOptionsDefaults(t *testing.T) {
	got := mustParse(t)
	want := core.NewOptions()
	// Upstream's list flags start as empty, non-nil lists: GET /config
	// shows [] for them, not null (verified).
	want.NSQLookupdTCPAddresses = []string{}
	want.AuthHTTPAddresses = []string{}
	want.E2EProcessingLatencyPercentiles = []float64{}
	want.Experiments = []string{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("no args:\ngot  %+v\nwant %+v", got, want)
	}
}

// TestParseOptionsFlags checks flag syntax and every custom flag.Value.
func TestParseOptionsFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(o *core.Options) bool
	}{
		{"double dash", []string{"--max-rdy-count=7"}, func(o *core.Options) bool { return o.MaxRdyCount == 7 }},
		{"single dash space", []string{"-max-rdy-count", "7"}, func(o *core.Options) bool { return o.MaxRdyCount == 7 }},
		{"duration", []string{"--msg-timeout=90s"}, func(o *core.Options) bool { return o.MsgTimeout == 90*time.Second }},
		{"bool needs =false", []string{"--snappy=false"}, func(o *core.Options) bool { return !o.SnappyEnabled }},
		{"bool space value stops parsing", []string{"--snappy", "false", "--max-rdy-count=7"},
			func(o *core.Options) bool { return o.SnappyEnabled && o.MaxRdyCount == 2500 }},
		{"stop at first non-flag", []string{"x", "--max-rdy-count=7"}, func(o *core.Options) bool { return o.MaxRdyCount == 2500 }},
		{"lookupd repeatable, no comma split", []string{"--lookupd-tcp-address=a:1,b:2", "--lookupd-tcp-address", "c:3"},
			func(o *core.Options) bool {
				return reflect.DeepEqual(o.NSQLookupdTCPAddresses, []string{"a:1,b:2", "c:3"})
			}},
		{"auth repeatable", []string{"--auth-http-address=a:1", "--auth-http-address=https://b/auth"},
			func(o *core.Options) bool {
				return reflect.DeepEqual(o.AuthHTTPAddresses, []string{"a:1", "https://b/auth"})
			}},
		{"experiments repeatable, unknown accepted", []string{"--enable-experiment=topology-aware-consumption", "--enable-experiment=nope"},
			func(o *core.Options) bool {
				return o.HasExperiment("topology-aware-consumption") && o.HasExperiment("nope")
			}},
		{"e2e sorted descending", []string{"--e2e-processing-latency-percentile=1.0,0.99", "--e2e-processing-latency-percentile=0.5"},
			func(o *core.Options) bool {
				return reflect.DeepEqual(o.E2EProcessingLatencyPercentiles, []float64{1, 0.99, 0.5})
			}},
		{"e2e resorted", []string{"--e2e-processing-latency-percentile=0.5", "--e2e-processing-latency-percentile=0.9,1"},
			func(o *core.Options) bool {
				return reflect.DeepEqual(o.E2EProcessingLatencyPercentiles, []float64{1, 0.9, 0.5})
			}},
		{"tls-required bare", []string{"--tls-required"}, func(o *core.Options) bool { return o.TLSRequired == core.TLSRequired }},
		{"tls-required tcp-https", []string{"--tls-required=TCP-HTTPS"}, func(o *core.Options) bool { return o.TLSRequired == core.TLSRequiredExceptHTTP }},
		{"tls-required 1", []string{"--tls-required=1"}, func(o *core.Options) bool { return o.TLSRequired == core.TLSRequired }},
		{"tls-required false", []string{"--tls-required=false"}, func(o *core.Options) bool { return o.TLSRequired == core.TLSNotRequired }},
		{"tls-min-version case-insensitive", []string{"--tls-min-version=TLS1.2"}, func(o *core.Options) bool { return o.TLSMinVersion == 0x0303 }},
		{"tls-min-version 1.3", []string{"--tls-min-version=tls1.3"}, func(o *core.Options) bool { return o.TLSMinVersion == 0x0304 }},
		{"tls-min-version empty keeps default", []string{"--tls-min-version="}, func(o *core.Options) bool { return o.TLSMinVersion == 0x0301 }},
		{"log-level", []string{"--log-level=WARN"}, func(o *core.Options) bool { return o.LogLevel == core.LogLevelWarn }},
		{"node-id", []string{"--node-id=5"}, func(o *core.Options) bool { return o.ID == 5 }},
		{"HEAD flags", []string{"--auth-http-request-method=post", "--topology-region=r", "--topology-zone=z"},
			func(o *core.Options) bool {
				return o.AuthHTTPRequestMethod == "post" && o.TopologyRegion == "r" && o.TopologyZone == "z"
			}},
		{"deprecated flags accepted", []string{"--verbose", "--worker-id"}, func(o *core.Options) bool { return true }},
		{"empty http-address", []string{"--http-address="}, func(o *core.Options) bool { return o.HTTPAddress == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if o := mustParse(t, tt.args...); !tt.check(o) {
				t.Errorf("parse(%q) = %+v: check failed", tt.args, o)
			}
		})
	}
}

// TestParseOptionsExits checks the cases that end the process, with
// upstream's exit status and output.
func TestParseOptionsExits(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout       string // regexp, whole output
		stderrPrefix string // regexp, start of stderr
	}{
		{"version", []string{"--version"}, 0, `^nsqd v1\.3\.0 \(built w/go[^)]+\)\n$`, `^$`},
		{"version after other flags", []string{"--max-rdy-count=1", "-version"}, 0, `^nsqd v1\.3\.0 `, `^$`},
		{"version skips config", []string{"--version", "--config=/nonexistent"}, 0, `^nsqd v1\.3\.0 `, `^$`},
		{"help", []string{"-h"}, 0, `^$`, `^Usage of nsqd:\n  -auth-http-address value\n`},
		{"unknown flag", []string{"--bogus"}, 2, `^$`, `^flag provided but not defined: -bogus\nUsage of nsqd:\n`},
		{"unknown flag beats version", []string{"--version", "--bogus"}, 2, `^$`, `^flag provided but not defined: -bogus\n`},
		{"bad int", []string{"--max-rdy-count=x"}, 2, `^$`, `^invalid value "x" for flag -max-rdy-count: parse error\n`},
		{"ssl3.0 rejected", []string{"--tls-min-version=ssl3.0"}, 2, `^$`,
			`^invalid value "ssl3.0" for flag -tls-min-version: unknown tlsVersionOption "ssl3.0"\nUsage of nsqd:\n`},
		{"bad tls-required", []string{"--tls-required=bogus"}, 2, `^$`,
			`^invalid boolean value "bogus" for -tls-required: strconv.ParseBool: parsing "bogus": invalid syntax\n`},
		{"bad log-level", []string{"--log-level=loud"}, 2, `^$`,
			`^invalid value "loud" for flag -log-level: invalid log level 'loud' \(debug, info, warn, error, fatal\)\n`},
		{"e2e unparsable", []string{"--e2e-processing-latency-percentile=1.0,x", "--bogus"}, 1, `^$`,
			`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d Could not parse: x\n$`},
		{"e2e no trim", []string{"--e2e-processing-latency-percentile=1.0, 0.5"}, 1, `^$`, `^\S+ \S+ Could not parse:  0\.5\n$`},
		{"missing config", []string{"--config=/nonexistent/nsqd.cfg"}, 1, `^$`,
			`^\[nsqd\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} FATAL: failed to load config file /nonexistent/nsqd.cfg - open /nonexistent/nsqd.cfg: no such file or directory\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, tt.args...)
			if !r.done || r.code != tt.code || r.opts != nil {
				t.Fatalf("parse(%q): done=%v code=%d opts=%v, want done code %d", tt.args, r.done, r.code, r.opts != nil, tt.code)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(r.stdout) {
				t.Errorf("stdout = %q, want match %q", r.stdout, tt.stdout)
			}
			if !regexp.MustCompile(tt.stderrPrefix).MatchString(r.stderr) {
				t.Errorf("stderr = %q, want match %q", r.stderr, tt.stderrPrefix)
			}
		})
	}
}

// TestParseOptionsHelpLists checks -h lists every flag once, with the
// upstream default rendering of the custom values.
func TestParseOptionsHelpLists(t *testing.T) {
	r := parse(t, "-h")
	for _, want := range []string{
		"  -tls-required\n    \trequire TLS for client connections (true, false, tcp-https)\n",
		"  -tls-min-version value\n    \tminimum SSL/TLS version acceptable ('ssl3.0', 'tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3') (default tls1.0)\n",
		"  -log-level value\n    \tset log verbosity: debug, info, warn, error, or fatal (default INFO)\n",
		"  -e2e-processing-latency-percentile value\n",
		"  -auth-http-request-method string\n    \tHTTP method to use for auth server requests (default \"get\")\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-h output lacks %q", want)
		}
	}
}

// TestParseOptionsPrecedence: explicit flag > config file > default.
func TestParseOptionsPrecedence(t *testing.T) {
	path := writeConfig(t, `
max_rdy_count = 100
mem_queue_size = 50
nsqlookupd_tcp_addresses = ["file:1", "file:2"]
`)
	o := mustParse(t, "--config="+path, "--max-rdy-count=200", "--lookupd-tcp-address=flag:1")
	if o.MaxRdyCount != 200 {
		t.Errorf("MaxRdyCount = %d, want 200 (flag)", o.MaxRdyCount)
	}
	if o.MemQueueSize != 50 {
		t.Errorf("MemQueueSize = %d, want 50 (file)", o.MemQueueSize)
	}
	if o.MaxBodySize != 5*1024*1024 {
		t.Errorf("MaxBodySize = %d, want default", o.MaxBodySize)
	}
	if want := []string{"flag:1"}; !reflect.DeepEqual(o.NSQLookupdTCPAddresses, want) {
		t.Errorf("NSQLookupdTCPAddresses = %q, want %q (flag replaces file list)", o.NSQLookupdTCPAddresses, want)
	}
	// A flag given with its default value still wins over the file.
	o = mustParse(t, "--config="+path, "--max-rdy-count=2500")
	if o.MaxRdyCount != 2500 {
		t.Errorf("MaxRdyCount = %d, want 2500 (explicit default flag)", o.MaxRdyCount)
	}
}

// TestParseOptionsConfigCoercion checks §6.2's value coercions, each
// verified against the upstream binary through /config (see cli_test.go).
func TestParseOptionsConfigCoercion(t *testing.T) {
	tests := []struct {
		toml  string
		check func(o *core.Options) bool
	}{
		{`msg_timeout = 45000`, func(o *core.Options) bool { return o.MsgTimeout == 45*time.Second }},
		{`msg_timeout = "20m"`, func(o *core.Options) bool { return o.MsgTimeout == 20*time.Minute }},
		{`snappy = 0`, func(o *core.Options) bool { return o.SnappyEnabled }},
		{`deflate = 1`, func(o *core.Options) bool { return !o.DeflateEnabled }},
		{`statsd_mem_stats = "0"`, func(o *core.Options) bool { return !o.StatsdMemStats }},
		{`statsd_exclude_ephemeral = true`, func(o *core.Options) bool { return o.StatsdExcludeEphemeral }},
		{`max_body_size = "12345"`, func(o *core.Options) bool { return o.MaxBodySize == 12345 }},
		{`max_deflate_level = 3`, func(o *core.Options) bool { return o.MaxDeflateLevel == 3 }},
		{`id = 5`, func(o *core.Options) bool { return o.ID == 5 }},
		{`node_id = 5`, func(o *core.Options) bool { return o.ID != 5 }}, // the key is "id"
		{`queue_scan_interval = "5s"`, func(o *core.Options) bool { return o.QueueScanInterval == 100*time.Millisecond }},
		{`broadcast_address = 5`, func(o *core.Options) bool { return o.BroadcastAddress == "%!s(int64=5)" }},
		{`nsqlookupd_tcp_addresses = "a:1,b:2"`, func(o *core.Options) bool {
			return reflect.DeepEqual(o.NSQLookupdTCPAddresses, []string{"a:1", "b:2"})
		}},
		{`auth_http_addresses = ["a:1", "b:2"]`, func(o *core.Options) bool {
			return reflect.DeepEqual(o.AuthHTTPAddresses, []string{"a:1", "b:2"})
		}},
		{`auth_http_addresses = ""`, func(o *core.Options) bool { return reflect.DeepEqual(o.AuthHTTPAddresses, []string{""}) }},
		{`nsqlookupd_tcp_addresses = 5`, func(o *core.Options) bool { return o.NSQLookupdTCPAddresses == nil }},
		{`enable_experiment = ["topology-aware-consumption"]`, func(o *core.Options) bool {
			return o.HasExperiment("topology-aware-consumption")
		}},
		{`e2e_processing_latency_percentiles = [0.5, 1.0]`, func(o *core.Options) bool { // not sorted
			return reflect.DeepEqual(o.E2EProcessingLatencyPercentiles, []float64{0.5, 1})
		}},
		{`e2e_processing_latency_percentiles = "1.0, 0.5,0.99"`, func(o *core.Options) bool {
			return reflect.DeepEqual(o.E2EProcessingLatencyPercentiles, []float64{1, 0.5, 0.99})
		}},
		{`tls_required = true`, func(o *core.Options) bool { return o.TLSRequired == core.TLSRequired }},
		{`tls_required = 1`, func(o *core.Options) bool { return o.TLSRequired == core.TLSRequired }},
		{`tls_required = "tcp-https"`, func(o *core.Options) bool { return o.TLSRequired == core.TLSRequiredExceptHTTP }},
		{`tls_min_version = "TLS1.2"`, func(o *core.Options) bool { return o.TLSMinVersion == 0x0303 }},
		{`tls_min_version = ""`, func(o *core.Options) bool { return o.TLSMinVersion == 0x0301 }},
		{`log_level = "debug"`, func(o *core.Options) bool { return o.LogLevel == core.LogLevelDebug }},
		{`auth_http_request_method = "post"`, func(o *core.Options) bool { return o.AuthHTTPRequestMethod == "post" }},
		{`topology_zone = "z1"`, func(o *core.Options) bool { return o.TopologyZone == "z1" }},
		{`unknown_key = [1, "x"]`, func(o *core.Options) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.toml, func(t *testing.T) {
			if o := mustParse(t, "--config="+writeConfig(t, tt.toml)); !tt.check(o) {
				t.Errorf("config %q gave %+v: check failed", tt.toml, o)
			}
		})
	}
}

// TestParseOptionsConfigErrors checks the fatal config cases: the message
// (after the timestamp) and the exit status.
func TestParseOptionsConfigErrors(t *testing.T) {
	const fatal = `^\[nsqd\] \S+ \S+ FATAL: `
	const stdlog = `^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d `
	tests := []struct {
		toml   string
		code   int
		stderr string // regexp
	}{
		{`this is not toml`, 1, fatal + `failed to load config file \S+ - toml: line 1: expected '\.' or '=', but got 'i' instead\n$`},
		{`tls_required = "bogus"`, 1, fatal + `failed parsing tls_required bogus\n$`},
		{`tls_min_version = "ssl3.0"`, 1, fatal + `failed parsing tls_min_version ssl3\.0\n$`},
		{`tls_min_version = 5`, 1, fatal + `failed parsing tls_min_version 5\n$`},
		{`log_level = 2`, 1, fatal + `failed parsing log_level 2\n$`},
		{`log_level = ""`, 1, fatal + `failed parsing log_level \n$`},
		{"tls_required = \"x\"\nlog_level = \"y\"", 1, fatal + `failed parsing tls_required x\n$`},
		{`mem_queue_size = 1.5`, 1, stdlog + `ERROR: Resolve failed to coerce value 1\.5 \(10000\) for field MemQueueSize - invalid int64 value type float64\n$`},
		{`msg_timeout = "45000"`, 1, stdlog + `ERROR: Resolve failed to coerce value 45000 \(1m0s\) for field MsgTimeout - time: missing unit in duration "45000"\n$`},
		{`msg_timeout = 1.5`, 1, stdlog + `ERROR: Resolve failed to coerce value 1\.5 \(1m0s\) for field MsgTimeout - invalid time\.Duration value type float64\n$`},
		{`statsd_mem_stats = "yes"`, 1, stdlog + `ERROR: Resolve failed to coerce value yes \(true\) for field StatsdMemStats - strconv\.ParseBool: parsing "yes": invalid syntax\n$`},
		{`statsd_mem_stats = 1.0`, 1, stdlog + `ERROR: Resolve failed to coerce value 1 \(true\) for field StatsdMemStats - invalid bool value type float64\n$`},
		{`e2e_processing_latency_percentiles = "1.0,x"`, 1, stdlog + `ERROR: Resolve failed to coerce value 1\.0,x \(\[\]\) for field E2EProcessingLatencyPercentiles - strconv\.ParseFloat: parsing "x": invalid syntax\n$`},
		{"max_deflate_level = \"x\"\nid = \"y\"", 1, stdlog + `ERROR: Resolve failed to coerce value y \(\d+\) for field ID - `}, // field order
		{`e2e_processing_latency_percentiles = [1]`, 2, `^panic: interface conversion: interface \{\} is int64, not float64\n$`},
		{`nsqlookupd_tcp_addresses = [1]`, 2, `^panic: interface conversion: interface \{\} is int64, not string\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.toml, func(t *testing.T) {
			r := parse(t, "--config="+writeConfig(t, tt.toml))
			if !r.done || r.code != tt.code {
				t.Fatalf("done=%v code=%d stderr=%q, want exit %d", r.done, r.code, r.stderr, tt.code)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(r.stderr) {
				t.Errorf("stderr = %q, want match %q", r.stderr, tt.stderr)
			}
		})
	}
}

// upstreamFieldOrder is the order of upstream 1.3.0's flag-tagged
// nsqd.Options fields (by config name). resolve reports the first bad config
// value in field order, so core.Options must keep it; fields upstream lacks
// may sit anywhere.
var upstreamFieldOrder = []string{
	"id", "log_level", "log_prefix", "tcp_address", "http_address", "https_address",
	"broadcast_address", "broadcast_tcp_port", "broadcast_http_port", "nsqlookupd_tcp_addresses",
	"auth_http_addresses", "http_client_connect_timeout", "http_client_request_timeout",
	"data_path", "mem_queue_size", "max_bytes_per_file", "sync_every", "sync_timeout",
	"queue_scan_selection_count", "queue_scan_worker_pool_max",
	"msg_timeout", "max_msg_timeout", "max_msg_size", "max_body_size", "max_req_timeout",
	"max_heartbeat_interval", "max_rdy_count", "max_output_buffer_size", "max_output_buffer_timeout",
	"min_output_buffer_timeout", "output_buffer_timeout", "max_channel_consumers",
	"statsd_address", "statsd_prefix", "statsd_interval", "statsd_mem_stats", "statsd_udp_packet_size",
	"statsd_exclude_ephemeral", "e2e_processing_latency_window_time", "e2e_processing_latency_percentiles",
	"tls_cert", "tls_key", "tls_client_auth_policy", "tls_root_ca_file", "tls_required", "tls_min_version",
	"deflate", "max_deflate_level", "snappy",
}

// option is one resolvable core.Options field.
type option struct{ field, flag, cfg string }

// resolvableOptions lists core.Options' fields with a flag tag, in field
// order, with their config names.
func resolvableOptions() []option {
	var out []option
	typ := reflect.TypeFor[core.Options]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name := f.Tag.Get("flag")
		if name == "" || name == "-" {
			continue
		}
		cfg := f.Tag.Get("cfg")
		if cfg == "" {
			cfg = strings.ReplaceAll(name, "-", "_")
		}
		out = append(out, option{f.Name, name, cfg})
	}
	return out
}

// TestOptionsFlagCoverage: every tagged field has a registered flag, every
// flag but the four without a field has a tagged field, and upstream's
// fields keep upstream's order.
func TestOptionsFlagCoverage(t *testing.T) {
	fs := newFlagSet(core.NewOptions()).fs
	tagged := map[string]bool{}
	for _, o := range resolvableOptions() {
		tagged[o.flag] = true
		if fs.Lookup(o.flag) == nil {
			t.Errorf("core.Options.%s has flag tag %q but no flag is registered", o.field, o.flag)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "version", "config", "verbose", "worker-id":
			return
		}
		if !tagged[f.Name] {
			t.Errorf("flag --%s has no core.Options field", f.Name)
		}
	})

	known := map[string]bool{}
	for _, c := range upstreamFieldOrder {
		known[c] = true
	}
	var got []string
	for _, o := range resolvableOptions() {
		if known[o.cfg] {
			got = append(got, o.cfg)
		}
	}
	if !reflect.DeepEqual(got, upstreamFieldOrder) {
		t.Errorf("core.Options upstream field order:\ngot  %q\nwant %q", got, upstreamFieldOrder)
	}
}

// TestParseOptionsValidate runs parse + Validate on a few combinations to
// show the flag layer feeds Validate what upstream's New sees.
func TestParseOptionsValidate(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"--max-deflate-level=10"}, "--max-deflate-level must be [1,9]"},
		{[]string{"--max-deflate-level=0", "--node-id=1024"}, "--max-deflate-level must be [1,9]"},
		{[]string{"--node-id=1024"}, "--node-id must be [0,1024)"},
		{[]string{"--node-id=-1"}, "--node-id must be [0,1024)"},
		{[]string{"--tls-required"}, "cannot require TLS client connections without TLS key and cert"},
		{[]string{"--tls-client-auth-policy=foo"}, "cannot require TLS client connections without TLS key and cert"},
		{[]string{"--tls-cert=/nonexistent"}, "failed to build TLS config - open /nonexistent: no such file or directory"},
		{[]string{"--tls-root-ca-file=/nonexistent"}, "failed to build client TLS config - open /nonexistent: no such file or directory"},
		{[]string{"--auth-http-request-method=POST"}, "--auth-http-request-method must be post or get"},
		{[]string{"--e2e-processing-latency-percentile=1.5"}, "invalid E2E processing latency percentile: 1.5"},
		{[]string{"--e2e-processing-latency-percentile=0"}, "invalid E2E processing latency percentile: 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := mustParse(t, tt.args...).Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("Validate() = %q, want %q", got, tt.err)
			}
		})
	}
}
