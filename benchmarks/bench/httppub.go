package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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

	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	w, err := e.Start()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(e.Cfg.Duration)
	var (
		requests atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		first    error
	)
	for range e.Cfg.HTTPConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := httpPubConn(ctx, addr, req, deadline, &requests); err != nil {
				errOnce.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("http-pub %s: %w", path, first)
	}
	st, err := w.Stop()
	if err != nil {
		return err
	}
	msgs := requests.Load() * int64(perReq)
	e.Add("msg/s", UnitMsgPerSec, HigherBetter, rate(msgs, st.Wall))
	e.Add("MB/s", UnitMBPerSec, HigherBetter, rate(msgs*int64(e.Cfg.MsgSize), st.Wall)/1e6)
	e.AddCPU(st, msgs)
	return nil
}

// httpPubConn sends req over one keep-alive connection until the deadline, checking each answer.
func httpPubConn(ctx context.Context, addr string, req []byte, deadline time.Time, requests *atomic.Int64) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	br := bufio.NewReaderSize(nc, 16<<10)
	for time.Now().Before(deadline) {
		if _, err := nc.Write(req); err != nil {
			return err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(b)) != "OK" {
			return fmt.Errorf("answer %s %q", strconv.Itoa(resp.StatusCode), b)
		}
		if resp.Close {
			return fmt.Errorf("daemon closed the keep-alive connection")
		}
		requests.Add(1)
	}
	return nil
}
