package core

import "testing"

func TestStatsdPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix, addr string
		port         int
		want         string
	}{
		{"nsq.%s", "bcast.example", 34191, "nsq.bcast_example_34191."}, // verified upstream
		{"nsq.%s.", "127.0.0.1", 4151, "nsq.127_0_0_1_4151."},
		{"%s.x.%s", "h", 1, "h_1.x.h_1."},
		{"plain", "h", 1, "plain."},
		{"", "h", 1, ""},
		{"u.%s", "h", -1, "u.h_0."}, // unix socket: no port
		{"v6.%s", "::1", 4151, "v6.[__1]_4151."},
	} {
		if got := StatsdPrefix(tc.prefix, tc.addr, tc.port); got != tc.want {
			t.Errorf("StatsdPrefix(%q, %q, %d) = %q, want %q", tc.prefix, tc.addr, tc.port, got, tc.want)
		}
	}
}
