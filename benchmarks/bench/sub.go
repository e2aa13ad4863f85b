package bench

import (
	"fmt"
	"time"

	"nsqreactor/benchmarks/wire"
)

// runSub is the sub scenario (and disk/sub with --mem-queue-size=0): a channel is created by a
// consumer with RDY 0, pre-filled with Config.SubMessages messages by MPUB, and then drained by
// that one consumer with RDY Config.SubRDY and a FIN per message. Only the drain is measured.
func runSub(e *Env) error {
	const topic, channel = "bench_sub", "sub"
	c, err := dialConsumer(e.Ctx, e.Target.TCPAddr, topic, channel, 0, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	batches := (e.Cfg.SubMessages + e.Cfg.BatchSize - 1) / e.Cfg.BatchSize
	total := int64(batches * e.Cfg.BatchSize)
	deadline, _ := e.Ctx.Deadline()
	l := newMpubLoad(e, topic, deadline, total)
	sent, _, err := l.run(e.Ctx, 1)
	if err != nil {
		return fmt.Errorf("sub: pre-fill: %w", err)
	}
	if sent != total {
		return fmt.Errorf("sub: pre-fill: %d of %d messages acknowledged", sent, total)
	}
	w, err := e.Start()
	if err != nil {
		return err
	}
	if err := c.Write(wire.AppendRdy(nil, e.Cfg.SubRDY)); err != nil {
		return err
	}
	cs := &consumer{c: c}
	if err := cs.run(total); err != nil {
		return fmt.Errorf("sub: %w", err)
	}
	st, err := w.Stop()
	if err != nil {
		return err
	}
	e.Add("msg/s", UnitMsgPerSec, HigherBetter, rate(total, st.Wall))
	e.Add("MB/s", UnitMBPerSec, HigherBetter, rate(total*int64(e.Cfg.MsgSize), st.Wall)/1e6)
	e.AddCPU(st, total)
	e.Logf("sub: drained %d messages in %v", total, st.Wall.Round(time.Millisecond))
	return nil
}
