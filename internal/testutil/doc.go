// Package testutil holds the black-box test harness shared by the
// compatibility suite (test/compat) and any other test that needs a real
// nsqd process on loopback.
//
// It has three parts:
//
//   - [StartNSQD] runs an nsqd binary (upstream's or ours) as a subprocess on
//     ephemeral loopback ports and learns its addresses from the log lines
//     `TCP: listening on <addr>` and `HTTP: listening on <addr>`, exactly as
//     upstream nsqd v1.3.0 prints them:
//
//     [nsqd] 2025/01/02 15:04:05.000000 INFO: TCP: listening on 127.0.0.1:4150
//     [nsqd] 2025/01/02 15:04:05.000000 INFO: HTTP: listening on 127.0.0.1:4151
//
//     A daemon under test must print at least the TCP line (on stderr or
//     stdout) or it is reported as failing to start.
//
//   - [RawConn] is a V2 protocol client that speaks bytes, not intentions: it
//     sends exactly what a test writes and decodes every frame the server
//     sends, so tests can assert payloads byte for byte and check whether the
//     server closed the connection after an error.
//
//   - [Impls] is the table of implementations a compatibility test runs
//     against: upstream nsqd v1.3.0 (from <repo>/.bin/nsqd, see
//     scripts/upstream.sh) and ours (built once per test process from
//     ./cmd/nsqd). The NSQD_IMPLS environment variable (comma list of
//     "upstream", "ours") selects which ones run; the default is both.
//
// Everything here is safe for use from parallel tests. Methods that take a
// testing.TB must be called from the goroutine running that test, as with
// t.Fatal itself.
package testutil
