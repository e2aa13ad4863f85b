package codec

import "encoding/json"

// IdentifyRequest is the JSON body of IDENTIFY (spec §3.1). Pointer-free:
// absent keys decode as zero, exactly as upstream's struct does. Unknown keys
// (go-nsq's deprecated short_id/long_id) are ignored; key matching is
// encoding/json's case-insensitive match, as upstream.
type IdentifyRequest struct {
	ClientID            string `json:"client_id"`
	Hostname            string `json:"hostname"`
	HeartbeatInterval   int    `json:"heartbeat_interval"`
	OutputBufferSize    int    `json:"output_buffer_size"`
	OutputBufferTimeout int    `json:"output_buffer_timeout"`
	FeatureNegotiation  bool   `json:"feature_negotiation"`
	TLSv1               bool   `json:"tls_v1"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level"`
	Snappy              bool   `json:"snappy"`
	SampleRate          int32  `json:"sample_rate"`
	UserAgent           string `json:"user_agent"`
	MsgTimeout          int    `json:"msg_timeout"`
	TopologyRegion      string `json:"topology_region"`
	TopologyZone        string `json:"topology_zone"`
}

// ParseIdentify decodes an IDENTIFY body. Any JSON or type error is reported
// as upstream's "IDENTIFY failed to decode JSON body".
func ParseIdentify(body []byte) (IdentifyRequest, *Error) {
	var r IdentifyRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return r, NewFatal(ErrCodeBadBody, "IDENTIFY failed to decode JSON body")
	}
	return r, nil
}

// IdentifyResponse is the feature-negotiation answer (spec §3.2). Field order
// is the wire order.
type IdentifyResponse struct {
	MaxRdyCount         int64  `json:"max_rdy_count"`
	Version             string `json:"version"`
	MaxMsgTimeout       int64  `json:"max_msg_timeout"`
	MsgTimeout          int64  `json:"msg_timeout"`
	TLSv1               bool   `json:"tls_v1"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level"`
	MaxDeflateLevel     int    `json:"max_deflate_level"`
	Snappy              bool   `json:"snappy"`
	SampleRate          int32  `json:"sample_rate"`
	AuthRequired        bool   `json:"auth_required"`
	OutputBufferSize    int    `json:"output_buffer_size"`
	OutputBufferTimeout int64  `json:"output_buffer_timeout"`
	TopologyRegion      string `json:"topology_region"`
	TopologyZone        string `json:"topology_zone"`
}

// AuthResponse is the JSON answer to a successful AUTH.
type AuthResponse struct {
	Identity        string `json:"identity"`
	IdentityURL     string `json:"identity_url"`
	PermissionCount int    `json:"permission_count"`
}

// IdentifyResponseV130 is IdentifyResponse as upstream v1.3.0 sends it: the
// same keys in the same order, without the topology keys newer versions add.
type IdentifyResponseV130 struct {
	MaxRdyCount         int64  `json:"max_rdy_count"`
	Version             string `json:"version"`
	MaxMsgTimeout       int64  `json:"max_msg_timeout"`
	MsgTimeout          int64  `json:"msg_timeout"`
	TLSv1               bool   `json:"tls_v1"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level"`
	MaxDeflateLevel     int    `json:"max_deflate_level"`
	Snappy              bool   `json:"snappy"`
	SampleRate          int32  `json:"sample_rate"`
	AuthRequired        bool   `json:"auth_required"`
	OutputBufferSize    int    `json:"output_buffer_size"`
	OutputBufferTimeout int64  `json:"output_buffer_timeout"`
	TopologyRegion      string `json:"-"`
	TopologyZone        string `json:"-"`
}
