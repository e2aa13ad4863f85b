package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"nsqreactor/benchmarks/wire"
)

// runE2E is the e2e scenario: one producer connection sends single PUBs at a fixed rate, each
// body starting with its send time; one consumer with RDY Config.E2ERDY FINs every message and
// records publish-to-delivery latency. After Config.Duration the producer stops and the consumer
// gets Config.E2EDrain to catch up; latencies include the drain. "delivered msg/s" counts only
// deliveries within the publishing window, so it is the rate when sustained and the daemon's
// delivery limit when not. The rate counts as sustained when at least 97% of the
// scheduled messages were sent and every sent message was delivered by the end of the drain.
func runE2E(e *Env, target int) error {
	const topic, channel = "bench_e2e", "e2e"
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	epoch := time.Now()
	h := newLatencyHistogram()
	c, err := dialConsumer(ctx, e.Target.TCPAddr, topic, channel, e.Cfg.E2ERDY, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	cs := &consumer{c: c, onBody: func(b []byte) {
		recordLatency(h, int64(time.Since(epoch))-int64(binary.BigEndian.Uint64(b)))
	}}
	consumed := make(chan error, 1)
	go func() { consumed <- cs.run(-1) }()
	p, err := startAcker(ctx, e.Target.TCPAddr)
	if err != nil {
		return err
	}
	defer p.c.Close()
	failed := func() error {
		select {
		case err := <-consumed:
			return fmt.Errorf("e2e: consumer stopped: %v", err)
		case err := <-p.failed:
			return fmt.Errorf("e2e: PUB: %w", err)
		default:
			return nil
		}
	}

	w, err := e.Start()
	if err != nil {
		return err
	}
	start := time.Now()
	sent, err := pacePubs(e, p, topic, target, epoch, failed)
	if err != nil {
		return err
	}
	pubElapsed := time.Since(start)
	inWindow := cs.got.Load()
	for end := time.Now().Add(e.Cfg.E2EDrain); (p.acked.Load() < sent || cs.got.Load() < sent) && time.Now().Before(end); {
		if err := failed(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	st, err := w.Stop()
	if err != nil {
		return err
	}
	cancel()
	if err := <-consumed; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("e2e: consumer: %w", err)
	}
	delivered := cs.got.Load()
	if delivered == 0 {
		return fmt.Errorf("e2e: none of %d messages delivered", sent)
	}
	sustained := float64(sent) >= 0.97*float64(target)*pubElapsed.Seconds() && delivered == sent
	e.Add("delivered msg/s", UnitMsgPerSec, HigherBetter, rate(inWindow, pubElapsed))
	e.Add("sustained", UnitYesNo, HigherBetter, boolValue(sustained))
	addPercentiles(e, h)
	e.AddCPU(st, delivered)
	return nil
}

// acker is a producer connection whose answers are read and counted on their own goroutine.
type acker struct {
	c      *wire.Conn
	acked  atomic.Int64
	failed chan error // receives the first read error or non-OK answer (cancellation included)
}

func startAcker(ctx context.Context, addr string) (*acker, error) {
	c, err := wire.Dial(ctx, addr, 0)
	if err != nil {
		return nil, err
	}
	return newAcker(c), nil
}

// newAcker starts counting the answers on c.
func newAcker(c *wire.Conn) *acker {
	a := &acker{c: c, failed: make(chan error, 1)}
	go func() {
		for {
			if err := c.ExpectOK(); err != nil {
				a.failed <- err
				return
			}
			a.acked.Add(1)
		}
	}()
	return a
}

// pacePubs sends PUBs at target msg/s for Config.Duration, each body starting with its send time
// in ns since epoch. It keeps at most a tenth of a second's messages unacknowledged: a daemon
// that falls further behind is not fed faster than it answers (and the rate is not sustained).
func pacePubs(e *Env, p *acker, topic string, target int, epoch time.Time, failed func() error) (int64, error) {
	body := make([]byte, max(e.Cfg.MsgSize, 8))
	for i := 8; i < len(body); i++ {
		body[i] = 'e'
	}
	window := int64(max(target/10, 1000))
	batch := make([]byte, 0, 64<<10)
	start := time.Now()
	var sent int64
	for {
		elapsed := time.Since(start)
		if elapsed >= e.Cfg.Duration {
			return sent, nil
		}
		due := int64(elapsed.Seconds() * float64(target))
		batch = batch[:0]
		for sent < due && sent-p.acked.Load() < window {
			binary.BigEndian.PutUint64(body, uint64(time.Since(epoch)))
			batch = wire.AppendPub(batch, topic, body)
			sent++
		}
		if len(batch) > 0 {
			if err := p.c.Write(batch); err != nil {
				return sent, err
			}
		}
		if err := failed(); err != nil {
			return sent, err
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
