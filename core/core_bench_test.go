//go:build !race

package core

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkPublishDeliverFinish measures the hot path a message takes in
// core: Topic.Put → fan-out → Channel hands it to a warm consumer (frame
// encoded into a reused buffer) → FIN, by body size and channel count.
func BenchmarkPublishDeliverFinish(b *testing.B) {
	for _, channels := range []int{1, 4} {
		for _, size := range []int{16, 256, 4096, 65536} {
			b.Run(fmt.Sprintf("channels=%d/size=%d", channels, size), func(b *testing.B) {
				o := NewOptions()
				o.Logger, o.DataPath = io.Discard, b.TempDir()
				n := New(o)
				defer n.Exit()
				tp, _ := n.GetTopic("bench")
				var chans []*Channel
				var subs []*Subscription
				var cons []*frameConsumer
				for i := 0; i < channels; i++ {
					ch, _ := tp.GetChannel(fmt.Sprint("c", i))
					fc := &frameConsumer{buf: make([]byte, 0, size+64)}
					s, _ := ch.AddClient(fc, SubscribeOptions{MsgTimeout: time.Minute})
					ch.SetRDY(s, 100)
					chans, subs, cons = append(chans, ch), append(subs, s), append(cons, fc)
				}
				body := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					tp.Put(body, 0)
					for i, ch := range chans {
						ch.Finish(subs[i], &cons[i].last)
					}
				}
			})
		}
	}
}
