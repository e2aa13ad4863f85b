package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
)

// NullServer is a V2 server that answers every PUB, DPUB, MPUB and IDENTIFY with OK and keeps
// nothing. Run against it, a publishing scenario measures the client and the loopback alone: the
// ceiling no daemon can pass on the same machine. Any other command (SUB, RDY, FIN, ...) is
// answered with E_INVALID and the connection is closed, so a subscribing scenario run against it
// fails loudly rather than reporting a number.
//
// Replies are buffered and flushed when the read buffer is empty, so a pipelined client gets one
// write per batch of commands, as a good daemon would give it.
type NullServer struct {
	ln    net.Listener
	serve func(net.Conn) error
	wg    sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

// StartNull listens on addr (use "127.0.0.1:0") and serves until Close.
func StartNull(addr string) (*NullServer, error) { return StartNullWith(addr, serveNull) }

// StartNullWith is StartNull with another protocol: serve runs on a goroutine of its own for
// each accepted connection, until it returns; the connection is closed then (and by Close).
func StartNullWith(addr string, serve func(net.Conn) error) (*NullServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &NullServer{ln: ln, serve: serve, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *NullServer) Addr() string { return s.ln.Addr().String() }

// Close stops the listener, closes every connection and waits for their goroutines.
func (s *NullServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *NullServer) accept() {
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
			_ = s.serve(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
			_ = nc.Close()
		}()
	}
}

var (
	frameOK        = appendFrame(nil, FrameTypeResponse, respOK)
	frameCloseWait = appendFrame(nil, FrameTypeResponse, []byte("CLOSE_WAIT"))
	errNullInvalid = errors.New("wire: null server: unsupported command")
)

func appendFrame(dst []byte, typ int32, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)+4))
	dst = binary.BigEndian.AppendUint32(dst, uint32(typ))
	return append(dst, data...)
}

// serveNull runs one connection until it ends or sends a command the null server refuses.
func serveNull(nc net.Conn) error {
	r := bufio.NewReaderSize(nc, 64<<10)
	w := bufio.NewWriterSize(nc, 16<<10)
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return err
	}
	if !bytes.Equal(magic[:], MagicV2) {
		return errNullInvalid
	}
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		name, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(" "))
		switch string(name) {
		case "PUB", "DPUB", "MPUB", "IDENTIFY", "AUTH":
			if err := discardBody(r); err != nil {
				return err
			}
			_, _ = w.Write(frameOK)
		case "NOP":
		case "CLS":
			_, _ = w.Write(frameCloseWait)
		default:
			msg := append([]byte("E_INVALID null server does not implement "), name...)
			_, _ = w.Write(appendFrame(nil, FrameTypeError, msg))
			_ = w.Flush()
			return errNullInvalid
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

// discardBody skips a [size uint32][size bytes] command body.
func discardBody(r *bufio.Reader) error {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return err
	}
	_, err := r.Discard(int(binary.BigEndian.Uint32(size[:])))
	return err
}
