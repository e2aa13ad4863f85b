package core

// ClientStats is one connection's /stats entry (upstream's ClientStats JSON;
// field order is the wire order).
type ClientStats struct {
	ClientID                      string     `json:"client_id"`
	Hostname                      string     `json:"hostname"`
	Version                       string     `json:"version"`
	RemoteAddress                 string     `json:"remote_address"`
	State                         int32      `json:"state"`
	ReadyCount                    int64      `json:"ready_count"`
	InFlightCount                 int64      `json:"in_flight_count"`
	MessageCount                  uint64     `json:"message_count"`
	ZoneLocalMsgCount             uint64     `json:"zone_local_msg_count,omitempty"`
	RegionLocalMsgCount           uint64     `json:"region_local_msg_count,omitempty"`
	GlobalMsgCount                uint64     `json:"global_msg_count,omitempty"`
	FinishCount                   uint64     `json:"finish_count"`
	RequeueCount                  uint64     `json:"requeue_count"`
	ConnectTime                   int64      `json:"connect_ts"`
	SampleRate                    int32      `json:"sample_rate"`
	Deflate                       bool       `json:"deflate"`
	Snappy                        bool       `json:"snappy"`
	UserAgent                     string     `json:"user_agent"`
	Authed                        bool       `json:"authed,omitempty"`
	AuthIdentity                  string     `json:"auth_identity,omitempty"`
	AuthIdentityURL               string     `json:"auth_identity_url,omitempty"`
	TopologyZone                  string     `json:"topology_zone"`
	TopologyRegion                string     `json:"topology_region"`
	PubCounts                     []PubCount `json:"pub_counts,omitempty"`
	TLS                           bool       `json:"tls"`
	CipherSuite                   string     `json:"tls_cipher_suite"`
	TLSVersion                    string     `json:"tls_version"`
	TLSNegotiatedProtocol         string     `json:"tls_negotiated_protocol"`
	TLSNegotiatedProtocolIsMutual bool       `json:"tls_negotiated_protocol_is_mutual"`
}

// PubCount is how many messages a connection published to one topic.
type PubCount struct {
	Topic string `json:"topic"`
	Count uint64 `json:"count"`
}

// Client is a connection as /stats sees it. Package loop implements it.
type Client interface {
	// Stats returns the connection's figures. A non-empty topic restricts
	// PubCounts to that topic. Safe for concurrent use.
	Stats(topic string) ClientStats
	// IsProducer reports whether the connection has published.
	IsProducer() bool
}

// AddClient registers a connection for /stats.
func (n *NSQD) AddClient(id int64, c Client) {
	n.clientsMu.Lock()
	n.clients[id] = c
	n.clientsMu.Unlock()
}

// RemoveClient unregisters a connection.
func (n *NSQD) RemoveClient(id int64) {
	n.clientsMu.Lock()
	delete(n.clients, id)
	n.clientsMu.Unlock()
}

// Producers returns every connection that has published.
func (n *NSQD) Producers() []Client {
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	var list []Client
	for _, c := range n.clients {
		if c.IsProducer() {
			list = append(list, c)
		}
	}
	return list
}

// Client returns the subscriber's connection.
func (s *Subscription) Client() Client { return s.consumer }
