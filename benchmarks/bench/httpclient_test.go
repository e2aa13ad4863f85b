package bench

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseAnswer(t *testing.T) {
	for _, ok := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\nContent-Length: 2\r\n\r\nOK",
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-Nsq-Content-Type: nsq; version=1.0\r\n\r\nOK",
	} {
		// every prefix is "need more", the whole answer parses
		for i := range len(ok) {
			if _, n, err := parseAnswer([]byte(ok[:i])); n != 0 || err != nil {
				t.Fatalf("%q: prefix %d: got n=%d err=%v, want 0, nil", ok, i, n, err)
			}
		}
		a, n, err := parseAnswer([]byte(ok + "HTTP/1.1"))
		if err != nil || n != len(ok) {
			t.Fatalf("%q: got n=%d err=%v, want %d, nil", ok, n, err, len(ok))
		}
		if err := checkPubAnswer(a); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nOK",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nOK",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK!",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n",
		"SMTP ready\r\n\r\n",
	} {
		a, n, err := parseAnswer([]byte(bad))
		if err == nil && n > 0 {
			err = checkPubAnswer(a)
		}
		if err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}

func TestParseAnswerAllocs(t *testing.T) {
	ans := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
	allocs := testing.AllocsPerRun(100, func() {
		a, _, err := parseAnswer(ans)
		if err != nil || checkPubAnswer(a) != nil {
			t.Fatal(a, err)
		}
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per answer, want 0", allocs)
	}
}

// serveHTTP answers every request on ln with status and body until ln closes; it checks that
// requests arrive one at a time per connection.
func serveHTTP(t *testing.T, ln net.Listener, status int, body string) {
	t.Helper()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				if br.Buffered() != 0 {
					t.Errorf("a second request was sent before the answer to the first")
					return
				}
				resp := "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\nContent-Length: " +
					strconv.Itoa(len(body)) + "\r\n\r\n" + body
				if _, err := io.WriteString(c, resp); err != nil {
					return
				}
			}
		}()
	}
}

func TestHTTPLoop(t *testing.T) {
	body := strings.Repeat("x", 100_000) // larger than a socket buffer: partial writes
	req := []byte("POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body)
	for _, tc := range []struct {
		status  int
		answer  string
		wantErr bool
	}{
		{200, "OK", false},
		{500, `{"message":"INTERNAL_ERROR"}`, true},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go serveHTTP(t, ln, tc.status, tc.answer)
		l, err := newHTTPLoop(ln.Addr().String(), 3, req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := l.run(context.Background(), time.Now().Add(100*time.Millisecond))
		l.close()
		ln.Close()
		if tc.wantErr {
			if err == nil {
				t.Errorf("status %d: got %d answers and no error", tc.status, n)
			}
			continue
		}
		if err != nil || n < 3 {
			t.Errorf("got %d answers, %v; want at least 3, nil", n, err)
		}
	}
}
