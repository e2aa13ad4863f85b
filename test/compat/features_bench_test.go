package compat

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"nsqreactor/internal/testutil"
)

// BenchmarkLayers publishes b.N messages of 256 bytes with go-nsq
// (PublishAsync, 1,000 outstanding) and consumes them with a go-nsq
// consumer (max in flight 1,000), through each layer stack, against each
// implementation. Besides ns/op (wall time per message, client included) it
// reports the daemon's CPU time per message from /proc, the better measure
// on a shared machine. Compare with benchstat over -count rounds:
//
//	go test ./test/compat -run XXX -bench Layers -benchtime 100000x -count 5
func BenchmarkLayers(b *testing.B) {
	pki := newTestPKI(b)
	for _, stack := range []string{"plain", "snappy", "deflate", "tls", "tls+snappy", "tls+deflate"} {
		for _, impl := range testutil.Impls(b) {
			b.Run(stack+"/"+impl.Name, func(b *testing.B) {
				d := impl.Start(b, pki.flags()...)
				cfg := nsq.NewConfig()
				cfg.MaxInFlight = 1000
				cfg.Snappy = strings.HasSuffix(stack, "snappy")
				cfg.Deflate = strings.HasSuffix(stack, "deflate")
				if strings.HasPrefix(stack, "tls") {
					cfg.TlsV1, cfg.TlsConfig = true, pki.clientConfig(nil)
				}
				benchPubSub(b, d, cfg)
			})
		}
	}
}

func benchPubSub(b *testing.B, d *testutil.Daemon, cfg *nsq.Config) {
	topic := "bench" + strconv.Itoa(int(time.Now().UnixNano()%1e9))
	var got atomic.Int64
	done := make(chan struct{})
	cons, err := nsq.NewConsumer(topic, "c", cfg)
	if err != nil {
		b.Fatal(err)
	}
	cons.SetLogger(nil, nsq.LogLevelError)
	cons.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		if string(m.Body) == "warm-up" {
			return nil
		}
		if got.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	}))
	if err := cons.ConnectToNSQD(d.TCPAddr); err != nil {
		b.Fatal(err)
	}
	defer cons.Stop()
	prod, err := nsq.NewProducer(d.TCPAddr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	prod.SetLogger(nil, nsq.LogLevelError)
	defer prod.Stop()
	body := make([]byte, 256)
	if err := prod.Publish(topic, []byte("warm-up")); err != nil { // connect
		b.Fatal(err)
	}
	cpu0 := daemonCPU(d)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	responses := make(chan *nsq.ProducerTransaction, 1000)
	published := make(chan error, 1)
	go func() { // every PUB's answer, before the producer stops
		var err error
		for range b.N {
			if t := <-responses; t.Error != nil && err == nil {
				err = t.Error
			}
		}
		published <- err
	}()
	for i := 0; i < b.N; i++ {
		if err := prod.PublishAsync(topic, body, responses); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-published; err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("consumed %d of %d", got.Load(), b.N)
	}
	b.StopTimer()
	if cpu := daemonCPU(d) - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "daemon-ns/msg")
	}
}

// daemonCPU is the daemon's user+system CPU time so far, from
// /proc/<pid>/stat (0 where there is no /proc).
func daemonCPU(d *testutil.Daemon) time.Duration {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(d.PID()) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
