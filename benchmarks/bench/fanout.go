package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// runFanout is the fanout scenario: one topic with Config.FanoutChannels channels, one consumer
// each (RDY Config.SubRDY, FIN per message), and one MPUB publisher running flat out for
// Config.Duration. It reports messages published and messages delivered (over all channels) per
// second of the same window; a daemon that keeps up delivers channels × published.
func runFanout(e *Env) error {
	const topic = "bench_fanout"
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	consumers := make([]*consumer, e.Cfg.FanoutChannels)
	done := make(chan error, len(consumers))
	for i := range consumers {
		c, err := dialConsumer(ctx, e.Target.TCPAddr, topic, "fanout"+strconv.Itoa(i), e.Cfg.SubRDY, 0)
		if err != nil {
			return err
		}
		defer c.Close()
		consumers[i] = &consumer{c: c}
	}
	for _, cs := range consumers {
		go func() { done <- cs.run(-1) }()
	}
	w, err := e.Start()
	if err != nil {
		return err
	}
	l := newMpubLoad(e, topic, time.Now().Add(e.Cfg.Duration), e.Cfg.MaxMessages)
	published, elapsed, err := l.run(ctx, 1)
	if err != nil {
		return fmt.Errorf("fanout: publish: %w", err)
	}
	var delivered int64
	for _, cs := range consumers {
		delivered += cs.got.Load()
	}
	st, err := w.Stop()
	if err != nil {
		return err
	}
	select {
	case err := <-done: // a consumer ended before we stopped it
		return fmt.Errorf("fanout: consumer stopped early: %v", err)
	default:
	}
	cancel()
	for range consumers {
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("fanout: consumer: %w", err)
		}
	}
	if delivered == 0 {
		return fmt.Errorf("fanout: %d published, none delivered", published)
	}
	e.Add("published msg/s", UnitMsgPerSec, HigherBetter, rate(published, elapsed))
	e.Add("delivered msg/s", UnitMsgPerSec, HigherBetter, rate(delivered, elapsed))
	e.AddCPU(st, delivered)
	return nil
}
