// Package chaos holds black-box reliability tests (issue #8): hostile and
// broken peers, connection churn and scale, crash loops and security limits.
// Every test starts the built daemon as a subprocess (testutil.Impls) and
// drives it over loopback; where the expectation is upstream's, the same test
// also runs against upstream nsqd v1.3.0.
//
// Heavy tests are bounded for CI: the whole package takes about a minute on
// 2 cores with -race (well inside the 3-minute budget), less with -short.
// Their long variants run with the build tag chaos_long or CHAOS_LONG=1;
// single knobs (default / -short / long):
//
//	CHAOS_CYCLES=n       connect/disconnect cycles (100,000 / 20,000 / 500,000)
//	CHAOS_CONNS=n        concurrent connections (15,000 / 2,000 / 15,000)
//	CHAOS_CRASHES=n      kill -9 cycles (10 / 3 / 50)
//	CHAOS_SEED=n         seed of the crash loop's random choices
//
// The soak test is scripts/soak.sh (benchmarks/cmd/nsqsoak), not run here.
package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBuilds()
	os.Exit(code)
}

// long reports whether the long variants run (build tag chaos_long or
// CHAOS_LONG set to anything but "" or "0").
func long() bool {
	v := os.Getenv("CHAOS_LONG")
	return longBuild || (v != "" && v != "0")
}

// knob returns the positive integer in environment variable name, or def
// (shortDef under -short, longDef under long()).
func knob(t *testing.T, name string, def, shortDef, longDef int) int {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	switch {
	case long():
		return longDef
	case testing.Short():
		return shortDef
	}
	return def
}

// eachImpl runs fn as a subtest per selected implementation.
func eachImpl(t *testing.T, parallel bool, fn func(t *testing.T, impl testutil.Impl)) {
	t.Helper()
	for _, impl := range testutil.Impls(t) {
		t.Run(impl.Name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			fn(t, impl)
		})
	}
}

// ours returns our implementation, skipping when NSQD_IMPLS leaves it out.
func ours(t *testing.T) testutil.Impl {
	t.Helper()
	for _, i := range testutil.Impls(t) {
		if i.Ours {
			return i
		}
	}
	t.Skip("ours not selected by NSQD_IMPLS")
	return testutil.Impl{}
}

// procStatus returns the fields of /proc/<pid>/status in bytes (the kB
// figures) or counts.
func procStatus(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("daemon status: %v", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n <<= 10
		}
		out[k] = n
	}
	return out
}

// rss returns the daemon's VmRSS in bytes.
func rss(t *testing.T, d *testutil.Daemon) int64 {
	t.Helper()
	return procStatus(t, d.PID())["VmRSS"]
}

// fds returns how many file descriptors the daemon has open.
func fds(t *testing.T, d *testutil.Daemon) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.PID()))
	if err != nil {
		t.Fatalf("daemon fds: %v", err)
	}
	return len(ents)
}

// sockets returns how many sockets the daemon has open (listeners
// included): unlike fds it does not count queue files.
func sockets(t *testing.T, d *testutil.Daemon) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", d.PID())
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("daemon fds: %v", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// mb formats a byte count in MiB.
func mb(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

var httpClient = &http.Client{Timeout: 10 * time.Second}

// httpGet returns the status and body of GET http://<addr><target>.
func httpGet(t *testing.T, addr, target string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get("http://" + addr + target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return resp.StatusCode, body
}

// httpPost returns the status and body of POST http://<addr><target>.
func httpPost(t *testing.T, addr, target string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Post("http://"+addr+target, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	return resp.StatusCode, out
}

// goroutines returns the daemon's goroutine count from the first line of
// /debug/pprof/goroutine?debug=1 ("goroutine profile: total N").
func goroutines(t *testing.T, d *testutil.Daemon) int {
	t.Helper()
	status, body := httpGet(t, d.HTTPAddr, "/debug/pprof/goroutine?debug=1")
	line, _, _ := bytes.Cut(body, []byte("\n"))
	n, err := strconv.Atoi(string(bytes.TrimPrefix(line, []byte("goroutine profile: total "))))
	if status != 200 || err != nil {
		t.Fatalf("/debug/pprof/goroutine?debug=1: got %d %q", status, line)
	}
	return n
}

// channelStats returns depth, in-flight count and client count of
// topic/channel from /stats?format=json (zeros if the channel is missing).
func channelStats(t *testing.T, d *testutil.Daemon, topic, channel string) (depth, inFlight, clients int) {
	t.Helper()
	status, body := httpGet(t, d.HTTPAddr, "/stats?format=json&include_clients=false&topic="+url.QueryEscape(topic))
	if status != 200 {
		t.Fatalf("/stats: got %d %q", status, body)
	}
	var st struct {
		Topics []struct {
			Name     string `json:"topic_name"`
			Channels []struct {
				Name     string `json:"channel_name"`
				Depth    int    `json:"depth"`
				InFlight int    `json:"in_flight_count"`
				Clients  int    `json:"client_count"`
			} `json:"channels"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/stats: %v in %q", err, body)
	}
	for _, tp := range st.Topics {
		for _, ch := range tp.Channels {
			if tp.Name == topic && ch.Name == channel {
				return ch.Depth, ch.InFlight, ch.Clients
			}
		}
	}
	return 0, 0, 0
}

// waitUntil polls cond every 20 ms until it holds or d passes, and reports
// whether it held.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pubFrame returns the bytes of PUB <topic> with body.
func pubFrame(topic string, body []byte) []byte {
	b := []byte("PUB " + topic + "\n")
	b = testutil.AppendSize(b, int32(len(body)))
	return append(b, body...)
}

// bodyFrame returns line, "\n", the 4-byte size and body.
func bodyFrame(line string, body []byte) []byte {
	b := testutil.AppendSize([]byte(line+"\n"), int32(len(body)))
	return append(b, body...)
}

// consume subscribes a fresh connection to topic/channel with RDY rdy and
// returns it.
func consume(t *testing.T, d *testutil.Daemon, topic, channel string, rdy int) *testutil.RawConn {
	t.Helper()
	c := testutil.Dial(t, d.TCPAddr)
	c.AnswerHeartbeats = true
	c.Sub(t, topic, channel)
	c.Rdy(t, rdy)
	return c
}

// roundTrip publishes one message to a fresh topic on a fresh connection and
// returns how long it took to arrive at a fresh consumer: the daemon serves.
func roundTrip(t *testing.T, d *testutil.Daemon, topic string) time.Duration {
	t.Helper()
	sub := consume(t, d, topic, "rt", 1)
	defer sub.Close()
	p := testutil.Dial(t, d.TCPAddr)
	defer p.Close()
	start := time.Now()
	p.Pub(t, topic, []byte("round trip"))
	m := sub.ExpectMessage(t)
	if string(m.Body) != "round trip" {
		t.Fatalf("round trip: got %q, want %q", m.Body, "round trip")
	}
	sub.Fin(t, m.ID)
	return time.Since(start)
}

// dialRaw opens a plain TCP connection to addr.
func dialRaw(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return c.(*net.TCPConn)
}

// logLines returns the lines of logs that contain any of the words
// (case-insensitive).
func logLines(logs string, words ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := strings.ToLower(sc.Text())
		for _, w := range words {
			if strings.Contains(l, strings.ToLower(w)) {
				out = append(out, sc.Text())
				break
			}
		}
	}
	return out
}
