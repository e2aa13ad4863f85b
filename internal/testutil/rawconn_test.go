package testutil

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// fakeServer accepts one connection on loopback and runs serve on it.
func fakeServer(t *testing.T, serve func(conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		serve(conn)
	}()
	return ln.Addr().String()
}

// A frame split across writes with pauses longer than the read timeout is
// still read whole; heartbeats are skipped, counted and answered.
func TestRawConnResumableReads(t *testing.T) {
	received := make(chan string, 10)
	addr := fakeServer(t, func(conn net.Conn) {
		r := bufio.NewReader(conn)
		magic := make([]byte, 4)
		r.Read(magic)
		received <- string(magic)
		conn.Write(EncodeFrame(FrameResponse, []byte(Heartbeat)))
		line, _ := r.ReadString('\n')
		received <- line
		frame := EncodeFrame(FrameError, []byte("E_INVALID split"))
		conn.Write(frame[:3])
		time.Sleep(250 * time.Millisecond)
		conn.Write(frame[3:9])
		time.Sleep(250 * time.Millisecond)
		conn.Write(frame[9:])
		time.Sleep(100 * time.Millisecond)
	})
	c := Dial(t, addr)
	c.AnswerHeartbeats = true
	if got := <-received; got != Magic {
		t.Fatalf("server got magic %q, want %q", got, Magic)
	}
	c.ExpectNoFrame(t, 100*time.Millisecond) // sees (and answers) the heartbeat, then times out mid-nothing
	if got := <-received; got != "NOP\n" {
		t.Fatalf("server got %q, want the heartbeat answered with NOP", got)
	}
	c.ExpectNoFrame(t, 200*time.Millisecond) // times out in the middle of the split frame
	c.ExpectError(t, "E_INVALID split")
	if c.Heartbeats != 1 {
		t.Fatalf("counted %d heartbeats, want 1", c.Heartbeats)
	}
	c.ExpectClosed(t)
}

func TestRawConnExpectations(t *testing.T) {
	msg := append(append([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 1}, "0123456789abcdef"...), "hi"...)
	addr := fakeServer(t, func(conn net.Conn) {
		conn.Write(EncodeFrame(FrameResponse, []byte("OK")))
		conn.Write(EncodeFrame(FrameMessage, msg))
		conn.Write(EncodeFrame(FrameResponse, []byte(Heartbeat)))
		conn.Write(EncodeFrame(FrameError, []byte("E_FIN_FAILED x")))
	})
	c := DialNoMagic(t, addr)
	c.ExpectResponse(t, "OK")
	if m := c.ExpectMessage(t); m.Attempts != 1 || m.Timestamp != 1 || string(m.Body) != "hi" {
		t.Fatalf("got %+v", m)
	}
	c.ExpectError(t, "E_FIN_FAILED x")
	c.ExpectClosed(t)
}
