package bench

import (
	"fmt"
	"time"
)

// Config sizes the scenarios. DefaultConfig, QuickConfig and TinyConfig are the three presets.
type Config struct {
	Duration       time.Duration // each timed phase: pub, pub-latency, e2e, fanout, http-pub
	MsgSize        int           // message body size, bytes
	BatchSize      int           // messages per MPUB
	PubConns       int           // N in pub/conns=N
	PubWindow      int           // MPUBs in flight per publishing connection
	MaxMessages    int64         // upper bound on messages one timed publishing phase sends
	MemQueueSize   int           // --mem-queue-size for the memory-path cases (pub, pub-latency, sub, http-pub)
	SubMessages    int           // messages pre-filled for sub and disk/sub
	SubRDY         int           // RDY for sub
	E2ERates       []int         // producer rates for e2e, msg/s
	E2ERDY         int           // RDY for the e2e consumer
	E2EDrain       time.Duration // how long e2e waits for the last messages after publishing stops
	FanoutChannels int           // channels (one consumer each) in fanout
	Connections    []int         // idle subscribed connection counts
	HTTPConns      int           // keep-alive connections for http-pub
	CaseTimeout    time.Duration // hard bound on one scenario run, setup included
}

// DefaultConfig is the compare run's configuration.
func DefaultConfig() Config {
	return Config{
		Duration:       3 * time.Second,
		MsgSize:        200,
		BatchSize:      200,
		PubConns:       4,
		PubWindow:      8,
		MaxMessages:    5_000_000,
		MemQueueSize:   10_000_000,
		SubMessages:    300_000,
		SubRDY:         2500,
		E2ERates:       []int{20_000, 100_000, 300_000},
		E2ERDY:         1000,
		E2EDrain:       2 * time.Second,
		FanoutChannels: 4,
		Connections:    []int{1000, 10000},
		HTTPConns:      4,
		CaseTimeout:    90 * time.Second,
	}
}

// QuickConfig is DefaultConfig with shorter phases, a smaller backlog and one connection count,
// for a run of about a minute.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Duration = time.Second
	c.SubMessages = 60_000
	c.E2EDrain = time.Second
	c.Connections = []int{1000}
	return c
}

// TinyConfig is for smoke tests: every scenario in well under a second.
func TinyConfig() Config {
	c := DefaultConfig()
	c.Duration = 200 * time.Millisecond
	c.PubConns = 2
	c.MaxMessages = 400_000
	c.SubMessages = 2000
	c.E2ERates = []int{5000}
	c.E2EDrain = time.Second
	c.Connections = []int{50}
	c.HTTPConns = 2
	c.CaseTimeout = 20 * time.Second
	return c
}

// String summarises the configuration for the results file.
func (c Config) String() string {
	return fmt.Sprintf("phase %v, %d B messages, MPUB %d, pub conns 1 and %d (window %d), at most %d msgs "+
		"per phase, memory-path cases --mem-queue-size=%d, sub %d msgs RDY %d, "+
		"e2e %v msg/s RDY %d, fanout %d channels, connections %v, http conns %d",
		c.Duration, c.MsgSize, c.BatchSize, c.PubConns, c.PubWindow, c.MaxMessages, c.MemQueueSize,
		c.SubMessages, c.SubRDY,
		c.E2ERates, c.E2ERDY, c.FanoutChannels, c.Connections, c.HTTPConns)
}
