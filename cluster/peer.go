package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"time"

	"nsqreactor/core"
)

// peerInfo is lookupd's IDENTIFY answer (upstream's peerInfo; the field
// names appear in the "peer info %+v" log line).
type peerInfo struct {
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
	BroadcastAddress string `json:"broadcast_address"`
}

// peer is one nsqlookupd. Its connection belongs to its run goroutine.
type peer struct {
	c    *Cluster
	addr string
	wake chan struct{} // capacity 1: pending commands queued
	quit chan struct{} // closed when the address is removed

	// guarded by c.mu
	connected bool     // identified and registered; pending is being served
	pending   []regKey // commands to send, oldest first
	info      peerInfo // last IDENTIFY answer; kept across disconnects

	conn *lookupConn // owned by run; nil while disconnected
}

var (
	errClosing   = errors.New("cluster: closing")
	errTimeout   = errors.New("cluster: lookupd response timeout")
	errEInvalid  = errors.New("cluster: lookupd returned E_INVALID")
	respEInvalid = []byte("E_INVALID")
	cmdPing      = []byte("PING\n")
)

func newPeer(c *Cluster, addr string) *peer {
	return &peer{c: c, addr: addr, wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

// kick wakes the run goroutine without blocking.
func (p *peer) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *peer) logf(level int, format string, args ...any) {
	p.c.log.Logf(level, format, args...)
}

// run connects at once, then serves queued commands, PINGs every
// pingInterval, and reconnects with backoff whenever the connection fails.
func (p *peer) run() {
	defer p.c.wg.Done()
	defer p.disconnect()
	ping := time.NewTicker(p.c.pingInterval)
	defer ping.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	var backoff time.Duration
	again := func() {
		p.disconnect()
		backoff = min(max(2*backoff, p.c.backoffMin), p.c.backoffMax)
		retry.Reset(backoff)
	}
	for {
		var lost <-chan struct{}
		if p.conn != nil {
			lost = p.conn.lost
		}
		select {
		case <-p.c.exitCh:
			return
		case <-p.quit:
			return
		case <-retry.C:
			if p.conn != nil {
				break
			}
			if err := p.connect(); err != nil {
				again()
			} else {
				backoff = 0
			}
		case <-p.wake:
			if p.conn != nil && p.sendPending() != nil {
				again()
			}
		case <-ping.C:
			if p.conn == nil {
				break
			}
			p.logf(core.LogLevelDebug, "LOOKUPD(%s): sending heartbeat", p.addr)
			if _, err := p.command(cmdPing); err != nil {
				p.logf(core.LogLevelError, "LOOKUPD(%s): PING - %s", p.addr, err)
				again()
			}
		case <-lost:
			p.logf(core.LogLevelError, "LOOKUPD(%s): connection lost - %s", p.addr, p.conn.err)
			backoff = 0
			again()
		}
	}
}

// connect dials, sends the magic and IDENTIFY, records lookupd's answer and
// registers everything (upstream's lookupPeer.Command + connectCallback).
func (p *peer) connect() error {
	p.logf(core.LogLevelInfo, "LOOKUP connecting to %s", p.addr)
	nc, err := net.DialTimeout("tcp", p.addr, lookupdTimeout)
	if err != nil {
		p.logf(core.LogLevelError, "LOOKUPD(%s): connect - %s", p.addr, err)
		return err
	}
	p.conn = newLookupConn(nc, p.c.opts.MaxBodySize)
	if err := p.conn.write(magicV1); err != nil {
		p.logf(core.LogLevelError, "LOOKUPD(%s): connect - %s", p.addr, err)
		return err
	}
	p.c.mu.Lock()
	tcpPort, httpPort := p.c.tcpPort, p.c.httpPort
	p.c.mu.Unlock()
	cmd, err := appendIdentify(nil, identifyBody{
		BroadcastAddress: p.c.opts.BroadcastAddress,
		Hostname:         p.c.hostname,
		HTTPPort:         httpPort,
		TCPPort:          tcpPort,
		Version:          core.Version,
	})
	if err != nil {
		return err
	}
	resp, err := p.command(cmd)
	if err != nil {
		p.logf(core.LogLevelError, "LOOKUPD(%s): IDENTIFY - %s", p.addr, err)
		return err
	}
	if bytes.Equal(resp, respEInvalid) {
		p.logf(core.LogLevelInfo, "LOOKUPD(%s): lookupd returned %s", p.addr, resp)
		return errEInvalid
	}
	var info peerInfo
	if err := json.Unmarshal(resp, &info); err != nil {
		p.logf(core.LogLevelError, "LOOKUPD(%s): parsing response - %s", p.addr, resp)
		return err
	}
	p.logf(core.LogLevelInfo, "LOOKUPD(%s): peer info %+v", p.addr, info)
	if info.BroadcastAddress == "" {
		p.logf(core.LogLevelError, "LOOKUPD(%s): no broadcast address", p.addr)
	}

	p.c.mu.Lock()
	p.info = info
	p.connected = true
	p.pending = nil // covered by the snapshot
	cmds := p.c.snapshotLocked()
	p.c.mu.Unlock()
	return p.send(cmds, false)
}

// sendPending sends the queued commands, deciding each one from the
// registry at the time they are taken.
func (p *peer) sendPending() error {
	p.c.mu.Lock()
	keys := p.pending
	p.pending = nil
	cmds := make([]regCommand, len(keys))
	for i, k := range keys {
		cmds[i] = p.c.commandLocked(k)
	}
	p.c.mu.Unlock()
	return p.send(cmds, true)
}

// send runs cmds in order, ignoring lookupd's answers (as upstream). It
// stops at the first I/O error: the caller reconnects, which registers
// everything again.
func (p *peer) send(cmds []regCommand, event bool) error {
	var buf []byte
	for _, rc := range cmds {
		if event {
			p.logf(core.LogLevelInfo, "LOOKUPD(%s): %s %s", p.addr, rc.branch(), rc)
		} else {
			p.logf(core.LogLevelInfo, "LOOKUPD(%s): %s", p.addr, rc)
		}
		buf = rc.appendTo(buf[:0])
		if _, err := p.command(buf); err != nil {
			p.logf(core.LogLevelError, "LOOKUPD(%s): %s - %s", p.addr, rc, err)
			return err
		}
	}
	return nil
}

// command writes one request and waits at most lookupdTimeout for its
// response.
func (p *peer) command(cmd []byte) ([]byte, error) {
	lc := p.conn
	if err := lc.write(cmd); err != nil {
		return nil, err
	}
	timer := time.NewTimer(lookupdTimeout)
	defer timer.Stop()
	select {
	case resp := <-lc.resp:
		return resp, nil
	case <-lc.lost:
		select {
		case resp := <-lc.resp: // answered, then closed
			return resp, nil
		default:
			return nil, lc.err
		}
	case <-timer.C:
		return nil, errTimeout
	case <-p.c.exitCh:
		return nil, errClosing
	case <-p.quit:
		return nil, errClosing
	}
}

// disconnect closes the connection, waits for its reader and marks the
// peer disconnected (its queue is dropped: reconnecting registers all).
func (p *peer) disconnect() {
	if p.conn == nil {
		return
	}
	p.conn.Close()
	<-p.conn.lost
	p.conn = nil
	p.c.mu.Lock()
	p.connected = false
	p.pending = nil
	p.c.mu.Unlock()
}
