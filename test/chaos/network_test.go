package chaos

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// A sender trickling one byte every 10 ms (magic included) still gets its
// PUB through, and a second connection's PUBs are answered at normal speed
// meanwhile: a slow peer holds no shared resource.
func TestSlowSender(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		sub := consume(t, d, "slow", "c", 10)
		slow := testutil.DialNoMagic(t, d.TCPAddr)
		frame := append([]byte(testutil.Magic), pubFrame("slow", []byte("trickled body"))...)
		done := make(chan error, 1)
		go func() {
			for i := range frame {
				if err := slow.TryWrite(frame[i : i+1]); err != nil {
					done <- err
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			done <- nil
		}()
		fast := testutil.Dial(t, d.TCPAddr)
		var worst time.Duration
		pubs := 0
		for trickling := true; trickling; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("trickling the PUB: %v", err)
				}
				trickling = false
			default:
				start := time.Now()
				fast.Pub(t, "slow_other", []byte("x"))
				worst = max(worst, time.Since(start))
				pubs++
			}
		}
		slow.ExpectResponse(t, "OK")
		if m := sub.ExpectMessage(t); string(m.Body) != "trickled body" {
			t.Fatalf("got %q, want the trickled body", m.Body)
		}
		t.Logf("trickled %d bytes; meanwhile %d PUBs on another connection, slowest %v", len(frame), pubs, worst)
		if pubs < 10 || worst > 500*time.Millisecond {
			t.Fatalf("other connection: %d PUBs, slowest %v; want ≥ 10 and ≤ 500ms", pubs, worst)
		}
	})
}

// Slowloris: a command trickled more slowly than the read deadline
// (2 × heartbeat interval, spec §2.3, which covers the body) fails with
// upstream's read error when the deadline passes, and the connection closes.
func TestSlowlorisDropped(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		c := testutil.Dial(t, d.TCPAddr)
		c.Identify(t, `{"heartbeat_interval":1000}`)
		start := time.Now()
		frame := pubFrame("loris", make([]byte, 40))
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for i := range frame {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Conn.Write(frame[i : i+1]); err != nil {
					return
				}
			}
		}()
		c.Timeout = 5 * time.Second
		c.ExpectError(t, "E_BAD_MESSAGE PUB failed to read message body")
		el := time.Since(start)
		c.ExpectClosed(t)
		t.Logf("trickling PUB (1 byte / 100 ms, %d bytes) closed after %v", len(frame), el)
		if el < 1500*time.Millisecond || el > 4*time.Second {
			t.Fatalf("closed after %v, want about 2s (2 × heartbeat 1s)", el)
		}
	})
}

// A consumer with RDY 2500 that keeps sending NOPs but never reads, while
// the topic floods (256 MiB): the daemon's RSS stays bounded by what RDY
// lets it hold, and the peer is dropped about one heartbeat interval after
// its socket stops draining (the write deadline, spec §2.3).
//
// Ours only. Upstream's message pump stops at the write deadline (1 s,
// "messagePump error - i/o timeout") but its connection stays open and
// subscribed (in our runs for about 6 s more, until a read timeout). Ours
// closes the connection when its output has not drained between two
// heartbeats: 1–2 intervals after the stall (2.0 s measured).
//
// Topic and channel are ephemeral, so what overflows the memory queues is
// dropped instead of going to disk: with a durable topic, VmRSS would also
// count the disk queue's file pages (its segments are memory-mapped), which
// grow with the backlog — reclaimable page cache, not heap.
func TestNeverReadingConsumer(t *testing.T) {
	impl := ours(t)
	const (
		msgSize  = 4 << 10
		rdy      = 2500
		memQueue = 1000
		batch    = 64
		flood    = 256 << 20 / msgSize // messages
		topic    = "flood#ephemeral"
		channel  = "c#ephemeral"
	)
	d := impl.Start(t, "--mem-queue-size="+strconv.Itoa(memQueue))
	stuck := dialSmallRcvBuf(t, d.TCPAddr)
	stuck.Identify(t, `{"heartbeat_interval":1000}`)
	stuck.Sub(t, topic, channel)
	stuck.Rdy(t, rdy)
	stopNOP := make(chan struct{})
	defer close(stopNOP)
	go func() { // keeps the read deadline away: only the write side stalls
		for {
			select {
			case <-stopNOP:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := stuck.Conn.Write([]byte("NOP\n")); err != nil {
				return
			}
		}
	}()
	st := procStatus(t, d.PID())
	base, baseAnon := st["VmRSS"], st["RssAnon"]

	var published atomic.Int64
	stopPub := make(chan struct{})
	var wg sync.WaitGroup
	bodies := make([][]byte, batch)
	for i := range bodies {
		bodies[i] = make([]byte, msgSize)
	}
	mpub := bodyFrame("MPUB "+topic, testutil.MPUBBody(bodies...))
	for range 2 {
		p := testutil.Dial(t, d.TCPAddr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopPub:
					return
				default:
				}
				if published.Load() >= flood {
					return
				}
				if err := p.TryWrite(mpub); err != nil {
					t.Errorf("MPUB: %v", err)
					return
				}
				if ft, payload, err := p.ReadFrame(); err != nil || ft != testutil.FrameResponse || string(payload) != "OK" {
					t.Errorf("MPUB: got %d %q %v, want OK", ft, payload, err)
					return
				}
				published.Add(batch)
			}
		}()
	}
	start := time.Now()
	peak, peakAnon, dropped := base, baseAnon, time.Duration(0)
	sample := func() {
		st := procStatus(t, d.PID())
		peak, peakAnon = max(peak, st["VmRSS"]), max(peakAnon, st["RssAnon"])
	}
	for time.Since(start) < 10*time.Second {
		time.Sleep(50 * time.Millisecond)
		sample()
		if _, _, clients := channelStats(t, d, topic, channel); clients == 0 {
			dropped = time.Since(start)
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // the flood goes on after the drop
	sample()
	close(stopPub)
	wg.Wait()
	// what RDY allows in flight (held once as messages and once in the
	// output buffer) and the two memory queues, twice for the garbage
	// collector's headroom (GOGC 100), and slack for the runtime and the
	// publishers' bodies
	bound := int64(2*(2*rdy*msgSize+2*memQueue*msgSize) + 48<<20)
	t.Logf("published %d messages (%s) in %v; stuck consumer dropped after %v; VmRSS %s → peak %s (+%s, bound +%s); RssAnon %s → peak %s",
		published.Load(), mb(published.Load()*msgSize), time.Since(start).Round(time.Millisecond),
		dropped.Round(time.Millisecond), mb(base), mb(peak), mb(peak-base), mb(bound), mb(baseAnon), mb(peakAnon))
	if dropped == 0 {
		t.Fatal("the consumer that never reads was still subscribed after 10s")
	}
	if dropped > 3500*time.Millisecond {
		t.Fatalf("consumer dropped after %v, want within 1–2 heartbeat intervals (1s) of the stall", dropped)
	}
	if peak-base > bound {
		t.Fatalf("VmRSS grew by %s during the flood, want at most %s", mb(peak-base), mb(bound))
	}
	if n := published.Load() * msgSize; n < 2*bound {
		t.Logf("note: the flood (%s) was less than twice the RSS bound", mb(n))
	}
	if !waitUntil(5*time.Second, func() bool { _, inFlight, _ := channelStats(t, d, topic, channel); return inFlight == 0 }) {
		t.Fatal("the dropped consumer's messages are still in flight after 5s, want them requeued")
	}
	if rt := roundTrip(t, d, "flood_after"); rt > time.Second {
		t.Fatalf("round trip after the flood took %v", rt)
	}
}

// dialSmallRcvBuf connects with a 4 KiB receive buffer (set before the
// handshake, so the window stays small) and sends the magic.
func dialSmallRcvBuf(t *testing.T, addr string) *testutil.RawConn {
	t.Helper()
	dialer := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c := testutil.DialNoMagic(t, addr) // a RawConn, given our own socket below
	c.Conn.Close()
	conn, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	c.Conn = conn
	c.Write(t, []byte(testutil.Magic))
	return c
}

// Peers that go away without a word.
func TestHalfOpen(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		base := sockets(t, d)

		// A consumer that falls silent (no commands, no FIN: the peer
		// vanished) is closed by the read deadline, 2 × heartbeat, and its
		// in-flight message goes to the next consumer: at once with ours
		// (DELIBERATE DIFFERENCE (1) of test/compat), at its 4 s message
		// timeout with upstream (spec §4.8).
		silent := testutil.Dial(t, d.TCPAddr)
		silent.Identify(t, `{"heartbeat_interval":1000,"msg_timeout":4000}`)
		silent.Sub(t, "ho", "c")
		silent.Rdy(t, 1)
		start := time.Now() // its last command: the read deadline runs from here
		p := testutil.Dial(t, d.TCPAddr)
		p.Pub(t, "ho", []byte("held by a vanished peer"))
		m := silent.ExpectMessage(t)
		silent.ExpectClosedWithin(t, 4*time.Second) // reading sends nothing
		closed := time.Since(start)
		next := consume(t, d, "ho", "c", 1)
		m2 := next.ExpectMessage(t)
		requeued := time.Since(start)
		if m2.ID != m.ID || m2.Attempts != 2 {
			t.Fatalf("got %q attempt %d, want the vanished peer's message again (attempt 2)", m2.Body, m2.Attempts)
		}
		t.Logf("silent consumer closed after %v, its message redelivered after %v", closed, requeued)
		if closed < 1500*time.Millisecond || closed > 3*time.Second {
			t.Fatalf("silent consumer closed after %v, want about 2s (2 × heartbeat 1s)", closed)
		}
		if impl.Ours && requeued > closed+time.Second {
			t.Fatalf("redelivered %v after the close, want at once", requeued-closed)
		}
		next.Fin(t, m2.ID)

		// Half-close: the peer sends PUB and shuts its write side. The PUB
		// is answered, then the daemon closes.
		hc := testutil.Dial(t, d.TCPAddr)
		hc.Write(t, pubFrame("ho", []byte("half-closed")))
		hc.Conn.(*net.TCPConn).CloseWrite()
		hc.ExpectResponse(t, "OK")
		hc.ExpectClosedWithin(t, 2*time.Second)
		if m := next.ExpectMessage(t); string(m.Body) != "half-closed" {
			t.Fatalf("got %q, want the half-closed peer's message", m.Body)
		} else {
			next.Fin(t, m.ID)
		}

		// A consumer that half-closes with a message in flight: closed, and
		// its message requeued (ours at once, upstream at its 1 s timeout).
		next.Close() // the only consumer while the message goes out
		hcSub := testutil.Dial(t, d.TCPAddr)
		hcSub.Identify(t, `{"msg_timeout":1000}`) // upstream requeues at the timeout
		hcSub.Sub(t, "ho", "c")
		hcSub.Rdy(t, 1)
		p.Pub(t, "ho", []byte("in flight at half-close"))
		m = hcSub.ExpectMessage(t)
		next = consume(t, d, "ho", "c", 1)
		hcSub.Conn.(*net.TCPConn).CloseWrite()
		hcSub.ExpectClosedWithin(t, 2*time.Second)
		if m2 := next.ExpectMessage(t); m2.ID != m.ID {
			t.Fatalf("got %q, want the half-closed consumer's message", m2.Body)
		} else {
			next.Fin(t, m2.ID)
		}

		// 200 connections that never send the magic hold a descriptor each
		// (upstream never times them out) and nothing else; others are
		// served, and closing them frees every descriptor.
		var idle []net.Conn
		for range 200 {
			idle = append(idle, dialRaw(t, d.TCPAddr))
		}
		if !waitUntil(3*time.Second, func() bool { return sockets(t, d) >= base+200 }) {
			t.Fatalf("daemon holds %d sockets, want ≥ %d with 200 idle connections", sockets(t, d), base+200)
		}
		if rt := roundTrip(t, d, "ho_rt"); rt > time.Second {
			t.Fatalf("round trip with 200 idle connections took %v", rt)
		}
		for _, c := range idle {
			c.Close()
		}
		for _, c := range []*testutil.RawConn{silent, p, next} {
			c.Close()
		}
		if !waitUntil(3*time.Second, func() bool { return sockets(t, d) <= base }) {
			t.Fatalf("daemon holds %d sockets after every test connection closed, want ≤ %d as before", sockets(t, d), base)
		}
	})
}

// Connections that vanish mid-frame (inside the command line, the size or
// the body; closed with FIN or reset) leave nothing behind: no partial or
// truncated message is ever published, and every descriptor is released.
func TestVanishMidFrame(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		sub := consume(t, d, "cut", "c", 100)
		base := sockets(t, d)
		frames := map[string][]byte{
			"PUB":      pubFrame("cut", []byte("0123456789")),
			"DPUB":     bodyFrame("DPUB cut 10", []byte("deferred")),
			"MPUB":     bodyFrame("MPUB cut", testutil.MPUBBody([]byte("aaaa"), []byte("bbbb"), []byte("cccc"))),
			"IDENTIFY": bodyFrame("IDENTIFY", []byte(`{"client_id":"x"}`)),
		}
		cuts := 0
		for name, f := range frames {
			for cut := 1; cut < len(f); cut++ {
				for _, reset := range []bool{false, true} {
					c := dialRaw(t, d.TCPAddr)
					if _, err := c.Write(append([]byte(testutil.Magic), f[:cut]...)); err != nil {
						t.Fatalf("%s cut at %d: %v", name, cut, err)
					}
					if reset {
						c.SetLinger(0)
					}
					c.Close()
					cuts++
				}
			}
		}
		p := testutil.Dial(t, d.TCPAddr)
		p.Pub(t, "cut", []byte("sentinel"))
		if m := sub.ExpectMessage(t); string(m.Body) != "sentinel" {
			t.Fatalf("after %d cut frames got %q, want only the sentinel", cuts, m.Body)
		}
		sub.ExpectNoFrame(t, 200*time.Millisecond) // not even the 10 ms DPUB
		p.Close()
		if !waitUntil(3*time.Second, func() bool { return sockets(t, d) <= base }) {
			t.Fatalf("daemon holds %d sockets after %d cut connections, want ≤ %d", sockets(t, d), cuts, base)
		}
		t.Logf("%d connections cut mid-frame", cuts)

		// A consumer reset in the middle of receiving a burst: every
		// message reaches the next consumer (upstream: at the timeout).
		const n = 300
		gone := dialRaw(t, d.TCPAddr)
		gone.Write(append(append([]byte(testutil.Magic), bodyFrame("IDENTIFY", []byte(`{"msg_timeout":1000}`))...),
			"SUB burst c\nRDY 100\n"...))
		pub := testutil.Dial(t, d.TCPAddr)
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = fmt.Appendf(nil, "burst-%03d-%s", i, make([]byte, 500))
		}
		pub.MPUB(t, "burst", bodies...)
		pub.ExpectResponse(t, "OK")
		buf := make([]byte, 7000) // part of the burst, ending mid-frame
		gone.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(gone, buf); err != nil {
			t.Fatalf("reading the burst: %v", err)
		}
		gone.SetLinger(0)
		gone.Close()
		next := consume(t, d, "burst", "c", n)
		seen := map[string]bool{}
		for len(seen) < n {
			m := next.ExpectMessage(t)
			seen[string(m.Body[:9])] = true
			next.Fin(t, m.ID)
		}
	})
}

// Thousands of RDY changes while messages flow: no message is lost or
// duplicated, no error is sent, and the connection stays usable.
func TestRDYStorm(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		const (
			n      = 3000
			storms = 20000
		)
		d := impl.Start(t)
		c := testutil.Dial(t, d.TCPAddr)
		c.Sub(t, "storm", "c")
		p := testutil.Dial(t, d.TCPAddr)
		go func() {
			bodies := make([][]byte, 100)
			for b := 0; b < n/100; b++ {
				for i := range bodies {
					bodies[i] = fmt.Appendf(nil, "m%05d", b*100+i)
				}
				if p.TryWrite(bodyFrame("MPUB storm", testutil.MPUBBody(bodies...))) != nil {
					return
				}
				if _, _, err := p.ReadFrame(); err != nil {
					return
				}
			}
		}()
		stormDone := make(chan error, 1)
		go func() {
			rng := rand.New(rand.NewPCG(1, 2))
			var b []byte
			for i := 1; i <= storms; i++ {
				b = fmt.Appendf(b, "RDY %d\n", rng.IntN(2501))
				if i%100 == 0 {
					if _, err := c.Conn.Write(b); err != nil {
						stormDone <- err
						return
					}
					b = b[:0]
					time.Sleep(time.Millisecond)
				}
			}
			_, err := c.Conn.Write([]byte("RDY 0\n"))
			stormDone <- err
		}()
		seen := map[string]int{}
		var stormErr error
		storming := true
		deadline := time.Now().Add(20 * time.Second)
		for len(seen) < n && time.Now().Before(deadline) {
			if storming {
				select {
				case stormErr = <-stormDone:
					storming = false
					if stormErr != nil {
						t.Fatalf("RDY storm: %v", stormErr)
					}
					c.Conn.Write([]byte("RDY 2500\n"))
				default:
				}
			}
			ft, payload, err := c.TryNext(100 * time.Millisecond)
			if err != nil {
				if testutil.IsClosedErr(err) {
					t.Fatalf("connection closed during the RDY storm after %d messages", len(seen))
				}
				continue
			}
			if ft != testutil.FrameMessage {
				t.Fatalf("got %s %q during the RDY storm, want only messages", testutil.FrameTypeName(ft), payload)
			}
			m, _ := testutil.DecodeMessage(payload)
			seen[string(m.Body)]++
			c.Conn.Write([]byte("FIN " + m.ID.String() + "\n"))
		}
		dups := 0
		for _, k := range seen {
			dups += k - 1
		}
		if len(seen) != n || dups != 0 {
			t.Fatalf("after %d RDY changes: %d distinct messages of %d, %d duplicates", storms, len(seen), n, dups)
		}
		c.ExpectAlive(t)
	})
}

// FIN, REQ and TOUCH of IDs the connection does not own (in flight on
// another connection, on another channel, unknown, not even hex) fail with
// the non-fatal errors of spec §1.6.5–§1.6.7, byte for byte, also in a burst
// of a thousand; the owner is not disturbed.
func TestForeignIDs(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		owner := consume(t, d, "fid", "c", 1)
		other := consume(t, d, "fid", "other", 0)
		p := testutil.Dial(t, d.TCPAddr)
		p.Pub(t, "fid", []byte("owned"))
		m := owner.ExpectMessage(t)
		thief := consume(t, d, "fid", "c", 0)
		id := m.ID.String()
		for _, tc := range []struct {
			c       *testutil.RawConn
			id, why string
		}{
			{thief, id, "client does not own message"},
			{other, id, "ID not in flight"},
			{thief, "0123456789abcdef", "ID not in flight"},
			{thief, "zzzzzzzzzzzzzzzz", "ID not in flight"},
		} {
			tc.c.Command(t, "FIN "+tc.id)
			tc.c.ExpectError(t, "E_FIN_FAILED FIN "+tc.id+" failed "+tc.why)
			tc.c.Command(t, "REQ "+tc.id+" 0")
			tc.c.ExpectError(t, "E_REQ_FAILED REQ "+tc.id+" failed "+tc.why)
			tc.c.Command(t, "TOUCH "+tc.id)
			tc.c.ExpectError(t, "E_TOUCH_FAILED TOUCH "+tc.id+" failed "+tc.why)
		}
		var burst []byte
		for i := range 1000 {
			burst = fmt.Appendf(burst, "FIN %016x\n", i)
		}
		thief.Write(t, burst)
		for i := range 1000 {
			thief.ExpectError(t, fmt.Sprintf("E_FIN_FAILED FIN %016x failed ID not in flight", i))
		}
		thief.ExpectAlive(t)
		// the owner still owns it: its FIN frees the RDY slot for the next
		owner.Fin(t, m.ID)
		p.Pub(t, "fid", []byte("next"))
		if m := owner.ExpectMessage(t); string(m.Body) != "next" {
			t.Fatalf("got %q, want the next message", m.Body)
		} else {
			owner.Fin(t, m.ID)
		}
		thief.Rdy(t, 1)
		thief.ExpectNoFrame(t, 200*time.Millisecond)
	})
}
