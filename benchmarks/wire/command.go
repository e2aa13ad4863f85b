package wire

import (
	"encoding/binary"
	"strconv"
)

// MagicV2 is the four bytes a client sends first to select protocol V2.
var MagicV2 = []byte("  V2")

// AppendPub appends "PUB <topic>\n[size][body]" to dst.
func AppendPub(dst []byte, topic string, body []byte) []byte {
	dst = append(dst, "PUB "...)
	dst = append(dst, topic...)
	dst = append(dst, '\n')
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// AppendMpub appends "MPUB <topic>\n[body size][count]([size][body])..." to dst.
func AppendMpub(dst []byte, topic string, bodies [][]byte) []byte {
	dst = append(dst, "MPUB "...)
	dst = append(dst, topic...)
	dst = append(dst, '\n')
	size := 4
	for _, b := range bodies {
		size += 4 + len(b)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(bodies)))
	for _, b := range bodies {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
		dst = append(dst, b...)
	}
	return dst
}

// AppendSub appends "SUB <topic> <channel>\n" to dst.
func AppendSub(dst []byte, topic, channel string) []byte {
	dst = append(dst, "SUB "...)
	dst = append(dst, topic...)
	dst = append(dst, ' ')
	dst = append(dst, channel...)
	return append(dst, '\n')
}

// AppendRdy appends "RDY <n>\n" to dst.
func AppendRdy(dst []byte, n int) []byte {
	dst = append(dst, "RDY "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\n')
}

// AppendFin appends "FIN <id>\n" to dst; id is the 16-byte message ID.
func AppendFin(dst []byte, id []byte) []byte {
	dst = append(dst, "FIN "...)
	dst = append(dst, id...)
	return append(dst, '\n')
}

// AppendNop appends "NOP\n" to dst.
func AppendNop(dst []byte) []byte { return append(dst, "NOP\n"...) }

// AppendIdentify appends "IDENTIFY\n[size][json]" to dst.
func AppendIdentify(dst []byte, json []byte) []byte {
	dst = append(dst, "IDENTIFY\n"...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(json)))
	return append(dst, json...)
}

// IdentifyJSON is what the tool's consumers send: go-nsq's defaults for the settings that matter
// to delivery (output buffer 16 KiB / 250 ms, heartbeat 30 s), with feature negotiation on so the
// daemon answers with JSON as it does for every real client.
var IdentifyJSON = []byte(`{"client_id":"nsqbench","hostname":"nsqbench","user_agent":"nsqbench/1.0",` +
	`"feature_negotiation":true,"heartbeat_interval":30000,"output_buffer_size":16384,` +
	`"output_buffer_timeout":250}`)
