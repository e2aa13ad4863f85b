package core

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testTLSFiles is a self-signed certificate and key written as PEM files.
type testTLSFiles struct {
	cert, key, garbage string
}

func writeTestTLSFiles(t *testing.T) testTLSFiles {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "nsqd-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := testTLSFiles{
		cert:    filepath.Join(dir, "cert.pem"),
		key:     filepath.Join(dir, "key.pem"),
		garbage: filepath.Join(dir, "garbage.pem"),
	}
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(f.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(f.key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	write(f.garbage, []byte("not a certificate\n"))
	return f
}

func TestOptionsValidate(t *testing.T) {
	files := writeTestTLSFiles(t)
	tests := []struct {
		name   string
		modify func(o *Options)
		want   string
	}{
		{"defaults", func(o *Options) {}, ""},
		{"deflate level 0", func(o *Options) { o.MaxDeflateLevel = 0 }, "--max-deflate-level must be [1,9]"},
		{"deflate level 10", func(o *Options) { o.MaxDeflateLevel = 10 }, "--max-deflate-level must be [1,9]"},
		{"deflate level 1 and 9 ok", func(o *Options) { o.MaxDeflateLevel = 9 }, ""},
		{"deflate before node id", func(o *Options) { o.MaxDeflateLevel = 10; o.ID = 1024 }, "--max-deflate-level must be [1,9]"},
		{"node id 1024", func(o *Options) { o.ID = 1024 }, "--node-id must be [0,1024)"},
		{"node id -1", func(o *Options) { o.ID = -1 }, "--node-id must be [0,1024)"},
		{"node id 0 and 1023 ok", func(o *Options) { o.ID = 1023 }, ""},
		{"node id before TLS", func(o *Options) { o.ID = 1024; o.TLSCert = "/nonexistent" }, "--node-id must be [0,1024)"},
		{"cert only", func(o *Options) { o.TLSCert = files.cert }, "failed to build TLS config - open : no such file or directory"},
		{"missing cert", func(o *Options) { o.TLSCert = "/nonexistent"; o.TLSKey = files.key },
			"failed to build TLS config - open /nonexistent: no such file or directory"},
		{"bad server CA", func(o *Options) { o.TLSCert, o.TLSKey, o.TLSRootCAFile = files.cert, files.key, files.garbage },
			"failed to build TLS config - failed to append certificate to pool"},
		{"required without cert", func(o *Options) { o.TLSRequired = TLSRequired },
			"cannot require TLS client connections without TLS key and cert"},
		{"tcp-https without cert", func(o *Options) { o.TLSRequired = TLSRequiredExceptHTTP },
			"cannot require TLS client connections without TLS key and cert"},
		{"policy implies required", func(o *Options) { o.TLSClientAuthPolicy = "whatever" },
			"cannot require TLS client connections without TLS key and cert"},
		{"required with cert", func(o *Options) { o.TLSCert, o.TLSKey, o.TLSRequired = files.cert, files.key, TLSRequired }, ""},
		{"client CA missing", func(o *Options) { o.TLSRootCAFile = "/nonexistent" },
			"failed to build client TLS config - open /nonexistent: no such file or directory"},
		{"client CA garbage", func(o *Options) { o.TLSRootCAFile = files.garbage },
			"failed to build client TLS config - failed to append certificate to pool"},
		{"client CA ok", func(o *Options) { o.TLSRootCAFile = files.cert }, ""},
		{"auth method post", func(o *Options) { o.AuthHTTPRequestMethod = "post" }, ""},
		{"auth method upper case", func(o *Options) { o.AuthHTTPRequestMethod = "GET" }, "--auth-http-request-method must be post or get"},
		{"auth method empty", func(o *Options) { o.AuthHTTPRequestMethod = "" }, "--auth-http-request-method must be post or get"},
		{"auth method before e2e", func(o *Options) { o.AuthHTTPRequestMethod = "put"; o.E2EProcessingLatencyPercentiles = []float64{2} },
			"--auth-http-request-method must be post or get"},
		{"e2e ok", func(o *Options) { o.E2EProcessingLatencyPercentiles = []float64{1, 0.99, 0.0001} }, ""},
		{"e2e zero", func(o *Options) { o.E2EProcessingLatencyPercentiles = []float64{1, 0} }, "invalid E2E processing latency percentile: 0"},
		{"e2e above one", func(o *Options) { o.E2EProcessingLatencyPercentiles = []float64{1.5} }, "invalid E2E processing latency percentile: 1.5"},
		{"e2e negative", func(o *Options) { o.E2EProcessingLatencyPercentiles = []float64{-0.25} }, "invalid E2E processing latency percentile: -0.25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions()
			tt.modify(o)
			got := ""
			if err := o.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOptionsValidateTLSRequiredNormalization: a client auth policy turns
// "not required" into "required", and leaves tcp-https alone (upstream New).
func TestOptionsValidateTLSRequiredNormalization(t *testing.T) {
	files := writeTestTLSFiles(t)
	for _, tt := range []struct {
		policy   string
		in, want int
	}{
		{"", TLSNotRequired, TLSNotRequired},
		{"require", TLSNotRequired, TLSRequired},
		{"require-verify", TLSNotRequired, TLSRequired},
		{"require", TLSRequiredExceptHTTP, TLSRequiredExceptHTTP},
	} {
		o := NewOptions()
		o.TLSCert, o.TLSKey, o.TLSRootCAFile = files.cert, files.key, files.cert
		o.TLSClientAuthPolicy, o.TLSRequired = tt.policy, tt.in
		if err := o.Validate(); err != nil {
			t.Fatalf("policy %q: Validate() = %v", tt.policy, err)
		}
		if o.TLSRequired != tt.want {
			t.Errorf("policy %q, TLSRequired %d: got %d, want %d", tt.policy, tt.in, o.TLSRequired, tt.want)
		}
	}
}

func TestOptionsBuildTLSConfig(t *testing.T) {
	files := writeTestTLSFiles(t)

	o := NewOptions()
	if cfg, err := o.BuildTLSConfig(); cfg != nil || err != nil {
		t.Fatalf("no cert/key: got %v, %v, want nil, nil", cfg, err)
	}

	for _, tt := range []struct {
		policy string
		want   tls.ClientAuthType
	}{
		{"", tls.NoClientCert},
		{"require", tls.RequireAnyClientCert},
		{"require-verify", tls.RequireAndVerifyClientCert},
		{"Require", tls.NoClientCert}, // exact match only, as upstream
	} {
		o := NewOptions()
		o.TLSCert, o.TLSKey, o.TLSClientAuthPolicy = files.cert, files.key, tt.policy
		o.TLSMinVersion = tls.VersionTLS12
		cfg, err := o.BuildTLSConfig()
		if err != nil {
			t.Fatalf("policy %q: %v", tt.policy, err)
		}
		if cfg.ClientAuth != tt.want {
			t.Errorf("policy %q: ClientAuth = %v, want %v", tt.policy, cfg.ClientAuth, tt.want)
		}
		if len(cfg.Certificates) != 1 || cfg.MinVersion != tls.VersionTLS12 || cfg.ClientCAs != nil {
			t.Errorf("policy %q: got %d certs, MinVersion %#x, ClientCAs %v", tt.policy, len(cfg.Certificates), cfg.MinVersion, cfg.ClientCAs)
		}
	}

	o = NewOptions()
	o.TLSCert, o.TLSKey, o.TLSRootCAFile = files.cert, files.key, files.cert
	cfg, err := o.BuildTLSConfig()
	if err != nil || cfg.ClientCAs == nil {
		t.Fatalf("with root CA: cfg %v, err %v; want ClientCAs set", cfg, err)
	}
	if cfg.MinVersion != tls.VersionTLS10 {
		t.Errorf("default MinVersion = %#x, want TLS 1.0", cfg.MinVersion)
	}
}

func TestOptionsBuildClientTLSConfig(t *testing.T) {
	files := writeTestTLSFiles(t)

	o := NewOptions()
	cfg, err := o.BuildClientTLSConfig()
	if err != nil || cfg == nil || cfg.RootCAs != nil || cfg.MinVersion != tls.VersionTLS10 {
		t.Fatalf("defaults: cfg %+v, err %v; want system roots, TLS 1.0", cfg, err)
	}

	o.TLSRootCAFile, o.TLSMinVersion = files.cert, tls.VersionTLS13
	cfg, err = o.BuildClientTLSConfig()
	if err != nil || cfg.RootCAs == nil || cfg.MinVersion != tls.VersionTLS13 {
		t.Fatalf("with CA: cfg %+v, err %v; want RootCAs, TLS 1.3", cfg, err)
	}
	// The pool must contain our certificate: verify it against the pool.
	pemBytes, _ := os.ReadFile(files.cert)
	block, _ := pem.Decode(pemBytes)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs}); err != nil {
		t.Errorf("certificate does not verify against RootCAs: %v", err)
	}
}
