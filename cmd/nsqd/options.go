package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"runtime"

	"nsqreactor/core"
)

// parseOptions turns the command line into resolved options, exactly as
// upstream nsqd v1.3.0 does (apps/nsqd/main.go Init, options.go and
// mreiferson/go-options Resolve):
//
//  1. parse args with Go's flag package (usage and errors on stderr);
//  2. --version: print "nsqd v1.3.0 (built w/<go version>)" on stdout;
//  3. --config: load the TOML file, translate tls_required, tls_min_version
//     and log_level;
//  4. resolve every option: explicit flag > config file value > default.
//
// When done is true the process must exit with exitCode and nothing more:
// 0 after --version or -h, 1 after a fatal config error, 2 after a flag error
// (and for the two config values that crash upstream with a Go panic). The
// messages have already been written. When done is false, opts is ready for
// opts.Validate and exitCode is 0.
//
// args excludes the program name (os.Args[1:]). parseOptions does not exit
// the process and does not touch the file system other than reading --config.
func parseOptions(args []string, stdout, stderr io.Writer) (opts *core.Options, exitCode int, done bool) {
	opts = core.NewOptions()
	fl := newFlagSet(opts)

	// Collect flag's own error and usage text, so that a bad
	// --e2e-processing-latency-percentile can replace it with upstream's
	// log.Fatalf line (upstream exits inside FloatArray.Set).
	var usage bytes.Buffer
	fl.fs.SetOutput(&usage)
	err := fl.fs.Parse(args)
	switch {
	case fl.e2e.unparsable != nil:
		stdLogger(stderr).Printf("Could not parse: %s", *fl.e2e.unparsable)
		return nil, 1, true
	case err == flag.ErrHelp:
		stderr.Write(usage.Bytes())
		return nil, 0, true
	case err != nil:
		stderr.Write(usage.Bytes())
		return nil, 2, true
	}

	if fl.fs.Lookup("version").Value.(flag.Getter).Get().(bool) {
		fmt.Fprintln(stdout, versionString())
		return nil, 0, true
	}

	var cfg map[string]any
	if path := fl.fs.Lookup("config").Value.String(); path != "" {
		if cfg, err = loadConfig(path); err != nil {
			writeFatal(stderr, "failed to load config file %s - %s", path, err)
			return nil, 1, true
		}
	}
	if err := translateConfig(cfg); err != nil {
		writeFatal(stderr, "%s", err)
		return nil, 1, true
	}
	if err := resolve(opts, fl.fs, cfg); err != nil {
		return nil, reportResolveError(stderr, err), true
	}
	return opts, 0, false
}

// versionString is upstream's version.String("nsqd").
func versionString() string {
	return fmt.Sprintf("nsqd v%s (built w/%s)", core.Version, runtime.Version())
}

// writeFatal writes one line in the format of upstream's lg.LogFatal with
// its fixed "[nsqd] " prefix (not --log-prefix):
//
//	[nsqd] 2006/01/02 15:04:05.000000 FATAL: <message>
//
// The caller exits with status 1 afterwards. main uses it for
// "failed to instantiate nsqd - <err>" too.
func writeFatal(w io.Writer, format string, args ...any) {
	l := log.New(w, "[nsqd] ", log.Ldate|log.Ltime|log.Lmicroseconds)
	l.Printf("FATAL: "+format, args...)
}

// stdLogger logs like Go's default logger (log.Fatalf in upstream's helpers):
// "2006/01/02 15:04:05 <message>".
func stdLogger(w io.Writer) *log.Logger {
	return log.New(w, "", log.LstdFlags)
}

// nsqdFlags is the flag set plus the Values parseOptions inspects directly.
type nsqdFlags struct {
	fs  *flag.FlagSet
	e2e *floatArray
}

// newFlagSet registers upstream's flags with the same names, types, defaults
// (taken from opts) and usage text, so that -h prints the same thing as
// upstream. The four flags upstream 1.3.0 lacks (auth-http-request-method,
// enable-experiment, topology-region, topology-zone) use HEAD's text.
func newFlagSet(opts *core.Options) nsqdFlags {
	fs := flag.NewFlagSet("nsqd", flag.ContinueOnError)

	// basic options
	fs.Bool("version", false, "print version string")
	fs.String("config", "", "path to config file")
	logLevel := logLevelOption(opts.LogLevel)
	fs.Var(&logLevel, "log-level", "set log verbosity: debug, info, warn, error, or fatal")
	fs.String("log-prefix", "[nsqd] ", "log message prefix")
	fs.Bool("verbose", false, "[deprecated] has no effect, use --log-level")
	fs.Int64("node-id", opts.ID, "unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)")
	fs.Bool("worker-id", false, "[deprecated] use --node-id")

	fs.String("https-address", opts.HTTPSAddress, "<addr>:<port> to listen on for HTTPS clients")
	fs.String("http-address", opts.HTTPAddress, "address to listen on for HTTP clients (<addr>:<port> for TCP/IP or <path> for unix socket)")
	fs.String("tcp-address", opts.TCPAddress, "address to listen on for TCP clients (<addr>:<port> for TCP/IP or <path> for unix socket)")
	fs.Var(&stringArray{}, "auth-http-address", "<addr>:<port> or a full url to query auth server (may be given multiple times)")
	fs.String("auth-http-request-method", opts.AuthHTTPRequestMethod, "HTTP method to use for auth server requests")
	fs.String("broadcast-address", opts.BroadcastAddress, "address that will be registered with lookupd (defaults to the OS hostname)")
	fs.Int("broadcast-tcp-port", opts.BroadcastTCPPort, "TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)")
	fs.Int("broadcast-http-port", opts.BroadcastHTTPPort, "HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)")
	fs.Var(&stringArray{}, "lookupd-tcp-address", "lookupd TCP address (may be given multiple times)")
	fs.Duration("http-client-connect-timeout", opts.HTTPClientConnectTimeout, "timeout for HTTP connect")
	fs.Duration("http-client-request-timeout", opts.HTTPClientRequestTimeout, "timeout for HTTP request")
	fs.String("topology-region", opts.TopologyRegion, "A region represents a larger domain, made up of one or more zones for preferring closer consumer")
	fs.String("topology-zone", opts.TopologyZone, "A zone represents a logical failure domain for preferring closer consumer")

	// diskqueue options
	fs.String("data-path", opts.DataPath, "path to store disk-backed messages")
	fs.Int64("mem-queue-size", opts.MemQueueSize, "number of messages to keep in memory (per topic/channel)")
	fs.Int64("max-bytes-per-file", opts.MaxBytesPerFile, "number of bytes per diskqueue file before rolling")
	fs.Int64("sync-every", opts.SyncEvery, "number of messages per diskqueue fsync")
	fs.Duration("sync-timeout", opts.SyncTimeout, "duration of time per diskqueue fsync")
	fs.Int("queue-scan-worker-pool-max", opts.QueueScanWorkerPoolMax, "max concurrency for checking in-flight and deferred message timeouts")
	fs.Int("queue-scan-selection-count", opts.QueueScanSelectionCount, "number of channels to check per cycle (every 100ms) for in-flight and deferred timeouts")

	// msg and command options
	fs.Duration("msg-timeout", opts.MsgTimeout, "default duration to wait before auto-requeing a message")
	fs.Duration("max-msg-timeout", opts.MaxMsgTimeout, "maximum duration before a message will timeout")
	fs.Int64("max-msg-size", opts.MaxMsgSize, "maximum size of a single message in bytes")
	fs.Duration("max-req-timeout", opts.MaxReqTimeout, "maximum requeuing timeout for a message")
	fs.Int64("max-body-size", opts.MaxBodySize, "maximum size of a single command body")

	// client overridable configuration options
	fs.Duration("max-heartbeat-interval", opts.MaxHeartbeatInterval, "maximum client configurable duration of time between client heartbeats")
	fs.Int64("max-rdy-count", opts.MaxRdyCount, "maximum RDY count for a client")
	fs.Int64("max-output-buffer-size", opts.MaxOutputBufferSize, "maximum client configurable size (in bytes) for a client output buffer")
	fs.Duration("max-output-buffer-timeout", opts.MaxOutputBufferTimeout, "maximum client configurable duration of time between flushing to a client")
	fs.Duration("min-output-buffer-timeout", opts.MinOutputBufferTimeout, "minimum client configurable duration of time between flushing to a client")
	fs.Duration("output-buffer-timeout", opts.OutputBufferTimeout, "default duration of time between flushing data to clients")
	fs.Int("max-channel-consumers", opts.MaxChannelConsumers, "maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)")

	// statsd integration options
	fs.String("statsd-address", opts.StatsdAddress, "UDP <addr>:<port> of a statsd daemon for pushing stats")
	fs.Duration("statsd-interval", opts.StatsdInterval, "duration between pushing to statsd")
	fs.Bool("statsd-mem-stats", opts.StatsdMemStats, "toggle sending memory and GC stats to statsd")
	fs.String("statsd-prefix", opts.StatsdPrefix, "prefix used for keys sent to statsd (%s for host replacement)")
	fs.Int("statsd-udp-packet-size", opts.StatsdUDPPacketSize, "the size in bytes of statsd UDP packets")
	fs.Bool("statsd-exclude-ephemeral", opts.StatsdExcludeEphemeral, "Skip ephemeral topics and channels when sending stats to statsd")

	// end to end percentile flags
	e2e := &floatArray{values: []float64{}}
	fs.Var(e2e, "e2e-processing-latency-percentile", "message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated '1.0,0.99,0.95', default none)")
	fs.Duration("e2e-processing-latency-window-time", opts.E2EProcessingLatencyWindowTime, "calculate end to end latency quantiles for this duration of time (ie: 60s would only show quantile calculations from the past 60 seconds)")

	// TLS config
	fs.String("tls-cert", opts.TLSCert, "path to certificate file")
	fs.String("tls-key", opts.TLSKey, "path to key file")
	fs.String("tls-client-auth-policy", opts.TLSClientAuthPolicy, "client certificate auth policy ('require' or 'require-verify')")
	fs.String("tls-root-ca-file", opts.TLSRootCAFile, "path to certificate authority file")
	tlsRequired := tlsRequiredOption(opts.TLSRequired)
	fs.Var(&tlsRequired, "tls-required", "require TLS for client connections (true, false, tcp-https)")
	tlsMinVersion := tlsMinVersionOption(opts.TLSMinVersion)
	// The text offers ssl3.0, but upstream 1.3.0 rejects it; kept verbatim.
	fs.Var(&tlsMinVersion, "tls-min-version", "minimum SSL/TLS version acceptable ('ssl3.0', 'tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3')")

	// compression
	fs.Bool("deflate", opts.DeflateEnabled, "enable deflate feature negotiation (client compression)")
	fs.Int("max-deflate-level", opts.MaxDeflateLevel, "max deflate compression level a client can negotiate (> values == > nsqd CPU usage)")
	fs.Bool("snappy", opts.SnappyEnabled, "enable snappy feature negotiation (client compression)")

	// experiments (HEAD)
	fs.Var(&stringArray{}, "enable-experiment", "enable experimental feature (may be given multiple times) (valid options: '"+experimentTopologyAwareConsumption+"')")

	return nsqdFlags{fs: fs, e2e: e2e}
}

// experimentTopologyAwareConsumption is the one experiment upstream knows;
// any other --enable-experiment value is accepted and ignored, as upstream.
const experimentTopologyAwareConsumption = "topology-aware-consumption"
