package bench

import (
	"bytes"
	"errors"
	"net"
)

// The ceiling target's HTTP listener is wire.StartNullWith(addr, serveNullHTTP): it answers
// every request with 200 "OK" as soon as its body has arrived, and keeps nothing. Run against it,
// http-pub measures the client, the loopback and the Go runtime's netpoller (a goroutine per
// connection, as fasthttp and net/http serve): the most any Go HTTP daemon can reach on the same
// machine. It runs in the harness process, so its CPU is part of "harness cpu".

// nullHTTPAnswer is what every request gets; the same headers nsqd sends for "OK" but Date.
var nullHTTPAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"X-Nsq-Content-Type: nsq; version=1.0\r\n\r\nOK")

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
