//go:build !race

package loop

import (
	"testing"

	"github.com/panjf2000/gnet/v2"

	"nsqreactor/core"
)

// sinkConn is a gnet.Conn whose Write discards; only the methods the write
// path uses are implemented (the embedded nil interface panics on others).
type sinkConn struct {
	gnet.Conn
	written int
}

func (s *sinkConn) Write(p []byte) (int, error)   { s.written += len(p); return len(p), nil }
func (s *sinkConn) Wake(gnet.AsyncCallback) error { return nil }

// Delivering a message frame into a warm consumer's outbox and writing the
// batch allocates nothing.
func TestDeliverAndFlushAllocatesNothing(t *testing.T) {
	sink := &sinkConn{}
	c := &conn{gc: sink}
	m := &core.Message{Body: []byte("a message body of modest size"), Attempts: 1}
	copy(m.ID[:], "0123456789abcdef")
	step := func() {
		c.beginBatch()
		for i := 0; i < 10; i++ {
			c.Deliver(m) // as another loop would, under the channel lock
		}
		if err := c.endBatch(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%.2f allocs per 10 deliveries + flush, want 0", a)
	}
	// a delivery from another loop, with no batch running, schedules one wake
	c.Deliver(m)
	if a := testing.AllocsPerRun(1000, func() { c.endBatch(); c.Deliver(m) }); a != 0 {
		t.Errorf("%.2f allocs per woken delivery, want 0 (gnet's Wake closure aside)", a)
	}
}
