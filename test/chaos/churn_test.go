package chaos

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// churnKinds is how many ways a churn cycle connects and leaves.
const churnKinds = 8

// churnCycle runs one connect/disconnect cycle of kind i%churnKinds against
// addr and reports whether it published one message (body) with an OK.
//
//	0 connect, close                 4 IDENTIFY, SUB (RDY 0), close
//	1 magic, close                   5 SUB, RDY 5, reset (messages in flight)
//	2 magic, reset                   6 PUB cut in the body, close
//	3 PUB, read OK, close            7 wrong magic, read E_BAD_PROTOCOL and EOF
func churnCycle(addr string, i int, body []byte) (published bool, err error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, err
	}
	tc := c.(*net.TCPConn)
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	write := func(b []byte) error { _, err := tc.Write(b); return err }
	switch i % churnKinds {
	case 0:
	case 1:
		err = write([]byte(testutil.Magic))
	case 2:
		err = write([]byte(testutil.Magic))
		tc.SetLinger(0)
	case 3:
		if err = write(append([]byte(testutil.Magic), pubFrame("churn", body)...)); err == nil {
			err = expectFrame(tc, testutil.FrameResponse, "OK")
		}
		published = err == nil
	case 4:
		if err = write(append(append([]byte(testutil.Magic), bodyFrame("IDENTIFY", []byte(`{"heartbeat_interval":1000}`))...),
			"SUB churn c\n"...)); err == nil {
			if err = expectFrame(tc, testutil.FrameResponse, "OK"); err == nil {
				err = expectFrame(tc, testutil.FrameResponse, "OK")
			}
		}
	case 5:
		err = write([]byte(testutil.Magic + "SUB churn c\nRDY 5\n"))
		tc.SetLinger(0)
	case 6:
		f := pubFrame("churn", body)
		err = write(append([]byte(testutil.Magic), f[:len(f)-len(body)/2]...))
	case 7:
		if err = write([]byte("  V1")); err == nil {
			if err = expectFrame(tc, testutil.FrameError, "E_BAD_PROTOCOL"); err == nil {
				if n, rerr := tc.Read(make([]byte, 1)); rerr != io.EOF {
					err = fmt.Errorf("after E_BAD_PROTOCOL: read %d bytes, %v; want EOF", n, rerr)
				}
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("cycle kind %d: %w", i%churnKinds, err)
	}
	return published, nil
}

// expectFrame reads one frame from c and checks its type and payload.
func expectFrame(c net.Conn, wantType int32, want string) error {
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(hdr[:4])
	if size < 4 || size > 1<<20 {
		return fmt.Errorf("bad frame size %d", size)
	}
	payload := make([]byte, size-4)
	if _, err := io.ReadFull(c, payload); err != nil {
		return err
	}
	if ft := int32(binary.BigEndian.Uint32(hdr[4:])); ft != wantType || string(payload) != want {
		return fmt.Errorf("got %s %q, want %s %q", testutil.FrameTypeName(ft), payload, testutil.FrameTypeName(wantType), want)
	}
	return nil
}

// churn runs cycles connect/disconnect cycles numbered from first, from
// workers goroutines, and returns how many messages were published.
func churn(t *testing.T, addr string, first, cycles, workers int) int64 {
	t.Helper()
	var next, published atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := first + int(next.Add(1)) - 1
				if i >= first+cycles {
					return
				}
				ok, err := churnCycle(addr, i, fmt.Appendf(nil, "churn-%07d", i))
				if err != nil {
					t.Errorf("cycle %d: %v", i, err)
					return
				}
				if ok {
					published.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return published.Load()
}

// Connect/disconnect cycles of every kind (see churnCycle), 100,000 by
// default (about 7 s here, 11 s with -race; 20,000 with -short, 500,000
// with CHAOS_LONG or -tags chaos_long; CHAOS_CYCLES sets the count), while a
// consumer drains the published messages: afterwards the daemon holds no
// more descriptors, goroutines or memory than after a warm-up, and every
// published message was delivered.
func TestConnectDisconnectChurn(t *testing.T) {
	impl := ours(t)
	cycles := knob(t, "CHAOS_CYCLES", 100000, 20000, 500000)
	const warmup, workers = 2000, 4
	d := impl.Start(t)

	var mu sync.Mutex
	got := map[string]bool{}
	drained := make(chan struct{})
	stop := make(chan struct{})
	sub := testutil.Dial(t, d.TCPAddr)
	sub.AnswerHeartbeats = true
	sub.Sub(t, "churn", "c")
	sub.Rdy(t, 100)
	go func() {
		defer close(drained)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ft, payload, err := sub.TryNext(100 * time.Millisecond)
			if err != nil {
				if testutil.IsClosedErr(err) {
					t.Errorf("draining consumer: %v", err)
					return
				}
				continue
			}
			if ft != testutil.FrameMessage {
				t.Errorf("draining consumer: got %s %q", testutil.FrameTypeName(ft), payload)
				return
			}
			m, _ := testutil.DecodeMessage(payload)
			mu.Lock()
			got[string(m.Body)] = true
			mu.Unlock()
			if err := sub.TryWrite([]byte("FIN " + m.ID.String() + "\n")); err != nil {
				t.Errorf("draining consumer: %v", err)
				return
			}
		}
	}()
	defer func() { close(stop); <-drained }()

	published := churn(t, d.TCPAddr, 0, warmup, workers)
	settle := func() (sock, fd, gr int, st map[string]int64) {
		// closed connections leave the daemon within a few ticks
		waitUntil(5*time.Second, func() bool { _, _, n := channelStats(t, d, "churn", "c"); return n == 1 })
		time.Sleep(200 * time.Millisecond)
		return sockets(t, d), fds(t, d), goroutines(t, d), procStatus(t, d.PID())
	}
	sock0, fd0, gr0, st0 := settle()
	start := time.Now()
	published += churn(t, d.TCPAddr, warmup, cycles, workers)
	el := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	var sock1, fd1, gr1 int
	var st1 map[string]int64
	ok := waitUntil(5*time.Second, func() bool {
		sock1, fd1, gr1, st1 = settle()
		return sock1 <= sock0 && fd1 <= fd0 && gr1 <= gr0+10
	})
	t.Logf("%d cycles in %v (%.0f/s) after %d warm-up; published %d", cycles, el.Round(time.Millisecond),
		float64(cycles)/el.Seconds(), warmup, published)
	t.Logf("after warm-up: %d sockets, %d fds, %d goroutines, VmRSS %s (RssAnon %s)", sock0, fd0, gr0, mb(st0["VmRSS"]), mb(st0["RssAnon"]))
	t.Logf("after churn:   %d sockets, %d fds, %d goroutines, VmRSS %s (RssAnon %s)", sock1, fd1, gr1, mb(st1["VmRSS"]), mb(st1["RssAnon"]))
	if !ok {
		t.Fatalf("after %d cycles: %d sockets, %d fds, %d goroutines; want ≤ %d, ≤ %d, ≤ %d+10 as after the warm-up",
			cycles, sock1, fd1, gr1, sock0, fd0, gr0)
	}
	if grow := st1["VmRSS"] - st0["VmRSS"]; grow > max(16<<20, st0["VmRSS"]/4) {
		t.Fatalf("VmRSS grew by %s over %d cycles, want at most max(16 MiB, 25%%)", mb(grow), cycles)
	}
	if !waitUntil(5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return int64(len(got)) >= published }) {
		depth, inFlight, clients := channelStats(t, d, "churn", "c")
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("consumer got %d distinct messages, want all %d published (channel: depth %d, in flight %d, %d clients)",
			len(got), published, depth, inFlight, clients)
	}
	if rt := roundTrip(t, d, "churn_rt"); rt > time.Second {
		t.Fatalf("round trip after the churn took %v", rt)
	}
}
