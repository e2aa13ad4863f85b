package loop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/panjf2000/gnet/v2"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// bufPipe is an unbounded in-memory byte stream: Write never blocks, Read
// blocks until data or Close.
type bufPipe struct {
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	closed bool
}

func newBufPipe() *bufPipe { p := &bufPipe{}; p.cond.L = &p.mu; return p }

func (p *bufPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	p.mu.Unlock()
	return len(b), nil
}

func (p *bufPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		if p.closed {
			return 0, io.EOF
		}
		p.cond.Wait()
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func (p *bufPipe) Close() { p.mu.Lock(); p.closed = true; p.cond.Broadcast(); p.mu.Unlock() }

// asyncClient runs a fake connection on its own goroutine, which plays the
// event loop: the peer's bytes and wakes both run OnTraffic there. The test
// talks to the server through peer, a net.Conn.
type asyncClient struct {
	fc       *fakeConn
	toPeer   *bufPipe
	inbound  chan []byte
	done     chan struct{}
	detached chan struct{} // closed by detach: run returns, the conn stays open
	stopped  chan struct{}
	peer     *peerConn
}

func (h *harness) openAsync() *asyncClient {
	fc := newFakeConn()
	a := &asyncClient{fc: fc, toPeer: newBufPipe(), inbound: make(chan []byte, 1024),
		done: make(chan struct{}), detached: make(chan struct{}), stopped: make(chan struct{})}
	fc.sink = a.toPeer
	a.peer = &peerConn{a: a}
	h.srv.OnOpen(fc)
	go a.run(h.srv)
	h.t.Cleanup(func() {
		select {
		case <-a.detached:
		default:
			close(a.done)
			<-a.stopped
		}
	})
	return a
}

func (a *asyncClient) run(s *Server) {
	defer close(a.stopped)
	defer a.toPeer.Close()
	for {
		select {
		case b := <-a.inbound:
			a.fc.in = append(a.fc.in, b...)
		case <-a.fc.wakes:
		case <-a.done:
			s.OnClose(a.fc, nil)
			return
		case <-a.detached:
			return
		}
		if s.OnTraffic(a.fc) != gnet.None {
			a.toPeer.Close() // closed: the peer reads EOF
			<-a.done
			s.OnClose(a.fc, nil)
			return
		}
	}
}

// detach stops the goroutine without closing the connection and returns
// it as a client driven by the caller (benchmarks). The peer's writes must
// then be captured (peer.capture); the server's go to fc.out.
func (a *asyncClient) detach(h *harness) *client {
	close(a.detached)
	<-a.stopped
	a.fc.sink = nil
	h.t.Cleanup(func() { h.srv.OnClose(a.fc, nil) })
	return &client{h: h, fc: a.fc, c: a.fc.ctx.(*conn)}
}

// peerConn is the client's end of an asyncClient.
type peerConn struct {
	a       *asyncClient
	hold    []byte        // written but not yet sent: the next Write sends both at once
	gate    chan struct{} // if set, Read waits for it to close
	capture io.Writer     // if set, writes go here instead of to the server
}

func (p *peerConn) Read(b []byte) (int, error) {
	if p.gate != nil {
		<-p.gate
	}
	return p.a.toPeer.Read(b)
}
func (p *peerConn) Write(b []byte) (int, error) {
	if p.capture != nil {
		return p.capture.Write(b)
	}
	p.a.inbound <- append(p.hold, b...)
	p.hold = nil
	return len(b), nil
}
func (p *peerConn) Close() error                     { return nil }
func (p *peerConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (p *peerConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (p *peerConn) SetDeadline(time.Time) error      { return nil }
func (p *peerConn) SetReadDeadline(time.Time) error  { return nil }
func (p *peerConn) SetWriteDeadline(time.Time) error { return nil }

// readFrame reads one server frame from r.
func readFrame(t testing.TB, r io.Reader) (int32, string) {
	t.Helper()
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:])-4)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatalf("reading a frame body: %v", err)
	}
	return int32(binary.BigEndian.Uint32(hdr[4:])), string(body)
}

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns
// their paths.
func selfSigned(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loop test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func tlsHarness(t testing.TB) *harness {
	cert, key := selfSigned(t)
	return newHarness(t, func(o *core.Options) { o.TLSCert, o.TLSKey = cert, key })
}

// TLS then snappy, with the client's ClientHello pipelined in the same read
// as its IDENTIFY: the handshake runs on the helper goroutine, the OK
// arrives over TLS, the next OK through snappy over TLS, and commands flow.
func TestTLSThenSnappy(t *testing.T) {
	for _, maxVersion := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		h := tlsHarness(t)
		a := h.openAsync()
		a.peer.hold = append([]byte(codec.Magic), command("IDENTIFY", `{"feature_negotiation":true,"tls_v1":true,"snappy":true}`)...)
		a.peer.gate = make(chan struct{}) // the handshake reads only after the JSON is read
		tc := tls.Client(a.peer, &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		handshake := make(chan error, 1)
		go func() { handshake <- tc.Handshake() }() // sends hold + ClientHello in one write
		if ft, json := readFrame(t, a.toPeer); ft != 0 || !strings.Contains(json, `"tls_v1":true`) {
			t.Fatalf("got %d %q, want the JSON response in the clear", ft, json)
		}
		close(a.peer.gate)
		if err := <-handshake; err != nil {
			t.Fatal(err)
		}
		if ft, ok := readFrame(t, tc); ft != 0 || ok != "OK" {
			t.Fatalf("over TLS got %d %q, want OK", ft, ok)
		}
		sr, sw := snappy.NewReader(tc), snappy.NewBufferedWriter(tc)
		if ft, ok := readFrame(t, sr); ft != 0 || ok != "OK" {
			t.Fatalf("through snappy got %d %q, want OK", ft, ok)
		}
		sw.Write(command("PUB t", strings.Repeat("x", 100000)))
		sw.Write(command("NOP"))
		sw.Write(command("PUB t", "two"))
		sw.Flush()
		for range 2 {
			if ft, ok := readFrame(t, sr); ft != 0 || ok != "OK" {
				t.Fatalf("PUB got %d %q, want OK", ft, ok)
			}
		}
		s := a.fc.ctx.(*conn).Stats("")
		want := map[uint16][2]string{tls.VersionTLS12: {"TLS1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
			tls.VersionTLS13: {"TLS1.3", "Unknown 4865"}}[maxVersion]
		if !s.TLS || !s.Snappy || s.TLSVersion != want[0] || s.CipherSuite != want[1] || !s.TLSNegotiatedProtocolIsMutual {
			t.Fatalf("stats %+v, want TLS %s %s with snappy", s, want[0], want[1])
		}
	}
}

// A client that does not speak TLS after asking for it gets upstream's
// E_IDENTIFY_FAILED in the clear and is closed; the helper goroutine ends.
func TestTLSHandshakeFailure(t *testing.T) {
	h := tlsHarness(t)
	a := h.openAsync()
	a.peer.Write(append([]byte(codec.Magic), command("IDENTIFY", `{"feature_negotiation":true,"tls_v1":true}`)...))
	if _, json := readFrame(t, a.peer); !strings.Contains(json, `"tls_v1":true`) {
		t.Fatalf("got %q", json)
	}
	a.peer.Write([]byte("this is not a ClientHello\n"))
	ft, msg := readFrame(t, a.peer)
	if ft != 1 || !strings.HasPrefix(msg, "E_IDENTIFY_FAILED IDENTIFY failed tls: ") {
		t.Fatalf("got %d %q, want E_IDENTIFY_FAILED", ft, msg)
	}
	if _, err := io.ReadAll(a.peer); err != nil { // EOF: closed
		t.Fatal(err)
	}
}

func TestCipherSuiteAndVersionNames(t *testing.T) {
	classic := []string{
		"TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
		"TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
		"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
		"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	}
	named := 0
	for id := 0; id < 1<<16; id++ {
		name := cipherSuiteName(uint16(id))
		if strings.HasPrefix(name, "Unknown ") {
			continue
		}
		named++
		found := false
		for _, c := range classic {
			found = found || c == name
		}
		if !found {
			t.Errorf("suite %d named %q, not one of upstream's thirteen", id, name)
		}
	}
	if named != len(classic) {
		t.Errorf("%d suites named, want %d", named, len(classic))
	}
	if got := cipherSuiteName(tls.TLS_AES_128_GCM_SHA256); got != "Unknown 4865" {
		t.Errorf("TLS 1.3 suite named %q, want Unknown 4865", got)
	}
	for v, want := range map[uint16]string{tls.VersionTLS10: "TLS1.0", tls.VersionTLS11: "TLS1.1",
		tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3", 0x0300: "Unknown 768"} {
		if got := tlsVersionName(v); got != want {
			t.Errorf("version %#x named %q, want %q", v, got, want)
		}
	}
}
