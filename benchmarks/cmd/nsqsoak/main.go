// Command nsqsoak runs mixed load against one nsqd-compatible daemon for a long time and checks
// that its memory and goroutines stay flat (issue #8). It starts the daemon itself (loopback,
// ports from the OS, a fresh data directory), then runs, all at once:
//
//   - publishers at a fixed total rate: PUB, MPUB (10 bodies) and DPUB (0-1 s) in turns;
//   - consumers on two channels (RDY 100): FIN most messages, REQ some (0-500 ms), TOUCH a few;
//   - an HTTP publisher (/pub and /mpub, 20 requests/s);
//   - connection churn (40 connect/disconnect cycles/s of several kinds);
//   - an ephemeral-channel consumer that comes and goes every 5 s.
//
// Every -interval it samples the daemon's VmRSS and RssAnon (/proc/<pid>/status), open file
// descriptors (/proc/<pid>/fd), goroutines (/debug/pprof/goroutine?debug=1) and channel depths
// (/stats), and prints a line. After -warmup, the mean of the last three samples is compared
// with the mean of the three samples ending the warm-up: it fails (exit 1) if VmRSS or the
// goroutine count grew more than -growth (default 10 %), if the backlog grew without bound, if a
// client saw a protocol error, or if the daemon died. The daemon gets SIGTERM at the end and must
// exit within 10 s.
//
//	nsqsoak -bin ./nsqd -duration 10m
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"nsqreactor/benchmarks/bench"
	"nsqreactor/benchmarks/wire"
)

type config struct {
	bin      string
	args     string
	duration time.Duration
	warmup   time.Duration
	interval time.Duration
	rate     int
	growth   float64
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "nsqd-compatible binary to soak (required)")
	flag.StringVar(&cfg.args, "args", "", "extra daemon flags, space-separated")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Minute, "total load time")
	flag.DurationVar(&cfg.warmup, "warmup", 0, "warm-up before the baseline (default: a fifth of -duration, at most 2m, at least 3 intervals)")
	flag.DurationVar(&cfg.interval, "interval", 10*time.Second, "sampling interval")
	flag.IntVar(&cfg.rate, "rate", 5000, "messages published per second, all publishers together")
	flag.Float64Var(&cfg.growth, "growth", 0.10, "largest allowed growth of RSS and goroutines after warm-up")
	flag.Parse()
	if cfg.bin == "" {
		fmt.Fprintln(os.Stderr, "nsqsoak: -bin is required")
		os.Exit(2)
	}
	if cfg.warmup == 0 {
		cfg.warmup = max(min(cfg.duration/5, 2*time.Minute), 3*cfg.interval)
	}
	if cfg.warmup < 3*cfg.interval || cfg.duration < cfg.warmup+3*cfg.interval {
		fmt.Fprintln(os.Stderr, "nsqsoak: need at least 3 samples in the warm-up and 3 after it")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench.RaiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "nsqsoak: raising RLIMIT_NOFILE:", err)
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "nsqsoak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("nsqsoak: PASS")
}

// counters are the load's running totals.
type counters struct {
	published, consumed, requeued, touched, httpPubs, churned atomic.Int64
	errs                                                      atomic.Int64
	firstErr                                                  atomic.Value // string
}

func (c *counters) fail(format string, args ...any) {
	c.errs.Add(1)
	c.firstErr.CompareAndSwap(nil, fmt.Sprintf(format, args...))
}

type sample struct {
	at                time.Duration
	rss, anon         int64
	fds, goroutines   int
	depth, inFlight   int
	published, consum int64
}

func run(ctx context.Context, cfg config) error {
	args := strings.Fields(cfg.args)
	d, err := bench.StartDaemon(ctx, bench.DaemonOptions{Bin: cfg.bin, Args: args})
	if err != nil {
		return err
	}
	defer d.Stop()
	httpAddr := d.HTTPAddr(2 * time.Second)
	if httpAddr == "" {
		return errors.New("the daemon announced no HTTP listener")
	}
	fmt.Printf("nsqsoak: %s %s (pid %d, tcp %s, http %s) for %v, warm-up %v, %d msg/s\n",
		cfg.bin, cfg.args, d.Pid(), d.TCPAddr, httpAddr, cfg.duration, cfg.warmup, cfg.rate)

	loadCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var cnt counters
	var wg sync.WaitGroup
	spawn := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	for _, ch := range []string{"a", "b"} {
		for i := range 2 {
			spawn(func() { consumer(loadCtx, d.TCPAddr, ch, uint64(i), &cnt) })
		}
	}
	time.Sleep(200 * time.Millisecond) // channels exist before the first message
	const publishers = 2
	for i := range publishers {
		spawn(func() { publisher(loadCtx, d.TCPAddr, cfg.rate/publishers, uint64(i), &cnt) })
	}
	spawn(func() { httpPublisher(loadCtx, httpAddr, &cnt) })
	spawn(func() { churner(loadCtx, d.TCPAddr, &cnt) })
	spawn(func() { ephemeral(loadCtx, d.TCPAddr, &cnt) })

	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	var samples []sample
	fmt.Printf("%8s %10s %10s %6s %10s %8s %8s %12s %12s %6s\n",
		"time", "VmRSS", "RssAnon", "fds", "goroutines", "depth", "inflight", "published", "consumed", "errors")
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for loadCtx.Err() == nil {
		select {
		case <-loadCtx.Done():
			continue
		case <-tick.C:
		}
		if err := d.Alive(); err != nil {
			return err
		}
		s, err := takeSample(client, d.Pid(), httpAddr)
		if err != nil {
			return err
		}
		s.at = time.Since(start)
		s.published, s.consum = cnt.published.Load(), cnt.consumed.Load()
		samples = append(samples, s)
		fmt.Printf("%8v %10s %10s %6d %10d %8d %8d %12d %12d %6d\n", s.at.Round(time.Second), mib(s.rss), mib(s.anon),
			s.fds, s.goroutines, s.depth, s.inFlight, s.published, s.consum, cnt.errs.Load())
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	wg.Wait()
	fmt.Printf("totals: %d published (%d over HTTP requests), %d consumed, %d REQ, %d TOUCH, %d churn cycles, %d client errors\n",
		cnt.published.Load(), cnt.httpPubs.Load(), cnt.consumed.Load(), cnt.requeued.Load(), cnt.touched.Load(),
		cnt.churned.Load(), cnt.errs.Load())

	var problems []string
	if n := cnt.errs.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d client errors, first: %v", n, cnt.firstErr.Load()))
	}
	problems = append(problems, judge(cfg, samples)...)
	if err := d.Alive(); err != nil {
		return err
	}
	stopStart := time.Now()
	if err := syscall.Kill(d.Pid(), syscall.SIGTERM); err != nil {
		return err
	}
	for d.Alive() == nil && time.Since(stopStart) < 10*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if d.Alive() == nil {
		problems = append(problems, "still running 10s after SIGTERM")
	} else {
		fmt.Printf("SIGTERM to exit: %v\n", time.Since(stopStart).Round(time.Millisecond))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// judge compares the three samples ending the warm-up with the last three.
func judge(cfg config, samples []sample) []string {
	var base, end []sample
	for i, s := range samples {
		if s.at <= cfg.warmup+cfg.interval/2 {
			base = samples[max(0, i-2) : i+1]
		}
	}
	if len(samples) >= 3 {
		end = samples[len(samples)-3:]
	}
	if len(base) < 3 || len(end) < 3 || end[0].at <= base[2].at {
		return []string{fmt.Sprintf("too few samples (%d) to judge", len(samples))}
	}
	mean := func(ss []sample, f func(sample) float64) float64 {
		var t float64
		for _, s := range ss {
			t += f(s)
		}
		return t / float64(len(ss))
	}
	var problems []string
	const mb = 1 << 20
	for _, m := range []struct {
		name  string
		f     func(sample) float64
		slack float64 // absolute growth always allowed
	}{
		{"VmRSS MiB", func(s sample) float64 { return float64(s.rss) / mb }, 4},
		{"RssAnon MiB", func(s sample) float64 { return float64(s.anon) / mb }, 4},
		{"goroutines", func(s sample) float64 { return float64(s.goroutines) }, 5},
		{"fds", func(s sample) float64 { return float64(s.fds) }, 20},
	} {
		b, e := mean(base, m.f), mean(end, m.f)
		growth := (e - b) / b
		fmt.Printf("%-11s after warm-up %8.1f, at the end %8.1f: %+.1f%%\n", m.name, b, e, 100*growth)
		if growth > cfg.growth && e-b > m.slack {
			problems = append(problems, fmt.Sprintf("%s grew %.1f%% after warm-up (%.0f → %.0f)", m.name, 100*growth, b, e))
		}
	}
	if b, e := mean(base, func(s sample) float64 { return float64(s.depth) }), mean(end, func(s sample) float64 { return float64(s.depth) }); e > max(4*b, 50000) {
		problems = append(problems, fmt.Sprintf("backlog grew from %.0f to %.0f: the consumers fell behind", b, e))
	}
	return problems
}

func takeSample(client *http.Client, pid int, httpAddr string) (sample, error) {
	var s sample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rss = n << 10
		case "RssAnon":
			s.anon = n << 10
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(ents)
	body, err := get(client, "http://"+httpAddr+"/debug/pprof/goroutine?debug=1")
	if err != nil {
		return s, err
	}
	line, _, _ := bytes.Cut(body, []byte("\n"))
	if s.goroutines, err = strconv.Atoi(string(bytes.TrimPrefix(line, []byte("goroutine profile: total ")))); err != nil {
		return s, fmt.Errorf("goroutine profile: %q", line)
	}
	body, err = get(client, "http://"+httpAddr+"/stats?format=json&include_clients=false&topic=soak")
	if err != nil {
		return s, err
	}
	var st struct {
		Topics []struct {
			Channels []struct {
				Depth    int `json:"depth"`
				InFlight int `json:"in_flight_count"`
				Deferred int `json:"deferred_count"`
			} `json:"channels"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return s, fmt.Errorf("/stats: %w", err)
	}
	for _, t := range st.Topics {
		for _, c := range t.Channels {
			s.depth += c.Depth + c.Deferred
			s.inFlight += c.InFlight
		}
	}
	return s, nil
}

func get(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func mib(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }

// publisher publishes to topic "soak" at rate messages/s: PUB, MPUB of 10, DPUB in turns,
// each answered before the next (the daemon's answer paces it too).
func publisher(ctx context.Context, addr string, rate int, seed uint64, cnt *counters) {
	c, err := wire.Dial(ctx, addr, 0)
	if err != nil {
		cnt.fail("publisher: %v", err)
		return
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(seed, 1))
	body := bytes.Repeat([]byte("s"), 256)
	bodies := make([][]byte, 10)
	for i := range bodies {
		bodies[i] = body
	}
	start := time.Now()
	var sent int64
	var buf []byte
	for i := 0; ctx.Err() == nil; i++ {
		// pace: sent messages may not run ahead of rate × elapsed
		if ahead := time.Duration(float64(sent)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(ahead):
			}
		}
		n := 1
		switch i % 3 {
		case 0:
			buf = wire.AppendPub(buf[:0], "soak", body)
		case 1:
			buf, n = wire.AppendMpub(buf[:0], "soak", bodies), len(bodies)
		case 2:
			buf = fmt.Appendf(buf[:0], "DPUB soak %d\n", rng.IntN(1000))
			buf = append(buf, 0, 0, 1, 0) // 256
			buf = append(buf, body...)
		}
		if err := c.Write(buf); err != nil {
			if ctx.Err() == nil {
				cnt.fail("publisher: %v", err)
			}
			return
		}
		if err := c.ExpectOK(); err != nil {
			if ctx.Err() == nil {
				cnt.fail("publisher: %v", err)
			}
			return
		}
		sent += int64(n)
		cnt.published.Add(int64(n))
	}
}

// consumer consumes soak/<channel> with RDY 100: FIN for most, REQ 0-500 ms for 3 %, TOUCH
// then FIN for 1 %.
func consumer(ctx context.Context, addr, channel string, seed uint64, cnt *counters) {
	c, err := wire.Dial(ctx, addr, 0)
	if err != nil {
		cnt.fail("consumer: %v", err)
		return
	}
	defer c.Close()
	err = c.Identify()
	if err == nil {
		err = c.Subscribe("soak", channel, 100)
	}
	if err != nil {
		cnt.fail("consumer: %v", err)
		return
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	var out []byte
	for ctx.Err() == nil {
		typ, data, err := c.ReadFrame()
		if err != nil {
			if ctx.Err() == nil {
				cnt.fail("consumer %s: %v", channel, err)
			}
			return
		}
		switch typ {
		case wire.FrameTypeResponse:
			if wire.IsHeartbeat(data) {
				out = wire.AppendNop(out)
			}
		case wire.FrameTypeError:
			cnt.fail("consumer %s: error frame %q", channel, data)
			return
		case wire.FrameTypeMessage:
			_, _, id, _, err := wire.ParseMessage(data)
			if err != nil {
				cnt.fail("consumer %s: %v", channel, err)
				return
			}
			switch r := rng.IntN(100); {
			case r < 3:
				out = fmt.Appendf(out, "REQ %s %d\n", id, rng.IntN(500))
				cnt.requeued.Add(1)
			case r < 4:
				out = fmt.Appendf(out, "TOUCH %s\n", id)
				out = wire.AppendFin(out, id)
				cnt.touched.Add(1)
				cnt.consumed.Add(1)
			default:
				out = wire.AppendFin(out, id)
				cnt.consumed.Add(1)
			}
		}
		if c.Buffered() == 0 && len(out) > 0 { // about to block: send the batch
			if err := c.Write(out); err != nil {
				if ctx.Err() == nil {
					cnt.fail("consumer %s: %v", channel, err)
				}
				return
			}
			out = out[:0]
		}
	}
}

// httpPublisher posts to /pub and /mpub, 20 requests/s.
func httpPublisher(ctx context.Context, addr string, cnt *counters) {
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		url, body, n := "http://"+addr+"/pub?topic=soak", "over http", 1
		if i%2 == 1 {
			url, body, n = "http://"+addr+"/mpub?topic=soak", "one\ntwo\nthree\n", 3
		}
		resp, err := client.Post(url, "text/plain", strings.NewReader(body))
		if err != nil {
			if ctx.Err() == nil {
				cnt.fail("http publisher: %v", err)
			}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "OK" {
			cnt.fail("http publisher: %d %q", resp.StatusCode, b)
			return
		}
		cnt.httpPubs.Add(1)
		cnt.published.Add(int64(n))
	}
}

// churner runs 40 connect/disconnect cycles per second: bare connect, magic then reset, PUB
// then close, SUB soak/churn#ephemeral with RDY then reset.
func churner(ctx context.Context, addr string, cnt *counters) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := churnOnce(addr, i); err != nil {
			if ctx.Err() == nil {
				cnt.fail("churn: %v", err)
			}
			return
		}
		cnt.churned.Add(1)
		if i%4 == 2 {
			cnt.published.Add(1)
		}
	}
}

func churnOnce(addr string, i int) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	tc := nc.(*net.TCPConn)
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	switch i % 4 {
	case 0:
		return nil
	case 1:
		_, err = tc.Write(wire.MagicV2)
		tc.SetLinger(0)
	case 2:
		if _, err = tc.Write(wire.AppendPub(append([]byte(nil), wire.MagicV2...), "soak", []byte("churn"))); err == nil {
			var ok [10]byte
			if _, err = io.ReadFull(tc, ok[:]); err == nil && !bytes.HasSuffix(ok[:], []byte("OK")) {
				err = fmt.Errorf("churn PUB: got %q", ok)
			}
		}
	case 3:
		b := append([]byte(nil), wire.MagicV2...)
		b = wire.AppendRdy(wire.AppendSub(b, "soak", "churn#ephemeral"), 10)
		_, err = tc.Write(b)
		time.Sleep(5 * time.Millisecond)
		tc.SetLinger(0)
	}
	return err
}

// ephemeral subscribes soak/eph#ephemeral for 5 s at a time, FINing what it gets, so the
// ephemeral channel is created and deleted over and over.
func ephemeral(ctx context.Context, addr string, cnt *counters) {
	for ctx.Err() == nil {
		func() {
			// the connection ends with this context: after 5 s, or with the load
			life, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			c, err := wire.Dial(life, addr, 0)
			if err != nil {
				if ctx.Err() == nil {
					cnt.fail("ephemeral: %v", err)
				}
				return
			}
			defer c.Close()
			if err := c.Subscribe("soak", "eph#ephemeral", 50); err != nil {
				if ctx.Err() == nil {
					cnt.fail("ephemeral: %v", err)
				}
				return
			}
			for {
				typ, data, err := c.ReadFrame()
				if err != nil {
					return // the 5 s are over (or the load ended)
				}
				if typ == wire.FrameTypeMessage {
					_, _, id, _, _ := wire.ParseMessage(data)
					if err := c.Write(wire.AppendFin(nil, id)); err != nil {
						return
					}
				}
			}
		}()
	}
}
