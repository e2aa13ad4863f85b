package compat

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"nsqreactor/internal/testutil"
)

// testPKI is a CA, a server certificate for 127.0.0.1 signed by it, a client
// certificate (CN "client1") signed by it, and a self-signed "stranger"
// client certificate, all generated for the test and written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	client, stranger          tls.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	issue := func(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	write := func(name string, blocks ...*pem.Block) string {
		var b bytes.Buffer
		for _, bl := range blocks {
			pem.Encode(&b, bl)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyBlock := func(k *ecdsa.PrivateKey) *pem.Block {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	}
	certBlock := func(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }

	caKey := newKey()
	ca := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "compat test CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, caKey, nil)
	serverKey := newKey()
	server := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "nsqd"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}, ca, serverKey, caKey)
	clientKey := newKey()
	client := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "client1"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, clientKey, caKey)
	strangerKey := newKey()
	stranger := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "stranger"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, nil, strangerKey, nil)

	p := &testPKI{
		caFile:   write("ca.pem", certBlock(ca)),
		certFile: write("server.pem", certBlock(server)),
		keyFile:  write("server.key", keyBlock(serverKey)),
		pool:     x509.NewCertPool(),
		client:   tls.Certificate{Certificate: [][]byte{client.Raw}, PrivateKey: clientKey},
		stranger: tls.Certificate{Certificate: [][]byte{stranger.Raw}, PrivateKey: strangerKey},
	}
	p.pool.AddCert(ca)
	return p
}

// flags are the server TLS flags, plus extra ones. With a certificate
// upstream also serves HTTPS (default 0.0.0.0:4152), so it gets a free port.
func (p *testPKI) flags(extra ...string) []string {
	return append([]string{"--tls-cert=" + p.certFile, "--tls-key=" + p.keyFile, "--https-address=127.0.0.1:0"}, extra...)
}

// clientConfig trusts the test CA and presents cert, if any.
func (p *testPKI) clientConfig(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// tlsRaw upgrades a raw connection whose IDENTIFY asked for tls_v1 and
// returns it reading and writing through TLS, after checking the upgrade's
// OK arrives encrypted.
func tlsRaw(t *testing.T, c *testutil.RawConn, cfg *tls.Config) *tls.Conn {
	t.Helper()
	tc := tls.Client(c.Conn, cfg)
	tc.SetDeadline(time.Now().Add(testutil.DefaultTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	c.Upgrade(func(io.Reader) io.Reader { return tc }, func(io.Writer) (io.Writer, func() error) { return tc, func() error { return nil } })
	c.ExpectResponse(t, "OK")
	return tc
}

// Spec §3.2: tls_v1 is true in the IDENTIFY response only when the server
// has a certificate and the client asked.
func TestTLSNegotiation(t *testing.T) {
	pki := newTestPKI(t)
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pki.flags()...)
		for _, tc := range []struct{ identify, want string }{
			{`{"feature_negotiation":true}`, `"tls_v1":false`},
			{`{"feature_negotiation":true,"tls_v1":false}`, `"tls_v1":false`},
			{`{"feature_negotiation":true,"tls_v1":true}`, `"tls_v1":true`},
		} {
			t.Run(tc.identify, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				if got := c.Identify(t, tc.identify); !bytes.Contains(got, []byte(tc.want)) {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				if tc.want == `"tls_v1":true` {
					tlsRaw(t, c, pki.clientConfig(nil))
				}
				c.ExpectAlive(t)
			})
		}
	})
}

// go-nsq over TLS, alone and with each compression on top, publishing and
// consuming (spec §3.3: TLS first, then snappy or deflate).
func TestTLSGoNSQ(t *testing.T) {
	pki := newTestPKI(t)
	for _, layer := range []string{"tls", "tls+snappy", "tls+deflate"} {
		t.Run(layer, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
				d := impl.Start(t, pki.flags()...)
				cfg := nsq.NewConfig()
				cfg.TlsV1 = true
				cfg.TlsConfig = pki.clientConfig(nil)
				cfg.Snappy = strings.HasSuffix(layer, "snappy")
				cfg.Deflate = strings.HasSuffix(layer, "deflate")
				roundTrip(t, d, cfg, bodies("tls", 50))
			})
		})
	}
}

// roundTrip publishes want (100 by MPUB if possible, the rest by PUB) with a
// go-nsq producer and consumes them with a go-nsq consumer, both with cfg.
func roundTrip(t *testing.T, d *testutil.Daemon, cfg *nsq.Config, want []string) {
	t.Helper()
	topic := uniq(t, "rt")
	log := newLog(t)
	got := newReceived()
	startConsumer(t, d, topic, "c", cfg, log, 2, func(m *nsq.Message) error { got.add(m); return nil })
	p := newProducer(t, d, cfg, log)
	half := len(want) / 2
	if err := p.MultiPublish(topic, bytesOf(want[:half])); err != nil {
		t.Fatal(err)
	}
	for _, b := range want[half:] {
		if err := p.Publish(topic, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	all := got.await(t, len(want), 20*time.Second)
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(all, sorted) {
		t.Fatalf("got %d messages, want each of %d exactly once", len(all), len(want))
	}
	if log.sawError() {
		t.Fatalf("go-nsq logged an error:\n%s", log)
	}
}

// Spec §8.5 client certificates: "require" wants any certificate,
// "require-verify" one signed by --tls-root-ca-file; both imply
// --tls-required.
func TestTLSClientAuthPolicy(t *testing.T) {
	pki := newTestPKI(t)
	cases := []struct {
		policy string
		cert   *tls.Certificate
		ok     bool
	}{
		{"require", &pki.client, true},
		{"require", &pki.stranger, true},
		{"require", nil, false},
		{"require-verify", &pki.client, true},
		{"require-verify", &pki.stranger, false},
		{"require-verify", nil, false},
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		// no --tls-root-ca-file for "require": with one, the server lists its
		// CA and a Go client withholds a certificate that CA did not sign
		daemons := map[string]*testutil.Daemon{
			"require":        impl.Start(t, pki.flags("--tls-client-auth-policy=require")...),
			"require-verify": impl.Start(t, pki.flags("--tls-client-auth-policy=require-verify", "--tls-root-ca-file="+pki.caFile)...),
		}
		for _, tc := range cases {
			name := tc.policy + "/none"
			if tc.cert != nil {
				name = tc.policy + "/" + map[bool]string{true: "client1", false: "stranger"}[tc.cert == &pki.client]
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				d := daemons[tc.policy]
				cfg := nsq.NewConfig()
				cfg.TlsV1 = true
				cfg.TlsConfig = pki.clientConfig(tc.cert)
				err := newProducer(t, d, cfg, newLog(t)).Publish(uniq(t, "cert"), []byte("x"))
				if (err == nil) != tc.ok {
					t.Fatalf("publish: got %v, want success %v", err, tc.ok)
				}
				// the policy implies --tls-required
				c := testutil.Dial(t, d.TCPAddr)
				c.Command(t, "NOP")
				c.ExpectError(t, "E_INVALID cannot NOP in current state (TLS required)")
				c.ExpectClosed(t)
			})
		}
	})
}

// Spec §1.4: under --tls-required (true or tcp-https) every command but
// IDENTIFY fails until the TLS upgrade, named by its raw first token.
func TestTLSRequired(t *testing.T) {
	pki := newTestPKI(t)
	for _, mode := range []string{"true", "tcp-https"} {
		t.Run(mode, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
				d := impl.Start(t, pki.flags("--tls-required="+mode)...)
				topic := uniq(t, "req")
				runFatalCases(t, d, nil, []errCase{
					{"PUB", cmdBody("PUB "+topic, "x"), "E_INVALID cannot PUB in current state (TLS required)"},
					{"NOP", cmd("NOP"), "E_INVALID cannot NOP in current state (TLS required)"},
					{"unknown", cmd("HELLO there"), "E_INVALID cannot HELLO in current state (TLS required)"},
					{"SUB", cmd("SUB " + topic + " c"), "E_INVALID cannot SUB in current state (TLS required)"},
					{"AUTH", cmdBody("AUTH", "s"), "E_INVALID cannot AUTH in current state (TLS required)"},
				})
				t.Run("identify without tls", func(t *testing.T) {
					t.Parallel()
					c := testutil.Dial(t, d.TCPAddr)
					c.Identify(t, `{"feature_negotiation":true}`)
					c.CommandBody(t, "PUB "+topic, []byte("x"))
					c.ExpectError(t, "E_INVALID cannot PUB in current state (TLS required)")
					c.ExpectClosed(t)
				})
				t.Run("after the upgrade", func(t *testing.T) {
					t.Parallel()
					c := testutil.Dial(t, d.TCPAddr)
					c.Identify(t, `{"feature_negotiation":true,"tls_v1":true}`)
					tlsRaw(t, c, pki.clientConfig(nil))
					c.Pub(t, topic, []byte("over tls"))
					c.Sub(t, topic, "c")
					c.Rdy(t, 1)
					if m := c.ExpectMessage(t); string(m.Body) != "over tls" {
						t.Fatalf("got %q", m.Body)
					}
				})
				t.Run("go-nsq plain", func(t *testing.T) {
					t.Parallel()
					err := newProducer(t, d, nil, newLog(t)).Publish(topic, []byte("plain"))
					if err == nil || !strings.Contains(err.Error(), "E_INVALID cannot PUB in current state (TLS required)") {
						t.Fatalf("plain go-nsq publish: got %v", err)
					}
				})
			})
		})
	}
}

// Spec §8.5: --tls-min-version bounds the handshake.
func TestTLSMinVersion(t *testing.T) {
	pki := newTestPKI(t)
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pki.flags("--tls-min-version=tls1.3")...)
		for _, tc := range []struct {
			max uint16
			ok  bool
		}{{tls.VersionTLS12, false}, {tls.VersionTLS13, true}} {
			t.Run(tlsVersionString(tc.max), func(t *testing.T) {
				t.Parallel()
				cfg := nsq.NewConfig()
				cfg.TlsV1 = true
				cfg.TlsConfig = pki.clientConfig(nil)
				cfg.TlsConfig.MaxVersion = tc.max
				err := newProducer(t, d, cfg, newLog(t)).Publish(uniq(t, "minv"), []byte("x"))
				if (err == nil) != tc.ok {
					t.Fatalf("publish with TLS max %s: got %v, want success %v", tlsVersionString(tc.max), err, tc.ok)
				}
			})
		}
	})
}

func tlsVersionString(v uint16) string {
	return map[uint16]string{tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3"}[v]
}

// Spec §5.6 client TLS fields in /stats: version, the cipher suite by name
// for the classic suites and "Unknown <n>" otherwise (TLS 1.3's), and the
// auth server hears tls=true and the client certificate's CN.
func TestTLSStatsAndAuth(t *testing.T) {
	pki := newTestPKI(t)
	cases := []struct {
		max               uint16
		version, cipher   string
		suites            []uint16
		compression, stat string
	}{
		{tls.VersionTLS13, "TLS1.3", "Unknown 4865", nil, "snappy", "snappy"},
		{tls.VersionTLS12, "TLS1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, "deflate", "deflate"},
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		a := newAuthServer(t, map[string]authAnswer{"": {body: grantAll}})
		// tcp-https: the policy would otherwise require TLS on HTTP too,
		// and /stats answers plain HTTP with 403 TLS_REQUIRED
		d := impl.Start(t, pki.flags("--tls-client-auth-policy=require-verify", "--tls-root-ca-file="+pki.caFile,
			"--tls-required=tcp-https", "--auth-http-address="+a.addr())...)
		for _, tc := range cases {
			t.Run(tc.version, func(t *testing.T) {
				topic := uniq(t, "tstat")
				cfg := nsq.NewConfig()
				cfg.TlsV1 = true
				cfg.TlsConfig = pki.clientConfig(&pki.client)
				cfg.TlsConfig.MaxVersion = tc.max
				cfg.TlsConfig.CipherSuites = tc.suites
				cfg.Snappy = tc.compression == "snappy"
				cfg.Deflate = tc.compression == "deflate"
				cfg.AuthSecret = "s"
				startConsumer(t, d, topic, "c", cfg, newLog(t), 1, func(*nsq.Message) error { return nil })
				s := clientStats(t, d, topic)
				want := map[string]any{
					"tls": true, "tls_version": tc.version, "tls_cipher_suite": tc.cipher,
					"tls_negotiated_protocol": "", "tls_negotiated_protocol_is_mutual": true,
					tc.stat: true, "authed": true,
				}
				for k, v := range want {
					if s[k] != v {
						t.Fatalf("client stats %s = %v, want %v (all: %v)", k, s[k], v, s)
					}
				}
			})
		}
		reqs := a.requests()
		if len(reqs) == 0 || !strings.Contains(reqs[0].uri, "common_name=client1&") || !strings.HasSuffix(reqs[0].uri, "&tls=true") {
			t.Fatalf("auth requests %+v, want common_name=client1 and tls=true", reqs)
		}
	})
}
