package bench

import (
	"strings"
	"testing"
	"testing/iotest"
)

func TestHTTPAnswerReader(t *testing.T) {
	upstream := "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\nContent-Length: 2\r\n\r\nOK"
	ours := "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOK"
	// byte at a time, two answers back to back
	ar := newHTTPAnswerReader(iotest.OneByteReader(strings.NewReader(upstream + ours)))
	for i := range 2 {
		a, err := ar.readAnswer()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if err := checkPubAnswer(a); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	if _, err := ar.readAnswer(); err == nil {
		t.Fatal("got an answer from an ended stream, want an error")
	}
	for _, bad := range []string{
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nOK",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nOK",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK",
	} {
		a, err := newHTTPAnswerReader(strings.NewReader(bad)).readAnswer()
		if err == nil {
			err = checkPubAnswer(a)
		}
		if err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestHTTPAnswerReaderAllocs(t *testing.T) {
	ans := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
	sr := strings.NewReader(ans)
	ar := newHTTPAnswerReader(sr)
	allocs := testing.AllocsPerRun(100, func() {
		sr.Reset(ans)
		a, err := ar.readAnswer()
		if err != nil || checkPubAnswer(a) != nil {
			t.Fatal(a, err)
		}
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per answer, want 0", allocs)
	}
}
