package codec

import (
	"encoding/json"
	"testing"
)

// FuzzParseIdentify: any IDENTIFY body decodes or yields upstream's
// E_BAD_BODY error, never a panic; a decoded request survives re-encoding.
func FuzzParseIdentify(f *testing.F) {
	f.Add([]byte(`{"client_id":"c","hostname":"h","feature_negotiation":true,"heartbeat_interval":1000,"snappy":true}`))
	f.Add([]byte(`{"heartbeat_interval":"1000"}`))
	f.Add([]byte(`{"short_id":"x","long_id":"y","msg_timeout":60000,"sample_rate":42}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseIdentify(body)
		if err != nil {
			if err.Code != ErrCodeBadBody || err.Desc != "IDENTIFY failed to decode JSON body" || !err.Fatal {
				t.Fatalf("unexpected error %+v", err)
			}
			return
		}
		b, merr := json.Marshal(&req)
		if merr != nil {
			t.Fatal(merr)
		}
		if again, err := ParseIdentify(b); err != nil || again != req {
			t.Fatalf("re-encoded request differs: %+v vs %+v (%v)", again, req, err)
		}
	})
}
