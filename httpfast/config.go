package httpfast

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// config is GET and PUT /config/:opt.
//
// GET returns the option named by its config-file key (the cfg tag, else
// the flag name with '-' → '_') for every core.Options field with a flag:
// strings raw, everything else as JSON (durations in nanoseconds), as
// upstream's V1 envelope renders a Go value. A few values are live or
// resolved, as upstream reports them: log_level and
// nsqlookupd_tcp_addresses (changeable by PUT), statsd_prefix (with the
// host key and trailing dot) and broadcast_tcp_port/broadcast_http_port
// (the listening ports when unset).
//
// PUT reads the body (at most --max-msg-size+1 bytes; empty or too long is
// 413 INVALID_VALUE, checked before the name) and accepts only
// nsqlookupd_tcp_addresses (a JSON array of strings) and log_level (debug,
// info, warn, error or fatal, any case); it answers with the new value.
// Changes are not persisted, as upstream.
//
// Deliberate difference: our flag set has four options from upstream's
// HEAD that v1.3.0 lacks (auth_http_request_method, enable_experiment,
// topology_region, topology_zone); GET returns them where upstream says
// INVALID_OPTION.
func (s *Server) config(ctx *fasthttp.RequestCtx, opt string) *apiError {
	if ctx.IsPut() {
		if err := s.putConfig(ctx, opt); err != nil {
			return err
		}
	}
	v, ok := s.optionValue(opt)
	if !ok {
		return errInvalidOption
	}
	if str, isString := v.(string); isString {
		respondV1(ctx, []byte(str))
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errInternal
	}
	respondV1JSON(ctx, b)
	return nil
}

func (s *Server) putConfig(ctx *fasthttp.RequestCtx, opt string) *apiError {
	limit := s.opts.MaxMsgSize
	body, err := readBody(ctx, limit)
	if err != nil {
		return errInternal
	}
	if len(body) == 0 || int64(len(body)) > limit {
		return errInvalidValueSize
	}
	switch opt {
	case "nsqlookupd_tcp_addresses":
		var addrs []string
		if json.Unmarshal(body, &addrs) != nil {
			return errInvalidValue
		}
		s.setLookupd(addrs)
	case "log_level":
		level, ok := parseLogLevel(string(body))
		if !ok {
			return errInvalidValue
		}
		s.log.SetLevel(level)
	default:
		return errInvalidOption
	}
	return nil
}

// parseLogLevel is upstream's lg.ParseLogLevel.
func parseLogLevel(s string) (int, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return core.LogLevelDebug, true
	case "info":
		return core.LogLevelInfo, true
	case "warn":
		return core.LogLevelWarn, true
	case "error":
		return core.LogLevelError, true
	case "fatal":
		return core.LogLevelFatal, true
	}
	return 0, false
}

// optionValue returns the current value of the option whose config name is
// name.
func (s *Server) optionValue(name string) (any, bool) {
	switch name {
	case "log_level":
		return s.log.Level(), true
	case "nsqlookupd_tcp_addresses":
		return s.LookupdTCPAddresses(), true
	case "statsd_prefix":
		return core.StatsdPrefix(s.opts.StatsdPrefix, s.opts.BroadcastAddress, s.Port()), true
	case "broadcast_tcp_port":
		if s.opts.BroadcastTCPPort == 0 {
			return max(s.tcpPort, 0), true
		}
	case "broadcast_http_port":
		if s.opts.BroadcastHTTPPort == 0 {
			return max(s.Port(), 0), true
		}
	}
	val := reflect.ValueOf(s.opts).Elem()
	typ := val.Type()
	for i := range typ.NumField() {
		if configName(typ.Field(i)) == name {
			return val.Field(i).Interface(), true
		}
	}
	return nil, false
}

// configName is the config-file key of an Options field with a flag, ""
// for the others.
func configName(f reflect.StructField) string {
	flagName := f.Tag.Get("flag")
	if flagName == "" || flagName == "-" {
		return ""
	}
	if cfg := f.Tag.Get("cfg"); cfg != "" {
		return cfg
	}
	return strings.ReplaceAll(flagName, "-", "_")
}
