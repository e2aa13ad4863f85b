package bench

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"nsqreactor/benchmarks/wire"
)

// dialWorkers is how many connections are set up at once.
const dialWorkers = 64

// runConnections is the connections scenario: n idle connections, each IDENTIFYed and
// subscribed with RDY 1 to an ephemeral channel of its own on one topic (as n nsq_tail-like
// clients would be), so that one PUB to the topic is delivered to every connection. It reports
// the daemon's RSS growth per connection, its thread count with all of them open, the daemon CPU
// their setup took, the time from the PUB to the first and last delivery, and the CPU the
// daemon and the harness spent on that delivery.
func runConnections(e *Env, n int) error {
	if err := checkFileLimits(e, n); err != nil {
		return err
	}
	const topic = "bench_conns"
	var before ProcStatus
	if e.Target.Pid != 0 {
		var err error
		if before, err = ReadProcStatus(e.Target.Pid); err != nil {
			return err
		}
	}
	w, err := e.Start()
	if err != nil {
		return err
	}
	conns, err := dialIdle(e, topic, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	setup, err := w.Stop()
	if err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond) // let the last RDYs land before reading RSS
	if e.Target.Pid != 0 {
		after, err := ReadProcStatus(e.Target.Pid)
		if err != nil {
			return err
		}
		e.Add("RSS/conn", UnitKiB, LowerBetter, float64(after.RSS-before.RSS)/1024/float64(n))
		e.Add("threads", UnitCount, LowerBetter, float64(after.Threads))
		e.Add("setup cpu/1k conns", UnitMillis, LowerBetter, setup.DaemonCPU.Seconds()*1e3*1000/float64(n))
	}
	e.Add("setup time", UnitSeconds, LowerBetter, setup.Wall.Seconds())
	dw, err := e.Start()
	if err != nil {
		return err
	}
	first, last, err := deliverToAll(e, topic, conns)
	if err != nil {
		return err
	}
	deliver, err := dw.Stop()
	if err != nil {
		return err
	}
	e.Add("deliver first", UnitMillis, LowerBetter, first.Seconds()*1e3)
	e.Add("deliver all", UnitMillis, LowerBetter, last.Seconds()*1e3)
	if e.Target.Pid != 0 {
		// The daemon's share of "deliver all": its CPU from the PUB to the
		// last FIN. Far below the wall time means the n reading client
		// goroutines, not the daemon, bound the delivery.
		e.Add("deliver cpu", UnitMillis, LowerBetter, deliver.DaemonCPU.Seconds()*1e3)
		e.Add("deliver harness cpu", UnitMillis, LowerBetter, deliver.ToolCPU.Seconds()*1e3)
	}
	return nil
}

// checkFileLimits fails early, with the numbers, if either process could not hold n sockets.
func checkFileLimits(e *Env, n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if need := uint64(n + 200); lim.Cur < need {
		return fmt.Errorf("connections: harness RLIMIT_NOFILE is %d, need %d (hard limit %d)", lim.Cur, need, lim.Max)
	}
	if e.Target.Pid == 0 {
		return nil
	}
	dl, err := ProcFileLimit(e.Target.Pid)
	if err != nil {
		return err
	}
	if need := uint64(n + 100); dl < need {
		return fmt.Errorf("connections: daemon's open-file limit is %d, need %d", dl, need)
	}
	return nil
}

// dialIdle sets up n subscribed connections, dialWorkers at a time. On error the connections
// made so far are returned too, for closing.
func dialIdle(e *Env, topic string, n int) ([]*wire.Conn, error) {
	conns := make([]*wire.Conn, n)
	next := make(chan int)
	errs := make(chan error, dialWorkers)
	var wg sync.WaitGroup
	for range min(dialWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ch := "c" + strconv.Itoa(i) + "#ephemeral"
				c, err := dialConsumer(e.Ctx, e.Target.TCPAddr, topic, ch, 1, 1024)
				if err != nil {
					errs <- fmt.Errorf("connections: connection %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return conns, err
}

// deliverToAll publishes one message and waits until every connection has received it,
// returning the time to the first and the last delivery.
func deliverToAll(e *Env, topic string, conns []*wire.Conn) (first, last time.Duration, err error) {
	got := make([]time.Time, len(conns))
	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- awaitOne(c, &got[i])
		}()
	}
	p, err := wire.Dial(e.Ctx, e.Target.TCPAddr, 0)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	t0 := time.Now()
	if err := p.Publish(topic, messageBodies(1, e.Cfg.MsgSize)[0]); err != nil {
		return 0, 0, err
	}
	wg.Wait() // bounded: every read ends by the case's context
	for range conns {
		if err := <-errs; err != nil {
			return 0, 0, fmt.Errorf("connections: delivery: %w", err)
		}
	}
	times := make([]time.Duration, len(got))
	for i, t := range got {
		times[i] = t.Sub(t0)
	}
	return slices.Min(times), slices.Max(times), nil
}

// awaitOne reads until one message arrives (answering heartbeats), records when, and FINs it.
func awaitOne(c *wire.Conn, at *time.Time) error {
	for {
		typ, data, err := c.ReadFrame()
		if err != nil {
			return err
		}
		switch {
		case typ == wire.FrameTypeMessage:
			*at = time.Now()
			_, _, id, _, err := wire.ParseMessage(data)
			if err != nil {
				return err
			}
			return c.Write(wire.AppendFin(nil, id))
		case typ == wire.FrameTypeError:
			return &wire.FrameError{Msg: string(data)}
		case wire.IsHeartbeat(data):
			if err := c.Write(wire.AppendNop(nil)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected response %q", data)
		}
	}
}
