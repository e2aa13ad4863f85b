package codec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseIdentify(t *testing.T) {
	tests := []struct {
		name string
		body string
		want IdentifyRequest
	}{
		{"empty object gives zero values", `{}`, IdentifyRequest{}},
		{"null gives zero values", `null`, IdentifyRequest{}},
		{"go-nsq v1.1.0 body, deprecated short_id/long_id ignored", `{"client_id":"c","hostname":"h.example",` +
			`"user_agent":"go-nsq/1.1.0","short_id":"c","long_id":"h.example","tls_v1":false,"deflate":false,` +
			`"deflate_level":6,"snappy":false,"feature_negotiation":true,"heartbeat_interval":30000,` +
			`"sample_rate":0,"output_buffer_size":16384,"output_buffer_timeout":250,"msg_timeout":0}`,
			IdentifyRequest{ClientID: "c", Hostname: "h.example", UserAgent: "go-nsq/1.1.0", DeflateLevel: 6,
				FeatureNegotiation: true, HeartbeatInterval: 30000, OutputBufferSize: 16384, OutputBufferTimeout: 250}},
		{"every field", `{"client_id":"a","hostname":"b","heartbeat_interval":1000,"output_buffer_size":64,` +
			`"output_buffer_timeout":25,"feature_negotiation":true,"tls_v1":true,"deflate":true,"deflate_level":9,` +
			`"snappy":true,"sample_rate":99,"user_agent":"u","msg_timeout":900000,"topology_region":"r","topology_zone":"z"}`,
			IdentifyRequest{ClientID: "a", Hostname: "b", HeartbeatInterval: 1000, OutputBufferSize: 64,
				OutputBufferTimeout: 25, FeatureNegotiation: true, TLSv1: true, Deflate: true, DeflateLevel: 9,
				Snappy: true, SampleRate: 99, UserAgent: "u", MsgTimeout: 900000, TopologyRegion: "r", TopologyZone: "z"}},
		{"negative values decode (validated later)", `{"heartbeat_interval":-1,"output_buffer_size":-1,` +
			`"output_buffer_timeout":-1,"sample_rate":-1,"msg_timeout":-1}`,
			IdentifyRequest{HeartbeatInterval: -1, OutputBufferSize: -1, OutputBufferTimeout: -1, SampleRate: -1, MsgTimeout: -1}},
		{"unknown keys ignored", `{"short_id":1,"long_id":[1,2],"nested":{"a":null},"client_id":"x"}`,
			IdentifyRequest{ClientID: "x"}},
		{"keys match case-insensitively", `{"CLIENT_ID":"up","Heartbeat_Interval":2000,"Feature_Negotiation":true,"SNAPPY":true}`,
			IdentifyRequest{ClientID: "up", HeartbeatInterval: 2000, FeatureNegotiation: true, Snappy: true}},
		{"duplicate key: last wins", `{"client_id":"a","client_id":"b"}`, IdentifyRequest{ClientID: "b"}},
		{"null field keeps zero", `{"client_id":null,"heartbeat_interval":null}`, IdentifyRequest{}},
		{"surrounding whitespace", " \n{\"hostname\" : \"h\"}\r\n ", IdentifyRequest{Hostname: "h"}},
		{"escaped strings", `{"client_id":"a\u00e9\n\"b"}`, IdentifyRequest{ClientID: "a\u00e9\n\"b"}},
		{"sample_rate at int32 max", `{"sample_rate":2147483647}`, IdentifyRequest{SampleRate: 2147483647}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIdentify([]byte(tt.body))
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseIdentifyDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		// spec §1.6.1 step 6 (verified): wrong JSON types
		{"heartbeat_interval as string", `{"heartbeat_interval":"1000"}`},
		{"client_id as number", `{"client_id":5}`},
		{"feature_negotiation as string", `{"feature_negotiation":"true"}`},
		{"feature_negotiation as number", `{"feature_negotiation":1}`},
		{"msg_timeout as float", `{"msg_timeout":1.5}`},
		{"heartbeat_interval with exponent", `{"heartbeat_interval":1e3}`},
		{"sample_rate overflows int32", `{"sample_rate":2147483648}`},
		{"output_buffer_size as object", `{"output_buffer_size":{}}`},
		{"hostname as array", `{"hostname":["h"]}`},
		// invalid JSON
		{"empty body", ``},
		{"whitespace only", ` `},
		{"truncated object", `{"client_id":"a"`},
		{"not JSON", `hello`},
		{"trailing garbage", `{}x`},
		{"two objects", `{}{}`},
		{"array instead of object", `[]`},
		{"string instead of object", `"s"`},
		{"number instead of object", `1`},
		{"single quotes", `{'client_id':'a'}`},
		{"trailing comma", `{"client_id":"a",}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIdentify([]byte(tt.body))
			if err == nil {
				t.Fatal("err = nil, want E_BAD_BODY")
			}
			if got, want := err.Error(), "E_BAD_BODY IDENTIFY failed to decode JSON body"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			if !err.Fatal {
				t.Fatal("got non-fatal, want fatal")
			}
		})
	}
}

func TestIdentifyResponseJSON(t *testing.T) {
	t.Run("default server, spec §3.2 key order", func(t *testing.T) {
		r := IdentifyResponse{
			MaxRdyCount: 2500, Version: "1.3.0", MaxMsgTimeout: 900000, MsgTimeout: 60000,
			DeflateLevel: 6, MaxDeflateLevel: 6, OutputBufferSize: 16384, OutputBufferTimeout: 250,
		}
		got, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,` +
			`"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,` +
			`"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250,` +
			`"topology_region":"","topology_zone":""}`
		if string(got) != want {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("every key present even when set", func(t *testing.T) {
		r := IdentifyResponse{TLSv1: true, Deflate: true, Snappy: true, AuthRequired: true,
			SampleRate: 50, OutputBufferSize: 1, TopologyRegion: "r", TopologyZone: "z"}
		got, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"max_rdy_count":0,"version":"","max_msg_timeout":0,"msg_timeout":0,` +
			`"tls_v1":true,"deflate":true,"deflate_level":0,"max_deflate_level":0,"snappy":true,` +
			`"sample_rate":50,"auth_required":true,"output_buffer_size":1,"output_buffer_timeout":0,` +
			`"topology_region":"r","topology_zone":"z"}`
		if string(got) != want {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("v1.3.0 shape drops only the topology keys", func(t *testing.T) {
		r := IdentifyResponse{
			MaxRdyCount: 2500, Version: "1.3.0", MaxMsgTimeout: 900000, MsgTimeout: 60000,
			DeflateLevel: 6, MaxDeflateLevel: 6, OutputBufferSize: 16384, OutputBufferTimeout: 250,
			TopologyRegion: "r", TopologyZone: "z",
		}
		got, err := json.Marshal((*IdentifyResponseV130)(&r))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,` +
			`"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,` +
			`"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}`
		if string(got) != want {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("no omitempty on any key", func(t *testing.T) {
		for _, typ := range []reflect.Type{reflect.TypeFor[IdentifyResponse](), reflect.TypeFor[AuthResponse](), reflect.TypeFor[IdentifyRequest]()} {
			for i := range typ.NumField() {
				f := typ.Field(i)
				tag := f.Tag.Get("json")
				if tag == "" || strings.Contains(tag, ",") {
					t.Errorf("%s.%s json tag %q, want a bare key", typ.Name(), f.Name, tag)
				}
			}
		}
	})
}

func TestAuthResponseJSON(t *testing.T) {
	// spec §1.6.2 (verified)
	got, err := json.Marshal(AuthResponse{Identity: "user1", IdentityURL: "http://x/u1", PermissionCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"identity":"user1","identity_url":"http://x/u1","permission_count":2}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
