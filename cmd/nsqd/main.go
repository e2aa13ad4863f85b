// Command nsqd is nsqreactor's drop-in replacement for NSQ's nsqd: the same
// flags, config file and protocol, on an event-loop network stack.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"nsqreactor/cluster"
	"nsqreactor/core"
	"nsqreactor/loop"
)

func main() {
	// A file-size limit (RLIMIT_FSIZE) must surface as a write error
	// (E_PUB_FAILED, /ping unhealthy), not kill the daemon.
	signal.Ignore(syscall.SIGXFSZ)
	opts, code, done := parseOptions(os.Args[1:], os.Stdout, os.Stderr)
	if done {
		os.Exit(code)
	}
	os.Exit(run(opts))
}

// run starts the daemon, waits for SIGINT/SIGTERM and shuts down cleanly.
// It returns the process exit code (upstream: 1 for startup failures).
func run(opts *core.Options) int {
	unlock, err := core.LockDataPath(opts.DataPath)
	if err == nil {
		err = opts.Validate()
		if err != nil {
			unlock()
		}
	}
	if err != nil {
		writeFatal(os.Stderr, "failed to instantiate nsqd - %s", err)
		return 1
	}
	defer unlock()
	// before any listener is announced, so a signal right after the
	// "listening" lines still shuts down cleanly
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)

	n := core.New(opts)
	log := n.Logger()
	log.Logf(core.LogLevelInfo, "%s", versionString())
	log.Logf(core.LogLevelInfo, "ID: %d", opts.ID)
	if err := n.LoadMetadata(); err != nil {
		writeFatal(os.Stderr, "failed to load metadata - %s", err)
		return 1
	}
	// nsqlookupd and statsd (issue #7): its core hooks must be installed
	// before clients can create topics, and after nsqd.dat is loaded.
	cl := cluster.New(n)

	tcp, err := loop.Listen(n, opts.TCPAddress)
	if err != nil {
		writeFatal(os.Stderr, "failed to instantiate nsqd - listen (%s) failed - %s", opts.TCPAddress, err)
		return 1
	}
	httpSrv, err := startHTTP(n, tcp.Port()) // issue #4 (http.go); nil when HTTP and HTTPS are off
	if err != nil {
		tcp.Close()
		writeFatal(os.Stderr, "failed to instantiate nsqd - %s", err)
		return 1
	}
	// As upstream, nsqd.dat is rewritten and the listeners announced only
	// once every listener is bound: a taken port fails startup before.
	if err := n.PersistMetadata(); err != nil {
		tcp.Close()
		if httpSrv != nil {
			httpSrv.Close()
		}
		writeFatal(os.Stderr, "failed to persist metadata - %s", err)
		return 1
	}
	log.Logf(core.LogLevelInfo, "TCP: listening on %s", tcp.Addr())
	logHTTP(n, httpSrv)
	n.Start()
	httpPort := 0 // issue #7: lookupd registers the listen ports
	if httpSrv != nil {
		httpPort = httpSrv.Port()
		httpSrv.OnLookupdChange(cl.SetLookupdAddresses)
	}
	cl.Start(tcp.Port(), httpPort)

	<-sig

	log.Logf(core.LogLevelInfo, "TCP: closing %s", tcp.Addr())
	tcp.Close()
	stopHTTP(n, httpSrv) // issue #4
	if err := n.PersistMetadata(); err != nil {
		log.Logf(core.LogLevelError, "failed to persist metadata - %s", err)
	}
	cl.Stop() // issue #7
	log.Logf(core.LogLevelInfo, "NSQ: closing topics")
	n.Exit()
	log.Logf(core.LogLevelInfo, "NSQ: bye")
	return 0
}
