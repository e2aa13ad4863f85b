package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The nsqlookupd TCP protocol (V1), as nsqd speaks it:
//
//	nsqd → lookupd   "  V1"                               once, after connecting
//	                 "IDENTIFY\n" [int32 size][JSON]      first command
//	                 "REGISTER <topic> [<channel>]\n"
//	                 "UNREGISTER <topic> [<channel>]\n"
//	                 "PING\n"
//	lookupd → nsqd   [int32 size][data]                   one per command, no frame type
//
// Sizes are big-endian. Responses are "OK", an error such as
// "E_INVALID ..." or, for IDENTIFY, lookupd's JSON.

var magicV1 = []byte("  V1")

// identifyBody is nsqd's IDENTIFY JSON. Fields are in alphabetical order so
// the bytes equal upstream's (it marshals a map): verified against nsqd
// v1.3.0, whose body has exactly these five keys (no topology keys):
//
//	{"broadcast_address":"bcast.example","hostname":"vm","http_port":40099,"tcp_port":43511,"version":"1.3.0"}
type identifyBody struct {
	BroadcastAddress string `json:"broadcast_address"`
	Hostname         string `json:"hostname"`
	HTTPPort         int    `json:"http_port"`
	TCPPort          int    `json:"tcp_port"`
	Version          string `json:"version"`
}

// appendIdentify appends the IDENTIFY command with its sized body.
func appendIdentify(dst []byte, b identifyBody) ([]byte, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return dst, err
	}
	dst = append(dst, "IDENTIFY\n"...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...), nil
}

// lookupConn is a connection to lookupd with a reader goroutine, so that a
// closed connection is noticed while idle. Writes belong to the peer's run
// goroutine; resp and lost are its only links to the reader.
type lookupConn struct {
	net.Conn
	resp chan []byte   // capacity 1: the response to the one outstanding command
	lost chan struct{} // closed when the reader stops
	err  error         // why the reader stopped; read only after lost is closed
}

var errUnsolicited = errors.New("cluster: unsolicited lookupd response")

func newLookupConn(nc net.Conn, maxBody int64) *lookupConn {
	lc := &lookupConn{Conn: nc, resp: make(chan []byte, 1), lost: make(chan struct{})}
	go lc.readLoop(maxBody)
	return lc
}

// write writes b with upstream's 1 s write deadline.
func (lc *lookupConn) write(b []byte) error {
	lc.SetWriteDeadline(time.Now().Add(lookupdTimeout))
	_, err := lc.Write(b)
	return err
}

// readLoop reads [size][data] responses until the connection fails. A
// response larger than maxBody (--max-body-size) is an error, as upstream.
func (lc *lookupConn) readLoop(maxBody int64) {
	defer close(lc.lost)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(lc.Conn, hdr[:]); err != nil {
			lc.err = err
			return
		}
		size := int64(int32(binary.BigEndian.Uint32(hdr[:])))
		if size < 0 || size > maxBody {
			lc.err = fmt.Errorf("response body size (%d) is greater than limit (%d)", size, maxBody)
			return
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(lc.Conn, buf); err != nil {
			lc.err = err
			return
		}
		select {
		case lc.resp <- buf:
		default:
			lc.err = errUnsolicited
			return
		}
	}
}
