package main

import (
	"fmt"

	"nsqreactor/core"
	"nsqreactor/httpfast"
)

// startHTTP starts the HTTP API (issue #4) after the TCP listener, so that
// /info reports the real TCP port: plain HTTP on --http-address unless it is
// "", and HTTPS on --https-address when a TLS certificate is configured (as
// upstream, which opens HTTPS only then). logHTTP announces them once every
// listener is bound.
//
// It returns nil (and no error) when both are off. The error is upstream's
// "listen (<addr>) failed - <cause>".
func startHTTP(n *core.NSQD, tcpPort int) (*httpfast.Server, error) {
	opts := n.Options()
	tlsConfig, err := opts.BuildTLSConfig() // Validate has already checked it
	if err != nil {
		return nil, err
	}
	https := tlsConfig != nil && opts.HTTPSAddress != ""
	if opts.HTTPAddress == "" && !https {
		return nil, nil
	}
	s := httpfast.New(n, tcpPort)
	if opts.HTTPAddress != "" {
		if err := s.ListenHTTP(opts.HTTPAddress); err != nil {
			return nil, fmt.Errorf("listen (%s) failed - %s", opts.HTTPAddress, err)
		}
	}
	if https {
		if err := s.ListenHTTPS(opts.HTTPSAddress, tlsConfig); err != nil {
			s.Close()
			return nil, fmt.Errorf("listen (%s) failed - %s", opts.HTTPSAddress, err)
		}
	}
	return s, nil
}

// logHTTP logs upstream's lines with the bound addresses (s may be nil):
//
//	HTTP: listening on 127.0.0.1:4151
//	HTTPS: listening on 127.0.0.1:4152
func logHTTP(n *core.NSQD, s *httpfast.Server) {
	if s == nil {
		return
	}
	if addr := s.Addr(); addr != "" {
		n.Logger().Logf(core.LogLevelInfo, "HTTP: listening on %s", addr)
	}
	if addr := s.HTTPSAddr(); addr != "" {
		n.Logger().Logf(core.LogLevelInfo, "HTTPS: listening on %s", addr)
	}
}

// stopHTTP closes what startHTTP opened, logging upstream's closing lines.
// s may be nil.
func stopHTTP(n *core.NSQD, s *httpfast.Server) {
	if s == nil {
		return
	}
	if addr := s.Addr(); addr != "" {
		n.Logger().Logf(core.LogLevelInfo, "HTTP: closing %s", addr)
	}
	if addr := s.HTTPSAddr(); addr != "" {
		n.Logger().Logf(core.LogLevelInfo, "HTTPS: closing %s", addr)
	}
	s.Close()
}
