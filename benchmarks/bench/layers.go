package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"

	"nsqreactor/benchmarks/wire"
)

// The layers scenario runs pub+sub through a negotiated stream layer. Both daemons start with
// the same --tls-cert/--tls-key (a self-signed ECDSA P-256 certificate made for the run), so
// every layers case runs against the same daemon configuration whether or not it uses TLS.
const (
	layerPubBatch = 64     // PUBs per write (one compressed unit, at most a few TLS records)
	layerWindow   = 20_000 // messages published but not yet both acknowledged and delivered
	layerDeflate  = 6      // deflate_level asked for: upstream's default --max-deflate-level
)

// layerStacks are the layers cases, in the order they run.
var layerStacks = []struct {
	name            string
	tls             bool
	snappy, deflate bool
}{
	{"plain", false, false, false}, // the reference: what the layers add to
	{"snappy", false, true, false},
	{"deflate", false, false, true},
	{"tls", true, false, false},
	{"tls+snappy", true, true, false},
}

// layerCases returns one case per stack in layerStacks.
func layerCases(mem []string) []Case {
	var cs []Case
	for _, s := range layerStacks {
		cs = append(cs, Case{Name: "layers/" + s.name, Group: "layers", Args: mem, Prepare: writeLayerPKI,
			Run: func(e *Env) error {
				l := wire.Layers{Snappy: s.snappy, Deflate: s.deflate, DeflateLevel: layerDeflate}
				if s.tls {
					cfg, err := layerClientTLS(e.Dir)
					if err != nil {
						return err
					}
					l.TLS = cfg
				}
				return runLayers(e, l)
			}})
	}
	return cs
}

// runLayers is one layers case: a consumer (RDY Config.SubRDY, FIN per message, FINs batched
// per read burst and compressed at wire.ClientDeflateLevel) and a publisher sending PUBs
// layerPubBatch per write, both through the layers. The publisher replays one precompressed
// batch (wire.Layers.Precompress), so the client does no compression per write and the
// daemon's side is what is measured; it keeps at most layerWindow messages that are not yet
// both acknowledged and delivered, so the daemon's queues stay short. It runs flat out for
// Config.Duration and then drains; msg/s is messages published and delivered per second of the
// whole window, and daemon CPU is per message (one PUB, its OK, one delivery and its FIN).
func runLayers(e *Env, l wire.Layers) error {
	const topic, channel = "bench_layers", "layers"
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	c, err := wire.DialLayers(ctx, e.Target.TCPAddr, l, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Subscribe(topic, channel, e.Cfg.SubRDY); err != nil {
		return err
	}
	cs := &consumer{c: c}
	consumed := make(chan error, 1)
	go func() { consumed <- cs.run(-1) }()
	pc, err := wire.DialLayers(ctx, e.Target.TCPAddr, l, 0)
	if err != nil {
		return err
	}
	p := newAcker(pc)
	defer pc.Close()
	batch, err := l.Precompress(layerBatch(topic, layerPubBatch, e.Cfg.MsgSize))
	if err != nil {
		return err
	}
	failed := func() error {
		select {
		case err := <-consumed:
			return fmt.Errorf("layers: consumer stopped: %v", err)
		case err := <-p.failed:
			return fmt.Errorf("layers: PUB: %w", err)
		default:
			return nil
		}
	}

	w, err := e.Start()
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(e.Cfg.Duration)
	var sent int64
	for time.Now().Before(deadline) && sent < e.Cfg.MaxMessages {
		if err := failed(); err != nil {
			return err
		}
		if sent-min(p.acked.Load(), cs.got.Load()) >= layerWindow {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		if err := pc.WriteEncoded(batch); err != nil {
			return err
		}
		sent += layerPubBatch
	}
	for end := time.Now().Add(e.Cfg.E2EDrain); p.acked.Load() < sent || cs.got.Load() < sent; {
		if err := failed(); err != nil {
			return err
		}
		if time.Now().After(end) {
			return fmt.Errorf("layers: %d sent, %d acknowledged, %d delivered after a %v drain",
				sent, p.acked.Load(), cs.got.Load(), e.Cfg.E2EDrain)
		}
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	st, err := w.Stop()
	if err != nil {
		return err
	}
	cancel()
	if err := <-consumed; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("layers: consumer: %w", err)
	}
	e.Add("msg/s", UnitMsgPerSec, HigherBetter, rate(sent, elapsed))
	e.AddCPU(st, sent)
	return nil
}

// layerBatch returns n PUBs of size-byte bodies: pseudo-random words from a fixed seed, so
// that snappy and deflate find about as much to compress as in ordinary text and every run
// sends the same bytes.
func layerBatch(topic string, n, size int) []byte {
	words := []string{"nsq", "topic", "channel", "message", "queue", "deliver", "consumer",
		"producer", "reactor", "event", "loop", "batch", "flush", "payload", "id", "2026"}
	r := mrand.New(mrand.NewPCG(1, 2))
	var out []byte
	body := make([]byte, 0, size)
	for range n {
		body = body[:0]
		for len(body) < size {
			body = append(body, words[r.IntN(len(words))]...)
			body = append(body, ' ')
			if r.IntN(4) == 0 {
				body = append(body, byte('a'+r.IntN(26)), byte('0'+r.IntN(10)), ' ')
			}
		}
		out = wire.AppendPub(out, topic, body[:size])
	}
	return out
}

// writeLayerPKI writes a self-signed certificate for 127.0.0.1 and its key to dir and returns
// the daemon flags that use them.
func writeLayerPKI(dir string) ([]string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nsqbench"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true,
		BasicConstraintsValid: true, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	// an HTTPS listener comes with the certificate (upstream's default is 0.0.0.0:4152)
	return []string{"--tls-cert=" + certPath, "--tls-key=" + keyPath, "--https-address=127.0.0.1:0"}, nil
}

// layerClientTLS returns a client configuration that trusts the certificate writeLayerPKI
// wrote to dir.
func layerClientTLS(dir string) (*tls.Config, error) {
	pemBytes, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, errors.New("layers: no certificate in cert.pem")
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, nil
}
