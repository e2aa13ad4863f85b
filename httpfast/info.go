package httpfast

import (
	"strconv"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// ping is GET /ping (PlainText): "OK", or 500 "NOK - <error>" while a
// storage error is pending (core.NSQD.SetHealth).
func (s *Server) ping(ctx *fasthttp.RequestCtx, _ string) *apiError {
	if !s.nsqd.IsHealthy() {
		return &apiError{500, s.nsqd.Health()}
	}
	respondPlain(ctx, fasthttp.StatusOK, "OK")
	return nil
}

// info is GET /info. The keys and their order are upstream v1.3.0's (the
// binary has no topology_zone/topology_region, which spec §5.3 lists from a
// later version); http_port and tcp_port are the real listening ports, -1
// for a unix socket; the durations are nanoseconds.
func (s *Server) info(ctx *fasthttp.RequestCtx, _ string) *apiError {
	httpPort, tcpPort := s.Port(), s.tcpPort
	o := s.opts
	b := make([]byte, 0, 320)
	b = append(b, `{"version":`...)
	b = appendJSONString(b, core.Version)
	b = append(b, `,"broadcast_address":`...)
	b = appendJSONString(b, o.BroadcastAddress)
	b = append(b, `,"hostname":`...)
	b = appendJSONString(b, s.hostname)
	b = append(b, `,"http_port":`...)
	b = strconv.AppendInt(b, int64(httpPort), 10)
	b = append(b, `,"tcp_port":`...)
	b = strconv.AppendInt(b, int64(tcpPort), 10)
	b = append(b, `,"start_time":`...)
	b = strconv.AppendInt(b, s.nsqd.StartTime().Unix(), 10)
	b = append(b, `,"max_heartbeat_interval":`...)
	b = strconv.AppendInt(b, int64(o.MaxHeartbeatInterval), 10)
	b = append(b, `,"max_output_buffer_size":`...)
	b = strconv.AppendInt(b, o.MaxOutputBufferSize, 10)
	b = append(b, `,"max_output_buffer_timeout":`...)
	b = strconv.AppendInt(b, int64(o.MaxOutputBufferTimeout), 10)
	b = append(b, `,"max_deflate_level":`...)
	b = strconv.AppendInt(b, int64(o.MaxDeflateLevel), 10)
	b = append(b, '}')
	respondV1JSON(ctx, b)
	return nil
}
