// Package benchmarks is the root of nsqreactor's load-testing module: a separate Go module
// (nsqreactor/benchmarks) so that its dependencies (an HDR histogram, a plotting library) never
// reach the daemon's go.mod.
//
// The module has three parts:
//
//	wire/          a raw NSQ V2 client (pipelined, allocation-light) and a null V2 server that
//	               answers OK and stores nothing: the ceiling the client and loopback allow.
//	bench/         daemons as subprocesses, /proc sampling, the scenarios, compare mode
//	               (A B A B rounds, medians, pair-ratio noise), the results file and the chart.
//	cmd/nsqbench/  the command line: compare, run, list.
//
// The one command the README gives is scripts/bench.sh at the repository root; it builds
// upstream nsqd v1.3.0 if needed and runs `nsqbench compare`. Results land in results/.
package benchmarks
