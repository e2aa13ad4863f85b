package chaos

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and its
// key as PEM files and returns their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "nsqd chaos test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With --tls-required every command but IDENTIFY is refused before the TLS
// upgrade, byte for byte `E_INVALID cannot <first token> in current state
// (TLS required)` (spec §1.4), even unknown, lowercase and empty commands,
// and the connection closes; after the upgrade the same commands work.
func TestTLSRequiredRefusesEverything(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--tls-cert="+certFile, "--tls-key="+keyFile, "--tls-required=true", "--https-address=127.0.0.1:0")
		for _, tc := range []struct {
			token string
			send  []byte
		}{
			{"PUB", pubFrame("tls", []byte("x"))},
			{"SUB", []byte("SUB tls c\n")},
			{"NOP", []byte("NOP\n")},
			{"MPUB", bodyFrame("MPUB tls", testutil.MPUBBody([]byte("x")))},
			{"DPUB", bodyFrame("DPUB tls 10", []byte("x"))},
			{"RDY", []byte("RDY 1\n")},
			{"FIN", []byte("FIN 0123456789abcdef\n")},
			{"REQ", []byte("REQ 0123456789abcdef 0\n")},
			{"TOUCH", []byte("TOUCH 0123456789abcdef\n")},
			{"CLS", []byte("CLS\n")},
			{"AUTH", bodyFrame("AUTH", []byte("secret"))},
			{"HELLO", []byte("HELLO there\n")},
			{"pub", []byte("pub tls\n")},
			{"", []byte("\n")},
		} {
			for _, identified := range []bool{false, true} {
				c := testutil.Dial(t, d.TCPAddr)
				if identified { // a plain IDENTIFY is allowed and changes nothing
					c.Identify(t, `{"client_id":"plain"}`)
				}
				c.Write(t, tc.send)
				ft, payload, err := c.ReadFrame()
				if want := "E_INVALID cannot " + tc.token + " in current state (TLS required)"; err != nil || ft != testutil.FrameError || string(payload) != want {
					t.Fatalf("%q (after IDENTIFY: %v): got %s %q %v, want error %q", tc.send, identified, testutil.FrameTypeName(ft), payload, err, want)
				}
				c.ExpectClosed(t)
			}
		}
		// after the upgrade: PUB and SUB work
		c := testutil.Dial(t, d.TCPAddr)
		resp := c.Identify(t, `{"feature_negotiation":true,"tls_v1":true}`)
		if !strings.Contains(string(resp), `"tls_v1":true`) {
			t.Fatalf("IDENTIFY response %s, want tls_v1 granted", resp)
		}
		tc := tls.Client(c.Conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		tc.SetDeadline(time.Time{})
		c.Conn = tc
		c.ExpectResponse(t, "OK")
		c.Pub(t, "tls", []byte("over tls"))
		c.Sub(t, "tls", "c")
		c.Rdy(t, 1)
		if m := c.ExpectMessage(t); string(m.Body) != "over tls" {
			t.Fatalf("got %q, want the message published over TLS", m.Body)
		}
	})
}

// hugeCases are commands whose claimed sizes exceed the default limits
// (--max-msg-size 1048576, --max-body-size 5242880), with the exact fatal
// errors of spec §1.6.
var hugeCases = []struct {
	name string
	send []byte
	want string
}{
	{"PUB 2 GiB", sizeFrame("PUB big", 0x7fffffff), "E_BAD_MESSAGE PUB message too big 2147483647 > 1048576"},
	{"PUB negative", sizeFrame("PUB big", -1), "E_BAD_MESSAGE PUB invalid message body size -1"},
	{"DPUB 2 GiB", sizeFrame("DPUB big 10", 0x7fffffff), "E_BAD_MESSAGE DPUB message too big 2147483647 > 1048576"},
	{"MPUB 2 GiB", sizeFrame("MPUB big", 0x7fffffff), "E_BAD_BODY MPUB body too big 2147483647 > 5242880"},
	{"MPUB count 2^31-1", testutil.AppendSize(sizeFrame("MPUB big", 100), 0x7fffffff), "E_BAD_BODY MPUB invalid message count 2147483647"},
	{"MPUB message 2 GiB", testutil.AppendSize(testutil.AppendSize(sizeFrame("MPUB big", 100), 1), 0x7fffffff),
		"E_BAD_MESSAGE MPUB message too big 2147483647 > 1048576"},
	{"IDENTIFY 2 GiB", sizeFrame("IDENTIFY", 0x7fffffff), "E_BAD_BODY IDENTIFY body too big 2147483647 > 5242880"},
	{"AUTH 2 GiB", sizeFrame("AUTH", 0x7fffffff), "E_BAD_BODY AUTH body too big 2147483647 > 5242880"},
}

// sizeFrame returns line, "\n" and a 4-byte size, with no body.
func sizeFrame(line string, size int32) []byte {
	return testutil.AppendSize([]byte(line+"\n"), size)
}

// Huge claimed sizes on every TCP body path are refused with upstream's
// exact errors before anything is allocated for them (200 rounds of all of
// them move neither RSS nor the address space), a command line over the
// 16 KiB read buffer is dropped, and claims within the limits whose bytes
// never come cost only the bytes that came.
func TestHugeClaimedSizes(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, tc := range hugeCases {
			c := testutil.Dial(t, d.TCPAddr)
			c.Write(t, tc.send)
			c.ExpectError(t, tc.want)
			c.ExpectClosed(t)
		}
		st0 := procStatus(t, d.PID())
		for range 200 {
			for _, tc := range hugeCases {
				c := dialRaw(t, d.TCPAddr)
				c.Write(append([]byte(testutil.Magic), tc.send...))
				c.CloseWrite()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				bufio.NewReader(c).Discard(1 << 20) // until the daemon closes
				c.Close()
			}
		}
		// a line longer than the read buffer: dropped without an answer
		long := testutil.Dial(t, d.TCPAddr)
		long.TryWrite([]byte("PUB " + strings.Repeat("a", 1<<20)))
		long.ExpectClosed(t)
		st1 := procStatus(t, d.PID())
		t.Logf("%s: %d refused huge claims: VmRSS %s → %s, VmSize %s → %s", impl.Name, 200*len(hugeCases),
			mb(st0["VmRSS"]), mb(st1["VmRSS"]), mb(st0["VmSize"]), mb(st1["VmSize"]))
		if rss, vm := st1["VmRSS"]-st0["VmRSS"], st1["VmSize"]-st0["VmSize"]; rss > 32<<20 || vm > 256<<20 {
			t.Fatalf("refusing huge claims grew VmRSS by %s and VmSize by %s, want < 32 MiB and < 256 MiB", mb(rss), mb(vm))
		}

		// Claims within the limits whose bodies never arrive. Upstream
		// allocates each claimed body up front (make([]byte, size)); ours
		// buffers only what arrives.
		const pending = 300
		var held []net.Conn
		for i := range pending {
			c := dialRaw(t, d.TCPAddr)
			frame := sizeFrame("PUB pending", 1<<20)
			if i%2 == 1 {
				frame = testutil.AppendSize(sizeFrame("MPUB pending", 5<<20), 1)
			}
			c.Write(append(append([]byte(testutil.Magic), frame...), 'x'))
			held = append(held, c)
		}
		if !waitUntil(3*time.Second, func() bool { return sockets(t, d) >= pending }) {
			t.Fatalf("daemon holds %d sockets, want ≥ %d pending connections", sockets(t, d), pending)
		}
		time.Sleep(200 * time.Millisecond)
		st2 := procStatus(t, d.PID())
		t.Logf("%s: %d connections each claiming a 1 MiB PUB or 5 MiB MPUB body, 1 byte sent: VmRSS %s → %s, VmSize %s → %s",
			impl.Name, pending, mb(st1["VmRSS"]), mb(st2["VmRSS"]), mb(st1["VmSize"]), mb(st2["VmSize"]))
		for _, c := range held {
			c.Close()
		}
		if impl.Ours {
			if rss, vm := st2["VmRSS"]-st1["VmRSS"], st2["VmSize"]-st1["VmSize"]; rss > 32<<20 || vm > 256<<20 {
				t.Fatalf("pending claims grew VmRSS by %s and VmSize by %s, want < 32 MiB and < 256 MiB", mb(rss), mb(vm))
			}
		}
		if rt := roundTrip(t, d, "huge_rt"); rt > time.Second {
			t.Fatalf("round trip after the huge claims took %v", rt)
		}
	})
}

// HTTP /pub and /mpub over the limits: upstream's 413 answers, on
// Content-Length lies and on streamed (chunked) bodies of 64 MiB, without
// the daemon buffering what it refuses.
func TestHTTPSizeLimits(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		big := func(n int) []byte { return make([]byte, n) }
		binaryCount := testutil.AppendSize(nil, 0x7fffffff)
		binaryHuge := testutil.AppendSize(testutil.AppendSize(nil, 1), 0x7fffffff)
		for _, tc := range []struct {
			name, target string
			body         []byte
			status       int
			want         string
		}{
			{"pub over max-msg-size", "/pub?topic=h", big(1<<20 + 1), 413, `{"message":"MSG_TOO_BIG"}`},
			{"mpub over max-body-size", "/mpub?topic=h", big(5<<20 + 1), 413, `{"message":"BODY_TOO_BIG"}`},
			{"mpub line over max-msg-size", "/mpub?topic=h", append(big(1<<20+1), '\n'), 413, `{"message":"MSG_TOO_BIG"}`},
			{"binary mpub count 2^31-1", "/mpub?topic=h&binary=true", binaryCount, 413, `{"message":"BAD_BODY"}`},
			{"binary mpub message 2 GiB", "/mpub?topic=h&binary=true", binaryHuge, 413, `{"message":"BAD_MESSAGE"}`},
		} {
			status, body := httpPost(t, d.HTTPAddr, tc.target, tc.body)
			if status != tc.status || string(body) != tc.want {
				t.Errorf("%s: got %d %s, want %d %s", tc.name, status, body, tc.status, tc.want)
			}
		}
		// Content-Length claims the daemon refuses from the headers alone
		for _, tc := range []struct{ target, length, want string }{
			{"/pub?topic=h", "2147483647", "MSG_TOO_BIG"},
			{"/mpub?topic=h", "2147483647", "BODY_TOO_BIG"},
		} {
			c := dialRaw(t, d.HTTPAddr)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\nsome", tc.target, tc.length)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("POST %s with Content-Length %s: %v", tc.target, tc.length, err)
			}
			resp.Body.Close()
			c.Close()
			if resp.StatusCode != 413 {
				t.Errorf("POST %s with Content-Length %s: got %d, want 413 %s", tc.target, tc.length, resp.StatusCode, tc.want)
			}
		}
		// 64 MiB streamed without a length: refused, and not buffered
		st0 := procStatus(t, d.PID())
		for _, target := range []string{"/pub?topic=h", "/mpub?topic=h"} {
			pr, pw := io.Pipe()
			go func() {
				chunk := make([]byte, 1<<20)
				for range 64 {
					if _, err := pw.Write(chunk); err != nil {
						break
					}
				}
				pw.Close()
			}()
			req, _ := http.NewRequest("POST", "http://"+d.HTTPAddr+target, pr)
			resp, err := httpClient.Do(req)
			pr.Close()
			if err != nil {
				t.Logf("%s streamed 64 MiB: %v (a reset after the answer is allowed)", target, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != 413 {
				t.Errorf("%s streamed 64 MiB: got %d, want 413", target, resp.StatusCode)
			}
		}
		st1 := procStatus(t, d.PID())
		t.Logf("%s: after 2 × 64 MiB streamed bodies refused: VmRSS %s → %s", impl.Name, mb(st0["VmRSS"]), mb(st1["VmRSS"]))
		if grow := st1["VmRSS"] - st0["VmRSS"]; grow > 48<<20 {
			t.Fatalf("VmRSS grew by %s while refusing streamed bodies, want < 48 MiB", mb(grow))
		}
	})
}

// Topic and channel names can never reach outside --data-path: names with
// "/", "\", "%2F" or NUL are refused on TCP and HTTP; "..", "." and "..."
// are valid names (upstream's regexp) whose files stay inside. Afterwards
// the sandbox around the data path holds only the data path, which holds
// only plain files, and the working directory is unchanged.
func TestNamesStayInDataPath(t *testing.T) {
	eachImpl(t, true, func(t *testing.T, impl testutil.Impl) {
		sandbox := t.TempDir()
		data := filepath.Join(sandbox, "data")
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		cwd, _ := os.Getwd()
		before := listDir(t, cwd)
		d := impl.Start(t, "--data-path="+data, "--mem-queue-size=0")

		valid := []string{"..", ".", "...", "..x", "x.."}
		bad := []string{"../escape", "../../escape", "a/b", "/abs", `..\escape`, "%2F", "..%2F..%2Fescape",
			"x\x00y", "../escape#ephemeral", "a/../b"}
		for _, name := range valid {
			c := testutil.Dial(t, d.TCPAddr)
			c.Pub(t, name, []byte("inside"))
			c.Sub(t, name, name)
		}
		for _, name := range bad {
			for _, tc := range []struct{ send, want string }{
				{string(pubFrame(name, []byte("x"))), fmt.Sprintf("E_BAD_TOPIC PUB topic name %q is not valid", name)},
				{string(bodyFrame("MPUB "+name, testutil.MPUBBody([]byte("x")))), fmt.Sprintf("E_BAD_TOPIC E_BAD_TOPIC MPUB topic name %q is not valid", name)},
				{string(bodyFrame("DPUB "+name+" 1", []byte("x"))), fmt.Sprintf("E_BAD_TOPIC DPUB topic name %q is not valid", name)},
				{"SUB " + name + " c\n", fmt.Sprintf("E_BAD_TOPIC SUB topic name %q is not valid", name)},
				{"SUB ok " + name + "\n", fmt.Sprintf("E_BAD_CHANNEL SUB channel name %q is not valid", name)},
			} {
				c := testutil.Dial(t, d.TCPAddr)
				c.Write(t, []byte(tc.send))
				c.ExpectError(t, tc.want)
				c.ExpectClosed(t)
			}
		}
		for _, tc := range []struct {
			method, target string
			status         int
			body           string
		}{
			{"POST", "/pub?topic=..%2Fescape", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/pub?topic=..%2F..%2Fescape", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/pub?topic=a%2Fb", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/pub?topic=..%5Cescape", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/pub?topic=%252F", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/pub?topic=x%00y", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/mpub?topic=..%2Fescape", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/topic/create?topic=..%2Fescape", 400, `{"message":"INVALID_TOPIC"}`},
			{"POST", "/channel/create?topic=ok&channel=..%2Fescape", 400, `{"message":"INVALID_ARG_CHANNEL"}`},
			{"POST", "/pub?topic=%2E%2E", 200, "OK"},
			{"POST", "/channel/create?topic=%2E%2E&channel=%2E", 200, ""},
		} {
			req, _ := http.NewRequest(tc.method, "http://"+d.HTTPAddr+tc.target, strings.NewReader("x"))
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.target, err)
			}
			body := readAll(resp)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.target, resp.StatusCode, body, tc.status, tc.body)
			}
		}
		// the URL path itself
		for _, target := range []string{"/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/debug/pprof/../../../etc/passwd"} {
			c := dialRaw(t, d.HTTPAddr)
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("GET %s: %v", target, err)
			}
			body := readAll(resp)
			c.Close()
			if resp.StatusCode == 200 || strings.Contains(body, "root:") {
				t.Errorf("GET %s: got %d %.80q, want an error", target, resp.StatusCode, body)
			}
		}
		d.Stop() // a clean stop writes every queue and the metadata
		if got := listDir(t, sandbox); !slices.Equal(got, []string{"data"}) {
			t.Errorf("sandbox around --data-path holds %q, want only data", got)
		}
		files := listDir(t, data)
		for _, name := range files {
			if fi, err := os.Lstat(filepath.Join(data, name)); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("data path holds %q, not a plain file (%v)", name, err)
			}
		}
		// topic ".." is stored as "...queue.meta" (ours), "...diskqueue.meta.dat" (upstream)
		if !slices.Contains(files, "...queue.meta") && !slices.Contains(files, "...diskqueue.meta.dat") {
			t.Errorf("no queue files for topic \"..\" in the data path: %q", files)
		}
		if after := listDir(t, cwd); !slices.Equal(after, before) {
			t.Errorf("working directory changed: %q → %q", before, after)
		}
		t.Logf("%s: data path holds %d files", impl.Name, len(files))
	})
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// readAll returns resp's body as a string and closes it.
func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
