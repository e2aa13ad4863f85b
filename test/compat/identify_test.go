package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"nsqreactor/internal/testutil"
)

// Spec §1.6.1 steps 2-6: IDENTIFY body framing and JSON errors, all fatal.
func TestIdentifyBodyErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-body-size=4096")
		runFatalCases(t, d, nil, []errCase{
			{"size 0", cmdSize("IDENTIFY", 0, ""), "E_BAD_BODY IDENTIFY invalid body size 0"},
			{"size -5", cmdSize("IDENTIFY", -5, ""), "E_BAD_BODY IDENTIFY invalid body size -5"},
			{"size max+1", cmdSize("IDENTIFY", 4097, "{}"), "E_BAD_BODY IDENTIFY body too big 4097 > 4096"},
			{"size 2GB", cmdSize("IDENTIFY", 1<<31-1, "{}"), "E_BAD_BODY IDENTIFY body too big 2147483647 > 4096"},
			{"bad json", cmdBody("IDENTIFY", "{"), "E_BAD_BODY IDENTIFY failed to decode JSON body"},
			{"not an object", cmdBody("IDENTIFY", "[]"), "E_BAD_BODY IDENTIFY failed to decode JSON body"},
			{"string interval", cmdBody("IDENTIFY", `{"heartbeat_interval":"1000"}`), "E_BAD_BODY IDENTIFY failed to decode JSON body"},
			{"numeric client_id", cmdBody("IDENTIFY", `{"client_id":5}`), "E_BAD_BODY IDENTIFY failed to decode JSON body"},
			{"float msg_timeout", cmdBody("IDENTIFY", `{"msg_timeout":1000.5}`), "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		})
		// The body is exactly size bytes: trailing bytes are the next command.
		t.Run("size max accepted", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			body := "{" + strings.Repeat(" ", 4094) + "}"
			if got := string(c.Identify(t, body)); got != "OK" {
				t.Fatalf("got %q, want OK", got)
			}
			c.ExpectAlive(t)
		})
	})
}

// Truncated input followed by a half-close: the server reports the read
// failure with an error frame before closing (spec §1.6.1 steps 2, 5 and the
// matching PUB/MPUB/DPUB/AUTH errors).
func TestTruncatedBodyErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "trunc")
		cases := []errCase{
			{"IDENTIFY size", []byte("IDENTIFY\n\x00\x00"), "E_BAD_BODY IDENTIFY failed to read body size"},
			{"IDENTIFY body", cmdSize("IDENTIFY", 10, "{}"), "E_BAD_BODY IDENTIFY failed to read body"},
			{"AUTH size", []byte("AUTH\n\x00"), "E_BAD_BODY AUTH failed to read body size"},
			{"AUTH body", cmdSize("AUTH", 10, "secret"), "E_BAD_BODY AUTH failed to read body"},
			{"PUB size", []byte("PUB " + topic + "\n\x00\x00\x00"), "E_BAD_MESSAGE PUB failed to read message body size"},
			{"PUB body", cmdSize("PUB "+topic, 10, "abc"), "E_BAD_MESSAGE PUB failed to read message body"},
			{"DPUB size", []byte("DPUB " + topic + " 10\n"), "E_BAD_MESSAGE DPUB failed to read message body size"},
			{"DPUB body", cmdSize("DPUB "+topic+" 10", 10, "abc"), "E_BAD_MESSAGE DPUB failed to read message body"},
			{"MPUB size", []byte("MPUB " + topic + "\n\x00\x00"), "E_BAD_BODY MPUB failed to read body size"},
			{"MPUB count", cmdSize("MPUB "+topic, 20, "\x00\x00"), "E_BAD_BODY MPUB failed to read message count"},
			{"MPUB message size", cmdSize("MPUB "+topic, 20, "\x00\x00\x00\x02\x00\x00\x00\x01a\x00"), "E_BAD_MESSAGE MPUB failed to read message(1) body size"},
			{"MPUB message body", cmdSize("MPUB "+topic, 20, "\x00\x00\x00\x01\x00\x00\x00\x05ab"), "E_BAD_MESSAGE MPUB failed to read message body"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				c.Write(t, tc.send)
				if err := c.Conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				c.ExpectError(t, tc.want)
				c.ExpectClosed(t)
			})
		}
	})
}

// Spec §3.1 boundaries and §1.6.1 step 7: each rejected value's exact error,
// each accepted value answered OK (no feature negotiation).
func TestIdentifyFieldBoundaries(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		cases := []struct {
			json string
			want string // error payload; "" = accepted
		}{
			{`{"heartbeat_interval":999}`, "heartbeat interval (999) is invalid"},
			{`{"heartbeat_interval":60001}`, "heartbeat interval (60001) is invalid"},
			{`{"heartbeat_interval":-2}`, "heartbeat interval (-2) is invalid"},
			{`{"heartbeat_interval":-1}`, ""},
			{`{"heartbeat_interval":0}`, ""},
			{`{"heartbeat_interval":1000}`, ""},
			{`{"heartbeat_interval":60000}`, ""},
			{`{"output_buffer_timeout":24}`, "output buffer timeout (24) is invalid"},
			{`{"output_buffer_timeout":30001}`, "output buffer timeout (30001) is invalid"},
			{`{"output_buffer_timeout":-2}`, "output buffer timeout (-2) is invalid"},
			{`{"output_buffer_timeout":-1}`, ""},
			{`{"output_buffer_timeout":25}`, ""},
			{`{"output_buffer_timeout":30000}`, ""},
			{`{"output_buffer_size":63}`, "output buffer size (63) is invalid"},
			{`{"output_buffer_size":65537}`, "output buffer size (65537) is invalid"},
			{`{"output_buffer_size":-2}`, "output buffer size (-2) is invalid"},
			{`{"output_buffer_size":-1}`, ""},
			{`{"output_buffer_size":64}`, ""},
			{`{"output_buffer_size":65536}`, ""},
			{`{"sample_rate":-1}`, "sample rate (-1) is invalid"},
			{`{"sample_rate":100}`, "sample rate (100) is invalid"},
			{`{"sample_rate":0}`, ""},
			{`{"sample_rate":99}`, ""},
			{`{"msg_timeout":999}`, "msg timeout (999) is invalid"},
			{`{"msg_timeout":900001}`, "msg timeout (900001) is invalid"},
			{`{"msg_timeout":-1}`, "msg timeout (-1) is invalid"},
			{`{"msg_timeout":0}`, ""},
			{`{"msg_timeout":1000}`, ""},
			{`{"msg_timeout":900000}`, ""},
			// Validation order: heartbeat, buffer timeout, buffer size, sample rate, msg timeout.
			{`{"msg_timeout":1,"sample_rate":-1,"output_buffer_size":1,"output_buffer_timeout":1,"heartbeat_interval":1}`, "heartbeat interval (1) is invalid"},
			{`{"msg_timeout":1,"sample_rate":-1,"output_buffer_size":1,"output_buffer_timeout":1}`, "output buffer timeout (1) is invalid"},
			{`{"msg_timeout":1,"sample_rate":-1,"output_buffer_size":1}`, "output buffer size (1) is invalid"},
			{`{"msg_timeout":1,"sample_rate":-1}`, "sample rate (-1) is invalid"},
			// Go JSON: unknown keys ignored (go-nsq sends short_id/long_id), keys case-insensitive.
			{`{"short_id":"a","long_id":"b","unknown":[1,{"x":null}]}`, ""},
			{`{"Heartbeat_Interval":999}`, "heartbeat interval (999) is invalid"},
			{`{"client_id":"c","hostname":"h","user_agent":"compat/1.0","tls_v1":true,"snappy":true,"deflate":true,"deflate_level":9}`, ""},
		}
		for _, tc := range cases {
			t.Run(tc.json, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				c.CommandBody(t, "IDENTIFY", []byte(tc.json))
				if tc.want != "" {
					c.ExpectError(t, "E_BAD_BODY IDENTIFY "+tc.want)
					c.ExpectClosed(t)
					return
				}
				c.ExpectResponse(t, "OK")
				c.ExpectAlive(t)
			})
		}
	})
}

// Spec §3.2: the feature-negotiation response has exactly these keys in
// this order, and these values for a server with the given flags.
//
// The binary wins over the spec: upstream v1.3.0 (the released tag) has no
// topology experiment, so there are no "topology_region"/"topology_zone"
// keys (and no --topology-* flags); the spec describes a later commit.
func TestIdentifyFeatureNegotiation(t *testing.T) {
	const defaults = `{"max_rdy_count":2500,"version":%s,"max_msg_timeout":900000,"msg_timeout":60000,` +
		`"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,` +
		`"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}`
	cases := []struct {
		name     string
		flags    []string
		identify string
		want     string // with %s for the version
	}{
		{"defaults", nil, `{"feature_negotiation":true}`, defaults},
		{"client values", nil,
			`{"feature_negotiation":true,"msg_timeout":5000,"sample_rate":42,"output_buffer_size":4096,"output_buffer_timeout":1000,"heartbeat_interval":2000}`,
			strings.NewReplacer(`"msg_timeout":60000`, `"msg_timeout":5000`, `"sample_rate":0`, `"sample_rate":42`,
				`"output_buffer_size":16384`, `"output_buffer_size":4096`, `"output_buffer_timeout":250`, `"output_buffer_timeout":1000`).Replace(defaults)},
		{"output buffer -1", nil, `{"feature_negotiation":true,"output_buffer_size":-1}`,
			strings.NewReplacer(`"output_buffer_size":16384`, `"output_buffer_size":1`, `"output_buffer_timeout":250`, `"output_buffer_timeout":0`).Replace(defaults)},
		{"output buffer timeout -1", nil, `{"feature_negotiation":true,"output_buffer_timeout":-1}`,
			strings.Replace(defaults, `"output_buffer_timeout":250`, `"output_buffer_timeout":0`, 1)},
		{"server flags", []string{"--max-rdy-count=100", "--msg-timeout=30s", "--max-msg-timeout=10m", "--max-deflate-level=3", "--output-buffer-timeout=100ms"},
			`{"feature_negotiation":true}`,
			strings.NewReplacer(`"max_rdy_count":2500`, `"max_rdy_count":100`, `"max_msg_timeout":900000`, `"max_msg_timeout":600000`,
				`"msg_timeout":60000`, `"msg_timeout":30000`, `"deflate_level":6,"max_deflate_level":6`, `"deflate_level":3,"max_deflate_level":3`,
				`"output_buffer_timeout":250`, `"output_buffer_timeout":100`).Replace(defaults)},
		{"tls without cert", nil, `{"feature_negotiation":true,"tls_v1":true}`, defaults},
		{"snappy", nil, `{"feature_negotiation":true,"snappy":true}`, strings.Replace(defaults, `"snappy":false`, `"snappy":true`, 1)},
		{"deflate level capped", []string{"--max-deflate-level=4"}, `{"feature_negotiation":true,"deflate":true,"deflate_level":9}`,
			strings.NewReplacer(`"deflate":false,"deflate_level":6,"max_deflate_level":6`, `"deflate":true,"deflate_level":4,"max_deflate_level":4`).Replace(defaults)},
		{"deflate level 1", nil, `{"feature_negotiation":true,"deflate":true,"deflate_level":1}`,
			strings.Replace(defaults, `"deflate":false,"deflate_level":6`, `"deflate":true,"deflate_level":1`, 1)},
		{"snappy disabled on server", []string{"--snappy=false"}, `{"feature_negotiation":true,"snappy":true,"deflate":true}`,
			strings.Replace(defaults, `"deflate":false`, `"deflate":true`, 1)},
		{"deflate disabled on server", []string{"--deflate=false"}, `{"feature_negotiation":true,"deflate":true}`, defaults},
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				d := impl.Start(t, tc.flags...)
				c := testutil.Dial(t, d.TCPAddr)
				got := c.Identify(t, tc.identify)
				want := fmt.Sprintf(tc.want, versionOf(t, impl, got))
				if string(got) != want {
					t.Fatalf("IDENTIFY %s\n got %s\nwant %s\nkeys got  %q\nkeys want %q",
						tc.identify, got, want, orderedKeys(t, got), orderedKeys(t, []byte(want)))
				}
			})
		}
	})
}

// versionOf returns the JSON-quoted version the IDENTIFY response must
// carry: upstream's is "1.3.0"; ours may report its own, non-empty, version.
func versionOf(t *testing.T, impl testutil.Impl, response []byte) string {
	t.Helper()
	if !impl.Ours {
		return `"1.3.0"`
	}
	var v struct{ Version string }
	if err := json.Unmarshal(response, &v); err != nil || v.Version == "" {
		t.Fatalf("IDENTIFY response %s: no version (%v)", response, err)
	}
	b, _ := json.Marshal(v.Version)
	return string(b)
}

// orderedKeys lists the top-level keys of a JSON object in wire order.
func orderedKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return []string{fmt.Sprintf("<not an object: %v>", err)}
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return append(keys, fmt.Sprintf("<%v>", err))
		}
		keys = append(keys, fmt.Sprint(tok))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil && err != io.EOF {
			return append(keys, fmt.Sprintf("<%v>", err))
		}
	}
	return keys
}

// Spec §1.6.1 steps 8-9.
func TestIdentifyNegotiationOutcomes(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		runFatalCases(t, d, nil, []errCase{
			{"snappy and deflate", cmdBody("IDENTIFY", `{"feature_negotiation":true,"snappy":true,"deflate":true}`),
				"E_IDENTIFY_FAILED cannot enable both deflate and snappy compression"},
		})
		// Without feature_negotiation no upgrade happens, whatever was asked.
		t.Run("no negotiation no upgrade", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			if got := c.Identify(t, `{"snappy":true,"deflate":true,"tls_v1":true}`); string(got) != "OK" {
				t.Fatalf("got %q, want OK", got)
			}
			c.ExpectAlive(t)
		})
		// IDENTIFY may be repeated while in init.
		t.Run("repeated", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.Identify(t, `{"client_id":"a"}`)
			if got := c.Identify(t, `{"client_id":"b","feature_negotiation":true}`); !bytes.HasPrefix(got, []byte(`{"max_rdy_count":2500,`)) {
				t.Fatalf("second IDENTIFY got %q, want the JSON response", got)
			}
			c.Sub(t, uniq(t, "rep"), "c")
		})
	})
}

// Spec §1.6.2 for a server without --auth-http-address.
func TestAuthDisabled(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-body-size=4096")
		runFatalCases(t, d, nil, []errCase{
			{"disabled", cmdBody("AUTH", "secret"), "E_AUTH_DISABLED AUTH disabled"},
			{"param", cmdBody("AUTH x", "secret"), "E_INVALID AUTH invalid number of parameters"},
			{"size 0", cmdSize("AUTH", 0, ""), "E_BAD_BODY AUTH invalid body size 0"},
			{"size -1", cmdSize("AUTH", -1, ""), "E_BAD_BODY AUTH invalid body size -1"},
			{"too big", cmdSize("AUTH", 4097, "x"), "E_BAD_BODY AUTH body too big 4097 > 4096"},
		})
		t.Run("after identify", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.Identify(t, `{"feature_negotiation":true}`)
			c.CommandBody(t, "AUTH", []byte("secret"))
			c.ExpectError(t, "E_AUTH_DISABLED AUTH disabled")
			c.ExpectClosed(t)
		})
	})
}
