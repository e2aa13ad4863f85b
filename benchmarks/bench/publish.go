package bench

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"nsqreactor/benchmarks/wire"
)

// mpubLoad publishes one prebuilt MPUB over and over from one or more connections, with up to
// window commands in flight per connection, until a deadline or a message budget runs out.
// Every OK is counted; any other answer fails the load.
type mpubLoad struct {
	addr     string
	cmd      []byte // one MPUB command, batch messages
	batch    int
	window   int
	deadline time.Time
	budget   atomic.Int64 // messages still allowed
}

func newMpubLoad(e *Env, topic string, deadline time.Time, maxMessages int64) *mpubLoad {
	l := &mpubLoad{addr: e.Target.TCPAddr, batch: e.Cfg.BatchSize, window: e.Cfg.PubWindow, deadline: deadline}
	l.cmd = wire.AppendMpub(nil, topic, messageBodies(e.Cfg.BatchSize, e.Cfg.MsgSize))
	l.budget.Store(maxMessages)
	return l
}

// messageBodies returns n bodies of size bytes: printable, no newlines (so they are valid for
// HTTP /mpub's text mode too).
func messageBodies(n, size int) [][]byte {
	body := bytes.Repeat([]byte("m"), size)
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = body
	}
	return bodies
}

// run publishes from conns connections and returns the messages acknowledged and the time from
// the start to the last acknowledgement.
func (l *mpubLoad) run(ctx context.Context, conns int) (int64, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var (
		wg      sync.WaitGroup
		total   atomic.Int64
		lastAck atomic.Int64 // ns since start
		errOnce sync.Once
		first   error
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := l.runConn(ctx, start, &lastAck)
			total.Add(n)
			if err != nil {
				errOnce.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return total.Load(), time.Duration(lastAck.Load()), first
}

// runConn drives one connection. The writer hands the reader one token per MPUB (through a
// channel whose capacity is the window) and closes it when done, so the reader knows exactly
// how many answers to wait for.
func (l *mpubLoad) runConn(ctx context.Context, start time.Time, lastAck *atomic.Int64) (int64, error) {
	c, err := wire.Dial(ctx, l.addr, 0)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	pending := make(chan struct{}, l.window)
	var acked int64
	readErr := make(chan error, 1)
	go func() {
		for range pending {
			if err := c.ExpectOK(); err != nil {
				readErr <- fmt.Errorf("MPUB: %w", err)
				return
			}
			acked += int64(l.batch)
			storeMax(lastAck, int64(time.Since(start)))
		}
		readErr <- nil
	}()
	var werr error
	for time.Now().Before(l.deadline) && l.budget.Add(-int64(l.batch)) >= 0 {
		select {
		case pending <- struct{}{}:
		case err := <-readErr: // the reader failed; stop writing
			readErr <- err
			werr = err
		}
		if werr != nil {
			break
		}
		if werr = c.Write(l.cmd); werr != nil {
			break
		}
	}
	close(pending)
	rerr := <-readErr
	if rerr != nil {
		return acked, rerr
	}
	return acked, werr
}

func storeMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// runPub is the pub scenario (and disk/pub): MPUB batches as fast as the daemon acknowledges
// them, into a topic with no channel, which keeps them in memory up to --mem-queue-size and on
// disk past it (see Cases for the flag each case sets).
func runPub(e *Env, conns int) error {
	w, err := e.Start()
	if err != nil {
		return err
	}
	l := newMpubLoad(e, "bench_pub", time.Now().Add(e.Cfg.Duration), e.Cfg.MaxMessages)
	msgs, elapsed, err := l.run(e.Ctx, conns)
	if err != nil {
		return err
	}
	st, err := w.Stop()
	if err != nil {
		return err
	}
	if msgs == 0 {
		return fmt.Errorf("pub: no message acknowledged in %v", e.Cfg.Duration)
	}
	e.Add("msg/s", UnitMsgPerSec, HigherBetter, rate(msgs, elapsed))
	e.Add("MB/s", UnitMBPerSec, HigherBetter, rate(msgs*int64(e.Cfg.MsgSize), elapsed)/1e6)
	e.AddCPU(st, msgs)
	return nil
}
