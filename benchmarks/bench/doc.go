// Package bench runs load scenarios against nsqd-compatible daemons and compares two of them.
//
// A Case is one scenario in one configuration (pub/conns=4, e2e/rate=100k, ...). RunCase starts
// a fresh target for it, either a daemon subprocess (StartDaemon: loopback, ports from the OS,
// a data directory of its own, listeners found in its log) or the in-process null server, runs
// the scenario bounded by Config.CaseTimeout, and returns its metrics. Compare runs every case
// Rounds times, upstream then ours, and Summarize turns the runs into table rows: medians, the
// ratio of medians, and the range of per-round ratios as the noise. WriteTable, Report.Save and
// WriteChart print and file them.
//
// Measurement. A scenario opens Windows around what it measures. A window reads the daemon's
// utime+stime from /proc/<pid>/stat (reported as CPU-seconds per million messages), the
// harness's own CPU (getrusage), and the machine's from /proc/stat; whatever the machine spent
// beyond those two, plus steal, is load from other processes, and a run that saw more than
// CompareOptions.Noise cores of it is reported as disturbed. Peak RSS is the daemon's VmHWM.
//
// Failing loudly. Every setup step checks its answer: a refused dial, an IDENTIFY or SUB that
// is not OK, any error frame, a short count, a daemon that exits or never prints its TCP
// listener. The run then fails with that error and produces no numbers; nothing is retried.
// The one soft case is HTTP: a daemon that announces no HTTP listener gets n/a for http-pub.
//
// Threading. An Env belongs to the goroutine running its scenario; scenarios start their own
// goroutines for pipelined readers and many connections, all bounded by Env.Ctx. A Daemon's
// methods are safe for concurrent use.
package bench
