package compat

import (
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"nsqreactor/internal/testutil"
)

// Spec §5.3: GET /info, key for key (the v1.3.0 binary has no
// topology_zone/topology_region keys), with the real listening ports.
func TestHTTPInfo(t *testing.T) {
	hostname, _ := os.Hostname()
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-heartbeat-interval=42s", "--max-output-buffer-size=1234",
			"--max-output-buffer-timeout=2s", "--max-deflate-level=3", "--broadcast-address=bcast.example")
		r := get(t, d.HTTPAddr, "/info")
		_, httpPort, _ := net.SplitHostPort(d.HTTPAddr)
		_, tcpPort, _ := net.SplitHostPort(d.TCPAddr)
		want := `{"version":"1.3.0","broadcast_address":"bcast.example","hostname":"` + hostname +
			`","http_port":` + httpPort + `,"tcp_port":` + tcpPort + `,"start_time":0,` +
			`"max_heartbeat_interval":42000000000,"max_output_buffer_size":1234,` +
			`"max_output_buffer_timeout":2000000000,"max_deflate_level":3}`
		got := normalizeJSON(r.Body)
		if !regexp.MustCompile(`"start_time":1[0-9]{9},`).MatchString(r.Body) {
			t.Errorf("start_time not a Unix time in seconds: %s", r.Body)
		}
		expectV1(t, "/info", httpResult{Status: r.Status, Header: r.Header, Body: got}, want, "application/json; charset=utf-8")
	})
}

// Spec §5.2/§8.7: GET /ping is PlainText (no X-NSQ-Content-Type).
func TestHTTPPing(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		r := get(t, d.HTTPAddr, "/ping")
		if r.Status != 200 || r.Body != "OK" {
			t.Fatalf("got %d %q", r.Status, r.Body)
		}
		expectHeader(t, "/ping", r, "Content-Type", "text/plain; charset=utf-8")
		expectHeader(t, "/ping", r, "X-Nsq-Content-Type", "")
	})
}

// Spec §5.8: GET /config/<name> for every option: strings raw (sniffed
// text/plain, nothing for ""), everything else JSON; durations in ns;
// resolved ports and statsd prefix.
func TestHTTPConfigGet(t *testing.T) {
	hostname, _ := os.Hostname()
	const (
		jsonType = "application/json; charset=utf-8"
		textType = "text/plain; charset=utf-8"
	)
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--node-id=42", "--e2e-processing-latency-percentile=0.5,0.99", "--tls-min-version=tls1.2",
			"--max-channel-consumers=7")
		_, httpPort, _ := net.SplitHostPort(d.HTTPAddr)
		_, tcpPort, _ := net.SplitHostPort(d.TCPAddr)
		cases := []struct{ name, body, ctype string }{
			{"id", "42", jsonType},
			{"log_level", "2", jsonType},
			{"log_prefix", "[nsqd] ", textType},
			{"tcp_address", "127.0.0.1:0", textType},
			{"http_address", "127.0.0.1:0", textType},
			{"https_address", "0.0.0.0:4152", textType},
			{"broadcast_address", hostname, textType},
			{"broadcast_tcp_port", tcpPort, jsonType},
			{"broadcast_http_port", httpPort, jsonType},
			{"nsqlookupd_tcp_addresses", "[]", jsonType},
			{"auth_http_addresses", "[]", jsonType},
			{"http_client_connect_timeout", "2000000000", jsonType},
			{"http_client_request_timeout", "5000000000", jsonType},
			{"data_path", d.DataPath, textType},
			{"mem_queue_size", "10000", jsonType},
			{"max_bytes_per_file", "104857600", jsonType},
			{"sync_every", "2500", jsonType},
			{"sync_timeout", "2000000000", jsonType},
			{"queue_scan_selection_count", "20", jsonType},
			{"queue_scan_worker_pool_max", "4", jsonType},
			{"msg_timeout", "60000000000", jsonType},
			{"max_msg_timeout", "900000000000", jsonType},
			{"max_msg_size", "1048576", jsonType},
			{"max_body_size", "5242880", jsonType},
			{"max_req_timeout", "3600000000000", jsonType},
			{"max_heartbeat_interval", "60000000000", jsonType},
			{"max_rdy_count", "2500", jsonType},
			{"max_output_buffer_size", "65536", jsonType},
			{"max_output_buffer_timeout", "30000000000", jsonType},
			{"min_output_buffer_timeout", "25000000", jsonType},
			{"output_buffer_timeout", "250000000", jsonType},
			{"max_channel_consumers", "7", jsonType},
			{"statsd_address", "", ""},
			{"statsd_prefix", "nsq." + hostKey(t) + "_" + httpPort + ".", textType},
			{"statsd_interval", "60000000000", jsonType},
			{"statsd_mem_stats", "true", jsonType},
			{"statsd_udp_packet_size", "508", jsonType},
			{"statsd_exclude_ephemeral", "false", jsonType},
			{"e2e_processing_latency_window_time", "600000000000", jsonType},
			{"e2e_processing_latency_percentiles", "[0.99,0.5]", jsonType},
			{"tls_cert", "", ""},
			{"tls_key", "", ""},
			{"tls_client_auth_policy", "", ""},
			{"tls_root_ca_file", "", ""},
			{"tls_required", "0", jsonType},
			{"tls_min_version", "771", jsonType},
			{"deflate", "true", jsonType},
			{"max_deflate_level", "6", jsonType},
			{"snappy", "true", jsonType},
		}
		for _, tc := range cases {
			expectV1(t, "/config/"+tc.name, get(t, d.HTTPAddr, "/config/"+tc.name), tc.body, tc.ctype)
		}
		for _, name := range []string{"nope", "logger", "Logger", "LOG_LEVEL", "queue_scan_interval", "client_timeout",
			"verbose", "worker_id", "config", "version", "node_id", "lookupd_tcp_address", "log-level", "%20"} {
			expectV1Error(t, "/config/"+name, get(t, d.HTTPAddr, "/config/"+name), 400, "INVALID_OPTION")
		}
		// DELIBERATE DIFFERENCE: four options of upstream's HEAD that
		// v1.3.0 lacks are flags of ours, so /config knows them.
		for name, ours := range map[string]string{"auth_http_request_method": "get", "topology_zone": "",
			"topology_region": "", "enable_experiment": "[]"} {
			r := get(t, d.HTTPAddr, "/config/"+name)
			if impl.Ours {
				if r.Status != 200 || r.Body != ours {
					t.Errorf("/config/%s: got %d %q, want 200 %q", name, r.Status, r.Body, ours)
				}
			} else {
				expectV1Error(t, "/config/"+name, r, 400, "INVALID_OPTION")
			}
		}
	})
}

// Spec §5.8: PUT /config: body checks first (413 INVALID_VALUE), then the
// name (only nsqlookupd_tcp_addresses and log_level), then the value; the
// answer is the new value; log_level takes effect at once.
func TestHTTPConfigPut(t *testing.T) {
	put := func(target, body string) req { return req{Method: "PUT", Target: target, Body: body} }
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-msg-size=10")
		for _, tc := range []struct {
			req    req
			status int
			body   string // success body, or error code
		}{
			{put("/config/log_level", "DEBUG"), 200, "1"},
			{put("/config/log_level", "Warn"), 200, "3"},
			{put("/config/log_level", "warning"), 400, "INVALID_VALUE"},
			{put("/config/log_level", "info\n"), 400, "INVALID_VALUE"},
			{put("/config/log_level", "1"), 400, "INVALID_VALUE"},
			{put("/config/log_level", "0123456789"), 400, "INVALID_VALUE"},
			{put("/config/log_level", "0123456789a"), 413, "INVALID_VALUE"},
			{req{Method: "PUT", Target: "/config/log_level", Body: "0123456789a", Chunked: true}, 413, "INVALID_VALUE"},
			{put("/config/log_level", ""), 413, "INVALID_VALUE"},
			{put("/config/nope", ""), 413, "INVALID_VALUE"},
			{put("/config/nope", "x"), 400, "INVALID_OPTION"},
			{put("/config/mem_queue_size", "5"), 400, "INVALID_OPTION"},
			{put("/config/nsqlookupd_tcp_addresses", `"a"`), 400, "INVALID_VALUE"},
			{put("/config/nsqlookupd_tcp_addresses", `["a",1]`), 400, "INVALID_VALUE"},
			{put("/config/nsqlookupd_tcp_addresses", `[] x`), 400, "INVALID_VALUE"},
			{put("/config/nsqlookupd_tcp_addresses", `null`), 200, "null"},
			{put("/config/nsqlookupd_tcp_addresses", `["a<b&"] `), 200, `["a\u003cb\u0026"]`},
			{req{Method: "GET", Target: "/config/nsqlookupd_tcp_addresses"}, 200, `["a\u003cb\u0026"]`},
			{put("/config/nsqlookupd_tcp_addresses", `[]`), 200, "[]"},
			{put("/config/log_level", "fatal"), 200, "5"},
			{req{Method: "GET", Target: "/config/log_level"}, 200, "5"},
			{put("/config/log_level", "info"), 200, "2"},
		} {
			r := httpDo(t, d.HTTPAddr, tc.req)
			what := tc.req.Method + " " + tc.req.Target + " " + tc.req.Body
			if tc.status == 200 {
				expectV1(t, what, r, tc.body, "application/json; charset=utf-8")
			} else {
				expectV1Error(t, what, r, tc.status, tc.body)
			}
		}

		// log_level applies live: an INFO request line is not logged at warn
		httpDo(t, d.HTTPAddr, put("/config/log_level", "warn"))
		get(t, d.HTTPAddr, "/info?marker=quiet")
		httpDo(t, d.HTTPAddr, put("/config/log_level", "info"))
		get(t, d.HTTPAddr, "/info?marker=loud")
		waitFor(t, "the loud request's log line", func() bool { return strings.Contains(d.Logs(), "marker=loud") })
		if strings.Contains(d.Logs(), "marker=quiet") {
			t.Errorf("request logged at log_level=warn:\n%s", d.Logs())
		}
	})
}

// Spec §5.8: /debug/setblockrate and /debug/freememory, quirks included.
func TestHTTPDebug(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for target, want := range map[string]string{
			"/debug/setblockrate?rate=abc":      `invalid block rate : strconv.Atoi: parsing "abc": invalid syntax`,
			"/debug/setblockrate":               `invalid block rate : strconv.Atoi: parsing "": invalid syntax`,
			"/debug/setblockrate?rate=%zz":      `invalid block rate : strconv.Atoi: parsing "": invalid syntax`,
			"/debug/setblockrate?rate=1.5":      `invalid block rate : strconv.Atoi: parsing "1.5": invalid syntax`,
			"/debug/setblockrate?x=%zz&rate=1x": `invalid block rate : strconv.Atoi: parsing "1x": invalid syntax`,
		} {
			r := httpDo(t, d.HTTPAddr, req{Method: "PUT", Target: target})
			if r.Status != 400 || r.Body != want {
				t.Errorf("%s: got %d %q, want 400 %q", target, r.Status, r.Body, want)
			}
			expectHeader(t, target, r, "Content-Type", "text/plain; charset=utf-8")
			expectHeader(t, target, r, "X-Nsq-Content-Type", "")
		}
		// success answers 500 (upstream's PlainText envelope panics on the
		// handler's nil result; spec §10.10)
		expectV1Error(t, "setblockrate ok", httpDo(t, d.HTTPAddr, req{Method: "PUT", Target: "/debug/setblockrate?rate=0"}), 500, "INTERNAL_ERROR")
		expectV1Error(t, "freememory", httpDo(t, d.HTTPAddr, req{Method: "POST", Target: "/debug/freememory"}), 500, "INTERNAL_ERROR")
		waitFor(t, "panic log line", func() bool {
			return strings.Contains(d.Logs(), "panic in HTTP handler - unknown response type <nil>")
		})
	})
}
