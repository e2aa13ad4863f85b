package compat

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"nsqreactor/internal/testutil"
)

// nsqLog collects go-nsq's log lines; they are written to the test log if
// the test fails (go-nsq may log after the test ends, so never to t directly).
type nsqLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *nsqLog) Output(_ int, s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	return nil
}

func (l *nsqLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// errorLine matches go-nsq error-level lines and protocol error codes.
var errorLine = regexp.MustCompile(`(?m)^ERR |(^|[^A-Z])E_[A-Z]`)

// sawError reports whether go-nsq logged an error or an error frame.
func (l *nsqLog) sawError() bool { return errorLine.MatchString(l.String()) }

// newLog returns a go-nsq logger dumped to t.Log if t fails.
func newLog(t *testing.T) *nsqLog {
	l := &nsqLog{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("go-nsq log:\n%s", l)
		}
	})
	return l
}

// newProducer returns a go-nsq Producer for d, stopped in t.Cleanup.
func newProducer(t *testing.T, d *testutil.Daemon, cfg *nsq.Config, log *nsqLog) *nsq.Producer {
	t.Helper()
	if cfg == nil {
		cfg = nsq.NewConfig()
	}
	p, err := nsq.NewProducer(d.TCPAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLogger(log, nsq.LogLevelDebug)
	t.Cleanup(p.Stop)
	return p
}

// received is a thread-safe record of the messages a go-nsq handler saw.
type received struct {
	mu     sync.Mutex
	bodies []string
	more   chan struct{} // signalled on every message
}

func newReceived() *received { return &received{more: make(chan struct{}, 1)} }

func (r *received) add(m *nsq.Message) {
	r.mu.Lock()
	r.bodies = append(r.bodies, string(m.Body))
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// await waits until n messages arrived (bounded) and returns them sorted.
func (r *received) await(t *testing.T, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		got := slices.Clone(r.bodies)
		r.mu.Unlock()
		if len(got) >= n {
			slices.Sort(got)
			return got
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("received %d of %d messages within %s", len(got), n, timeout)
		}
	}
}

// startConsumer connects a go-nsq Consumer with handler to d and stops it
// (bounded) in t.Cleanup.
func startConsumer(t *testing.T, d *testutil.Daemon, topic, channel string, cfg *nsq.Config, log *nsqLog, concurrency int, handler nsq.HandlerFunc) *nsq.Consumer {
	t.Helper()
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLogger(log, nsq.LogLevelDebug)
	c.AddConcurrentHandlers(handler, concurrency)
	if err := c.ConnectToNSQD(d.TCPAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		select {
		case <-c.StopChan:
		case <-time.After(testutil.DefaultTimeout):
			t.Errorf("go-nsq consumer did not stop within %s", testutil.DefaultTimeout)
		}
	})
	return c
}

// Spec §9.1: go-nsq's Producer works unchanged: Publish, MultiPublish,
// DeferredPublish, the async variants and Ping.
func TestGoNSQProducer(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "prod")
		c := subscriber(t, d, "", topic, "c")
		c.Rdy(t, 100)
		p := newProducer(t, d, nil, newLog(t))

		if err := p.Ping(); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		start := time.Now()
		if err := p.DeferredPublish(topic, 500*time.Millisecond, []byte("deferred")); err != nil {
			t.Fatalf("DeferredPublish: %v", err)
		}
		want := []string{"deferred", "single"}
		if err := p.Publish(topic, []byte("single")); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		multi := bodies("multi", 10)
		want = append(want, multi...)
		if err := p.MultiPublish(topic, bytesOf(multi)); err != nil {
			t.Fatalf("MultiPublish: %v", err)
		}
		done := make(chan *nsq.ProducerTransaction, 3)
		p.PublishAsync(topic, []byte("async"), done)
		p.MultiPublishAsync(topic, [][]byte{[]byte("masync1"), []byte("masync2")}, done)
		p.DeferredPublishAsync(topic, 0, []byte("dasync"), done)
		want = append(want, "async", "masync1", "masync2", "dasync")
		for range 3 {
			select {
			case tr := <-done:
				if tr.Error != nil {
					t.Fatalf("async publish: %v", tr.Error)
				}
			case <-time.After(testutil.DefaultTimeout):
				t.Fatal("async publish did not complete")
			}
		}

		var got []string
		c.Timeout = 10 * time.Second
		for range want {
			m := c.ExpectMessage(t)
			if string(m.Body) == "deferred" && time.Since(start) < 500*time.Millisecond {
				t.Fatalf("deferred message delivered after %s, want >= 500ms", time.Since(start))
			}
			got = append(got, string(m.Body))
			c.Fin(t, m.ID)
		}
		slices.Sort(got)
		if slices.Sort(want); !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// Spec §9.1: a fatal error reaches the go-nsq caller as that publish's error
// (one response per command, in order); the next publish reconnects.
func TestGoNSQProducerErrorAndReconnect(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-msg-size=100")
		topic := uniq(t, "perr")
		p := newProducer(t, d, nil, newLog(t))
		if err := p.Publish(topic, []byte("first")); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		err := p.Publish(topic, make([]byte, 101))
		var perr nsq.ErrProtocol
		if !errors.As(err, &perr) || perr.Reason != "E_BAD_MESSAGE PUB message too big 101 > 100" {
			t.Fatalf("got error %v, want E_BAD_MESSAGE PUB message too big 101 > 100", err)
		}
		// go-nsq's own close races the server's; retry briefly until it reconnects.
		deadline := time.Now().Add(testutil.DefaultTimeout)
		for {
			err := p.Publish(topic, []byte("after"))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Publish after a fatal error: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// Spec §9.1: a go-nsq Consumer with MaxInFlight > 1 and concurrent handlers
// gets every message exactly once, with each compression option. (go-nsq
// silently runs uncompressed if the server declines; that the server agrees
// and switches layers is asserted by TestCompressionUpgrade.)
func TestGoNSQConsumer(t *testing.T) {
	t.Parallel()
	for _, compression := range []string{"none", "snappy", "deflate"} {
		t.Run(compression, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
				d := impl.Start(t)
				topic := uniq(t, "cons")
				cfg := nsq.NewConfig()
				cfg.MaxInFlight = 16
				cfg.Snappy = compression == "snappy"
				cfg.Deflate = compression == "deflate"
				log := newLog(t)
				got := newReceived()
				startConsumer(t, d, topic, "c", cfg, log, 4, func(m *nsq.Message) error {
					got.add(m)
					return nil
				})
				p := newProducer(t, d, cfg, log)
				want := bodies("m", 200)
				if err := p.MultiPublish(topic, bytesOf(want[:100])); err != nil {
					t.Fatal(err)
				}
				for _, b := range want[100:] {
					if err := p.Publish(topic, []byte(b)); err != nil {
						t.Fatal(err)
					}
				}
				all := got.await(t, len(want), 10*time.Second)
				if slices.Sort(want); !slices.Equal(all, want) {
					t.Fatalf("got %d messages %q, want each of %d exactly once", len(all), all, len(want))
				}
				time.Sleep(300 * time.Millisecond) // no duplicates trickle in
				if n := got.count(); n != len(want) {
					t.Fatalf("got %d messages, want %d", n, len(want))
				}
				if log.sawError() {
					t.Fatalf("go-nsq logged an error:\n%s", log)
				}
			})
		})
	}
}

// Spec §9.1: a handler error makes go-nsq REQ the message; it comes back
// with attempts 2.
func TestGoNSQRequeue(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "greq")
		cfg := nsq.NewConfig()
		cfg.DefaultRequeueDelay = 0
		cfg.MaxBackoffDuration = 0
		attempts := make(chan uint16, 10)
		startConsumer(t, d, topic, "c", cfg, newLog(t), 1, func(m *nsq.Message) error {
			attempts <- m.Attempts
			if m.Attempts == 1 {
				return fmt.Errorf("fail the first attempt")
			}
			return nil
		})
		if err := newProducer(t, d, nil, newLog(t)).Publish(topic, []byte("retry me")); err != nil {
			t.Fatal(err)
		}
		for _, want := range []uint16{1, 2} {
			select {
			case got := <-attempts:
				if got != want {
					t.Fatalf("got attempts %d, want %d", got, want)
				}
			case <-time.After(testutil.DefaultTimeout):
				t.Fatalf("no delivery with attempts %d", want)
			}
		}
		select {
		case got := <-attempts:
			t.Fatalf("unexpected delivery with attempts %d after FIN", got)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// Spec §2.4 / §9.1: Consumer.Stop sends CLS, waits for CLOSE_WAIT, lets
// in-flight handlers finish (their FINs still work) and closes, promptly.
func TestGoNSQConsumerStop(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "stop")
		cfg := nsq.NewConfig()
		cfg.MaxInFlight = 5
		log := newLog(t)
		started := make(chan struct{}, 10)
		release := make(chan struct{})
		got := newReceived()
		c := startConsumer(t, d, topic, "c", cfg, log, 5, func(m *nsq.Message) error {
			started <- struct{}{}
			<-release
			got.add(m)
			return nil
		})
		publish(t, d, topic, bodies("m", 3)...)
		for range 3 {
			select {
			case <-started:
			case <-time.After(testutil.DefaultTimeout):
				t.Fatal("handlers did not start")
			}
		}
		c.Stop()
		time.Sleep(100 * time.Millisecond) // CLS and CLOSE_WAIT while handlers hold 3 messages
		close(release)
		select {
		case <-c.StopChan:
		case <-time.After(testutil.DefaultTimeout):
			t.Fatalf("consumer did not stop within %s", testutil.DefaultTimeout)
		}
		got.await(t, 3, time.Second)
		if log.sawError() || !strings.Contains(log.String(), "received CLOSE_WAIT") {
			t.Fatalf("want a clean CLS/CLOSE_WAIT exchange, go-nsq logged:\n%s", log)
		}
		// Everything was FINed: a new subscriber of the channel gets nothing.
		c2 := subscriber(t, d, "", topic, "c")
		c2.Rdy(t, 10)
		c2.ExpectNoFrame(t, 500*time.Millisecond)
	})
}
