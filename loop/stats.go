package loop

import (
	"sort"

	"nsqreactor/core"
)

// published is what the loop shares with /stats: an immutable snapshot,
// replaced (never modified) after IDENTIFY, an upgrade, AUTH and SUB.
type published struct {
	clientID, hostname, userAgent string
	topologyZone, topologyRegion  string
	sampleRate                    int32
	sub                           *core.Subscription

	snappy, deflate bool
	tls             *tlsLayer // nil until the handshake completed; its stats fields are immutable then
	authed          bool
	authIdentity    string
	authIdentityURL string
}

// shareStats replaces the snapshot /stats reads. Loop only.
func (c *conn) shareStats() {
	p := &published{
		clientID: c.clientID, hostname: c.hostname, userAgent: c.userAgent,
		topologyZone: c.topologyZone, topologyRegion: c.topologyRegion,
		sampleRate: c.sampleRate, sub: c.sub,
	}
	if x := c.ext; x != nil {
		p.snappy, p.deflate = x.compression == "snappy", x.compression == "deflate"
		if c.tlsActive() {
			p.tls = x.tls
		}
	}
	if a := c.auth; a != nil && a.state != nil {
		p.authed = a.authorized()
		p.authIdentity, p.authIdentityURL = a.state.Identity, a.state.IdentityURL
	}
	c.shared.Store(p)
}

// Stats implements core.Client. It runs on any goroutine, so it reads only
// atomics, immutable fields and the published snapshot.
func (c *conn) Stats(topic string) core.ClientStats {
	p := c.shared.Load()
	s := core.ClientStats{
		ClientID:       p.clientID,
		Hostname:       p.hostname,
		Version:        "V2",
		RemoteAddress:  c.remoteAddr,
		State:          c.state.Load(),
		ConnectTime:    c.connectTS,
		SampleRate:     p.sampleRate,
		UserAgent:      p.userAgent,
		TopologyZone:   p.topologyZone,
		TopologyRegion: p.topologyRegion,

		Snappy:          p.snappy,
		Deflate:         p.deflate,
		Authed:          p.authed,
		AuthIdentity:    p.authIdentity,
		AuthIdentityURL: p.authIdentityURL,
	}
	if l := p.tls; l != nil {
		s.TLS = true
		s.CipherSuite, s.TLSVersion = l.cipherSuite, l.version
		s.TLSNegotiatedProtocol = l.negotiatedProtocol
		s.TLSNegotiatedProtocolIsMutual = true // crypto/tls's field is deprecated and always true
	}
	if sub := p.sub; sub != nil {
		s.ReadyCount = sub.ReadyCount.Load()
		s.InFlightCount = sub.InFlightCount.Load()
		s.MessageCount = sub.MessageCount.Load()
		s.FinishCount = sub.FinishCount.Load()
		s.RequeueCount = sub.RequeueCount.Load()
	}
	c.stats.mu.Lock()
	for t, n := range c.stats.pubCounts {
		if topic == "" || t == topic {
			s.PubCounts = append(s.PubCounts, core.PubCount{Topic: t, Count: n})
		}
	}
	c.stats.mu.Unlock()
	sort.Slice(s.PubCounts, func(i, j int) bool { return s.PubCounts[i].Topic < s.PubCounts[j].Topic })
	return s
}

// IsProducer implements core.Client.
func (c *conn) IsProducer() bool { return c.stats.pubTotal.Load() > 0 }
