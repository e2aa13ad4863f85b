package core

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Validate checks the options in upstream nsqd.New's order (after the
// data-path lock, which is the caller's first step) and returns the first
// problem, with upstream's exact text:
//
//	--max-deflate-level must be [1,9]
//	--node-id must be [0,1024)
//	failed to build TLS config - <err>
//	cannot require TLS client connections without TLS key and cert
//	failed to build client TLS config - <err>
//	--auth-http-request-method must be post or get
//	invalid E2E processing latency percentile: <v>
//
// The caller prints "failed to instantiate nsqd - <err>" and exits 1.
//
// Like upstream, Validate also normalizes: a non-empty TLSClientAuthPolicy
// with TLSRequired == TLSNotRequired sets TLSRequired = TLSRequired (a
// tcp-https requirement is kept). It reads the TLS files but keeps nothing;
// use BuildTLSConfig and BuildClientTLSConfig for the configs.
// Not safe for concurrent use with other users of o.
func (o *Options) Validate() error {
	if o.MaxDeflateLevel < 1 || o.MaxDeflateLevel > 9 {
		return errors.New("--max-deflate-level must be [1,9]")
	}
	if o.ID < 0 || o.ID >= 1024 {
		return errors.New("--node-id must be [0,1024)")
	}

	if o.TLSClientAuthPolicy != "" && o.TLSRequired == TLSNotRequired {
		o.TLSRequired = TLSRequired
	}
	serverTLS, err := o.BuildTLSConfig()
	if err != nil {
		return fmt.Errorf("failed to build TLS config - %w", err)
	}
	if serverTLS == nil && o.TLSRequired != TLSNotRequired {
		return errors.New("cannot require TLS client connections without TLS key and cert")
	}
	if _, err := o.BuildClientTLSConfig(); err != nil {
		return fmt.Errorf("failed to build client TLS config - %w", err)
	}

	// From upstream HEAD (1.3.0 has no such option): exactly lower case.
	if o.AuthHTTPRequestMethod != "post" && o.AuthHTTPRequestMethod != "get" {
		return errors.New("--auth-http-request-method must be post or get")
	}

	for _, v := range o.E2EProcessingLatencyPercentiles {
		// Matches upstream: NaN passes (both comparisons are false).
		if v <= 0 || v > 1 {
			return fmt.Errorf("invalid E2E processing latency percentile: %v", v)
		}
	}
	return nil
}

// BuildTLSConfig returns the server TLS config used for the IDENTIFY tls_v1
// upgrade and the HTTPS listener, or nil (and no error) when neither
// TLSCert nor TLSKey is set, which means TLS is off. As upstream:
//
//   - the certificate is the TLSCert/TLSKey pair (both must load);
//   - MinVersion is TLSMinVersion, cipher suites are Go's defaults;
//   - TLSClientAuthPolicy "require" asks for any client certificate without
//     verifying it, "require-verify" asks for one and verifies it against
//     TLSRootCAFile; anything else requests no client certificate;
//   - TLSRootCAFile, when set, becomes ClientCAs (it must parse).
//
// Errors are the bare causes (e.g. "open : no such file or directory",
// "failed to append certificate to pool"); Validate adds the prefix.
func (o *Options) BuildTLSConfig() (*tls.Config, error) {
	if o.TLSCert == "" && o.TLSKey == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		return nil, err
	}
	clientAuth := tls.NoClientCert
	switch o.TLSClientAuthPolicy {
	case "require":
		clientAuth = tls.RequireAnyClientCert
	case "require-verify":
		clientAuth = tls.RequireAndVerifyClientCert
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   clientAuth,
		MinVersion:   o.TLSMinVersion,
	}
	if o.TLSRootCAFile != "" {
		if cfg.ClientCAs, err = loadCertPool(o.TLSRootCAFile); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// BuildClientTLSConfig returns the TLS config for outgoing HTTPS requests
// (the auth server): MinVersion is TLSMinVersion, and RootCAs is
// TLSRootCAFile when set (system roots otherwise). It never returns nil
// without an error.
func (o *Options) BuildClientTLSConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: o.TLSMinVersion}
	if o.TLSRootCAFile != "" {
		pool, err := loadCertPool(o.TLSRootCAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// loadCertPool reads a PEM bundle; it fails unless at least one certificate
// parses, with upstream's "failed to append certificate to pool".
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("failed to append certificate to pool")
	}
	return pool, nil
}
