package core

import (
	"net"
	"strconv"
	"strings"
)

// StatsdPrefix is --statsd-prefix as upstream resolves it at startup: every
// "%s" becomes the host key (broadcast address and HTTP port joined as
// host:port, "." and ":" replaced by "_"; port 0 for a unix socket) and a
// missing trailing "." is added; an empty prefix stays empty. The statsd
// client and GET /config/statsd_prefix both use it.
func StatsdPrefix(prefix, broadcastAddress string, httpPort int) string {
	if prefix == "" {
		return ""
	}
	host := net.JoinHostPort(broadcastAddress, strconv.Itoa(max(httpPort, 0)))
	host = strings.NewReplacer(".", "_", ":", "_").Replace(host)
	p := strings.ReplaceAll(prefix, "%s", host)
	if !strings.HasSuffix(p, ".") {
		p += "."
	}
	return p
}
