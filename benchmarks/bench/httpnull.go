package bench

import (
	"bytes"
	"errors"
	"net"
	"sync"
)

// nullHTTP is the ceiling target's HTTP listener: it answers every request with 200 "OK" as
// soon as its body has arrived, and keeps nothing. Run against it, http-pub measures the client,
// the loopback and the Go runtime's netpoller (a goroutine per connection, as fasthttp and
// net/http serve): the most any Go HTTP daemon can reach on the same machine. It runs in the
// harness process, so its CPU is part of "harness cpu".
type nullHTTP struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

// nullHTTPAnswer is what every request gets; the same headers nsqd sends for "OK" but Date.
var nullHTTPAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"X-Nsq-Content-Type: nsq; version=1.0\r\n\r\nOK")

func startNullHTTP(addr string) (*nullHTTP, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &nullHTTP{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *nullHTTP) Addr() string { return s.ln.Addr().String() }

// Close stops the listener, closes every connection and waits for their goroutines.
func (s *nullHTTP) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *nullHTTP) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = serveNullHTTP(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
			_ = nc.Close()
		}()
	}
}

// serveNullHTTP answers the requests on nc until it fails or closes. A request must carry a
// Content-Length (http-pub's do); anything it cannot frame ends the connection.
func serveNullHTTP(nc net.Conn) error {
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, err := nc.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
		for {
			size, err := nullHTTPRequestSize(buf[:n])
			if err != nil {
				return err
			}
			if size == 0 || size > n {
				break
			}
			if _, err := nc.Write(nullHTTPAnswer); err != nil {
				return err
			}
			n = copy(buf, buf[size:n])
		}
		if n == len(buf) {
			return errors.New("bench: null HTTP request over 64 KiB")
		}
	}
}

// nullHTTPRequestSize returns the length of the request at the start of b, header and body, or
// 0 while its header is incomplete.
func nullHTTPRequestSize(b []byte) (int, error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		return 0, nil
	}
	_, rest, _ := bytes.Cut(b[:end], crlf)
	for len(rest) > 0 {
		var field []byte
		field, rest, _ = bytes.Cut(rest, crlf)
		name, value, _ := bytes.Cut(field, []byte(":"))
		if bytes.EqualFold(name, []byte("Content-Length")) {
			clen := atoiDigits(bytes.TrimSpace(value))
			if clen < 0 {
				return 0, errors.New("bench: null HTTP: bad Content-Length")
			}
			return end + len(crlfcrlf) + clen, nil
		}
	}
	return 0, errors.New("bench: null HTTP: request without Content-Length")
}
