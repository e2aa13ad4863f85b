package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// scaleChannels is how many channels of topic "scale" the held connections
// are spread over.
const scaleChannels = 10

// Many concurrent subscribed connections (15,000 by default: about 3 s here,
// 6 s with -race; 2,000 with -short; CHAOS_CONNS sets the count): the daemon
// keeps answering /ping and a publish/consume round trip on fresh
// connections at normal latency, its RSS per connection is reported, and
// SIGTERM closes every connection and exits 0 within a few seconds.
func TestConnectionScale(t *testing.T) {
	impl := ours(t)
	n := knob(t, "CHAOS_CONNS", 15000, 2000, 15000)
	// Both processes need n descriptors and some; the daemon inherits the
	// raised limit (an explicit Setrlimit stops os/exec from restoring the
	// original one in children).
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < uint64(n+1000) {
		t.Skipf("RLIMIT_NOFILE hard limit %d is too low for %d connections", lim.Max, n)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising RLIMIT_NOFILE to %d: %v", lim.Max, err)
	}

	d := impl.Start(t)
	rt0 := roundTrip(t, d, "scale_rt0")
	st0 := procStatus(t, d.PID())

	conns := make([]net.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := holdSubscriber(d.TCPAddr, fmt.Sprintf("c%d", i%scaleChannels))
				if err != nil {
					t.Errorf("connection %d: %v", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	connected := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	st1 := procStatus(t, d.PID())
	socks := sockets(t, d)
	clients := 0
	for i := range scaleChannels {
		_, _, k := channelStats(t, d, "scale", fmt.Sprintf("c%d", i))
		clients += k
	}
	pingStart := time.Now()
	if status, body := httpGet(t, d.HTTPAddr, "/ping"); status != 200 || string(body) != "OK" {
		t.Fatalf("/ping with %d connections: got %d %q", n, status, body)
	}
	ping := time.Since(pingStart)
	rt1 := roundTrip(t, d, "scale_rt1")
	perConn := float64(st1["VmRSS"]-st0["VmRSS"]) / float64(n)
	t.Logf("%d subscribed connections in %v; daemon: %d sockets, %d clients in /stats", n, connected.Round(time.Millisecond), socks, clients)
	t.Logf("VmRSS %s → %s: %.1f KiB per connection (RssAnon %.1f KiB)", mb(st0["VmRSS"]), mb(st1["VmRSS"]),
		perConn/1024, float64(st1["RssAnon"]-st0["RssAnon"])/float64(n)/1024)
	t.Logf("/ping %v; round trip on fresh connections %v (before: %v)", ping, rt1, rt0)
	if socks < n || clients != n {
		t.Fatalf("daemon holds %d sockets and reports %d clients, want ≥ %d and %d", socks, clients, n, n)
	}
	if ping > time.Second || rt1 > time.Second {
		t.Fatalf("with %d connections: /ping %v, round trip %v; want each under 1s", n, ping, rt1)
	}

	// SIGTERM: exit 0 within a few seconds, every connection closed (EOF).
	stopStart := time.Now()
	if err := syscall.Kill(d.PID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := d.Wait(10 * time.Second)
	stopped := time.Since(stopStart)
	if err != nil {
		t.Fatalf("after SIGTERM with %d connections: %v, want exit status 0", n, err)
	}
	eof, other := 0, map[string]int{}
	buf := make([]byte, 4096)
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var rerr error
		for rerr == nil {
			_, rerr = c.Read(buf) // frames sent before the close are skipped
		}
		if errors.Is(rerr, io.EOF) {
			eof++
		} else {
			other[rerr.Error()]++
		}
	}
	t.Logf("SIGTERM to exit 0: %v; %d of %d connections saw EOF", stopped.Round(time.Millisecond), eof, n)
	if stopped > 5*time.Second {
		t.Fatalf("shutdown with %d connections took %v, want under 5s", n, stopped)
	}
	if eof != n {
		t.Fatalf("%d of %d connections closed cleanly (EOF); others: %v", eof, n, other)
	}
}

// holdSubscriber opens a connection that identifies with a 60 s heartbeat
// (so it outlives the test without answering), subscribes to
// scale/<channel> with RDY 1, and returns it once both OKs arrived.
func holdSubscriber(addr, channel string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b := append([]byte(testutil.Magic), bodyFrame("IDENTIFY", []byte(`{"heartbeat_interval":60000}`))...)
	b = append(b, "SUB scale "+channel+"\nRDY 1\n"...)
	if _, err := c.Write(b); err != nil {
		c.Close()
		return nil, err
	}
	for range 2 {
		if err := expectFrame(c, testutil.FrameResponse, "OK"); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
