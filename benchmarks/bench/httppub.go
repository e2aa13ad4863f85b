package bench

import (
	"bytes"
	"fmt"
	"time"
)

// runHTTPPub is the http-pub scenario: Config.HTTPConns keep-alive connections POST to /pub (one
// message per request) or /mpub (Config.BatchSize newline-separated messages per request) for
// Config.Duration, one request at a time per connection. Every answer must be 200 "OK". A
// daemon with no HTTP listener gets n/a, not a failure.
func runHTTPPub(e *Env, mpub bool) error {
	addr := e.Target.HTTPAddr()
	if addr == "" {
		e.AddNA("msg/s", UnitMsgPerSec, HigherBetter)
		e.AddNA("MB/s", UnitMBPerSec, HigherBetter)
		e.AddNA("daemon cpu", UnitCPUPerM, LowerBetter)
		e.Logf("http-pub: no HTTP listener: n/a")
		return nil
	}
	path, perReq := "/pub?topic=bench_http", 1
	if mpub {
		path, perReq = "/mpub?topic=bench_http", e.Cfg.BatchSize
	}
	body := bytes.Join(messageBodies(perReq, e.Cfg.MsgSize), []byte("\n"))
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Length: %d\r\n\r\n", path, addr, len(body))
	req = append(req, body...)

	w, err := e.Start()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(e.Cfg.Duration)
	l, err := newHTTPLoop(addr, e.Cfg.HTTPConns, req)
	if err != nil {
		return fmt.Errorf("http-pub %s: %w", path, err)
	}
	requests, err := l.run(e.Ctx, deadline)
	l.close()
	if err != nil {
		return fmt.Errorf("http-pub %s: %w", path, err)
	}
	st, err := w.Stop()
	if err != nil {
		return err
	}
	msgs := requests * int64(perReq)
	e.Add("msg/s", UnitMsgPerSec, HigherBetter, rate(msgs, st.Wall))
	e.Add("MB/s", UnitMBPerSec, HigherBetter, rate(msgs*int64(e.Cfg.MsgSize), st.Wall)/1e6)
	e.AddCPU(st, msgs)
	if msgs > 0 {
		e.Add("harness cpu", UnitCPUPerM, LowerBetter, st.ToolCPU.Seconds()/float64(msgs)*1e6)
	}
	return nil
}
