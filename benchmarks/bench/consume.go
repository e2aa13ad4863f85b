package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"nsqreactor/benchmarks/wire"
)

// dialConsumer connects, IDENTIFYs (as every real client does), SUBs and sends RDY rdy,
// checking each answer.
func dialConsumer(ctx context.Context, addr, topic, channel string, rdy, readBuffer int) (*wire.Conn, error) {
	c, err := wire.Dial(ctx, addr, readBuffer)
	if err != nil {
		return nil, err
	}
	if err := c.Identify(); err != nil {
		_ = c.Close()
		return nil, err
	}
	if err := c.Subscribe(topic, channel, rdy); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// consumer reads messages from one subscribed connection and FINs each. FINs (and NOPs for
// heartbeats) are batched and written when the read buffer runs dry, so a burst of N messages
// costs one write back. It runs on one goroutine.
type consumer struct {
	c      *wire.Conn
	onBody func(body []byte) // called for every message before its FIN; may be nil
	got    atomic.Int64      // messages received, readable from any goroutine
}

// run consumes until want messages have arrived (want < 0: until the connection's context ends,
// which is then not an error). Any error frame, or a response other than a heartbeat, fails it.
func (cs *consumer) run(want int64) error {
	out := make([]byte, 0, 32<<10)
	var n int64
	for want < 0 || n < want {
		typ, data, err := cs.c.ReadFrame()
		if err != nil {
			if want < 0 && errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("consumer after %d messages: %w", n, err)
		}
		switch {
		case typ == wire.FrameTypeMessage:
			_, _, id, body, err := wire.ParseMessage(data)
			if err != nil {
				return err
			}
			if cs.onBody != nil {
				cs.onBody(body)
			}
			out = wire.AppendFin(out, id)
			n++
			cs.got.Store(n)
		case typ == wire.FrameTypeError:
			return fmt.Errorf("consumer after %d messages: %w", n, &wire.FrameError{Msg: string(data)})
		case wire.IsHeartbeat(data):
			out = wire.AppendNop(out)
		default:
			return fmt.Errorf("consumer: unexpected response %q", data)
		}
		if len(out) > 0 && (cs.c.Buffered() == 0 || len(out) >= 30<<10 || n == want) {
			if err := cs.c.Write(out); err != nil {
				if want < 0 && errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
			out = out[:0]
		}
	}
	return nil
}
