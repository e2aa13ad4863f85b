package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// httpLoop drives all http-pub connections from one goroutine over its own epoll instance, the
// way wrk does: non-blocking sockets, one request in flight per connection (no pipelining),
// every answer parsed in place. A goroutine per net.Conn costs, per answer, a read that finds
// nothing, a park, the runtime's netpoller and a thread wake-up; here one epoll_wait returns
// every connection whose answer has arrived, and each costs one read and one write. The
// request bytes, the connections and the checks are the same as before, and both daemons are
// measured by this one client.
type httpLoop struct {
	epfd  int
	conns []*loopConn
	req   []byte
}

// loopConn is one connection of an httpLoop.
type loopConn struct {
	fd      int
	buf     []byte // answer bytes received, parsed from the start
	n       int
	out     int  // bytes of the request written; len(req) when it is all out
	busy    bool // a request is in flight
	pollOut bool // registered for EPOLLOUT (a request only partly written)
}

// newHTTPLoop connects conns sockets to addr (numeric host:port) with TCP_NODELAY, as net.Dial
// would, and registers them.
func newHTTPLoop(addr string, conns int, req []byte) (*httpLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	l := &httpLoop{epfd: epfd, req: req}
	for range conns {
		fd, err := dialNonblocking(addr)
		if err != nil {
			l.close()
			return nil, err
		}
		c := &loopConn{fd: fd, buf: make([]byte, maxAnswer)}
		l.conns = append(l.conns, c)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(len(l.conns) - 1)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			l.close()
			return nil, os.NewSyscallError("epoll_ctl", err)
		}
	}
	return l, nil
}

func (l *httpLoop) close() {
	for _, c := range l.conns {
		syscall.Close(c.fd)
	}
	syscall.Close(l.epfd)
}

// run sends requests on every connection until deadline, then waits for the answers in
// flight; it returns how many were answered 200 "OK". ctx ends it early with its error.
func (l *httpLoop) run(ctx context.Context, deadline time.Time) (int64, error) {
	var done int64
	for i := range l.conns {
		if err := l.send(i); err != nil {
			return done, err
		}
	}
	events := make([]syscall.EpollEvent, len(l.conns))
	inFlight := len(l.conns)
	sending := true
	for inFlight > 0 {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		n, err := syscall.EpollWait(l.epfd, events, 100)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return done, os.NewSyscallError("epoll_wait", err)
		}
		if sending && !time.Now().Before(deadline) {
			sending = false
		}
		for _, ev := range events[:n] {
			i := int(ev.Fd)
			c := l.conns[i]
			if c.out < len(l.req) && ev.Events&syscall.EPOLLOUT != 0 {
				if err := l.send(i); err != nil {
					return done, err
				}
			}
			answered, err := l.receive(c)
			if err != nil {
				return done, err
			}
			if !answered {
				continue
			}
			done++
			inFlight--
			if sending {
				if err := l.send(i); err != nil {
					return done, err
				}
				inFlight++
			}
		}
	}
	return done, nil
}

// send starts (or continues) the request on connection i; what the socket does not take now
// waits for EPOLLOUT.
func (l *httpLoop) send(i int) error {
	c := l.conns[i]
	if !c.busy {
		c.busy, c.out = true, 0
	}
	for c.out < len(l.req) {
		m, err := syscall.Write(c.fd, l.req[c.out:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		c.out += m
	}
	want := c.out < len(l.req)
	if want == c.pollOut {
		return nil
	}
	events := uint32(syscall.EPOLLIN | syscall.EPOLLRDHUP)
	if want {
		events |= syscall.EPOLLOUT
	}
	c.pollOut = want
	ev := syscall.EpollEvent{Events: events, Fd: int32(i)}
	return os.NewSyscallError("epoll_ctl", syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev))
}

// receive reads what the socket holds and reports whether it completed the answer in flight,
// which must be 200 "OK" on a kept connection.
func (l *httpLoop) receive(c *loopConn) (bool, error) {
	if c.n == len(c.buf) {
		return false, errAnswerTooLarge
	}
	m, err := syscall.Read(c.fd, c.buf[c.n:])
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return false, nil
	case err != nil:
		return false, os.NewSyscallError("read", err)
	case m == 0:
		return false, errors.New("bench: daemon closed the connection")
	}
	c.n += m
	a, n, err := parseAnswer(c.buf[:c.n])
	if err != nil || n == 0 {
		return false, err
	}
	if !c.busy || c.out < len(l.req) {
		return false, fmt.Errorf("bench: answer %d %q to no request", a.status, a.body)
	}
	if err := checkPubAnswer(a); err != nil {
		return false, err
	}
	c.n = copy(c.buf, c.buf[n:c.n]) // nothing should follow: one request in flight
	c.busy = false
	return true, nil
}

// dialNonblocking connects a TCP socket to addr (numeric IPv4 or IPv6 host:port, a loopback
// listener: the connect is immediate) with TCP_NODELAY, then makes it non-blocking.
func dialNonblocking(addr string) (int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return -1, err
	}
	family, sa := syscall.AF_INET6, syscall.Sockaddr(&syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()})
	if ap.Addr().Is4() {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	err = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	for err == nil {
		err = syscall.Connect(fd, sa)
		if err == syscall.EINTR || err == syscall.EALREADY {
			err = nil // interrupted: the connect goes on; ask again
			continue
		}
		if err == syscall.EISCONN {
			err = nil
		}
		break
	}
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("bench: connect %s: %w", addr, err)
	}
	return fd, nil
}
