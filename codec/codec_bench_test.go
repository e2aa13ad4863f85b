package codec

import (
	"bytes"
	"strconv"
	"testing"
)

// sizeLadder is the body-size ladder of STYLE §4.9: 16 B … 1 MiB, including
// A1's 256 B and 256 KiB points.
var sizeLadder = []int{16, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return "size=" + strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return "size=" + strconv.Itoa(n>>10) + "KiB"
	}
	return "size=" + strconv.Itoa(n)
}

func BenchmarkAppendMessageFrame(b *testing.B) {
	for _, size := range sizeLadder {
		b.Run(sizeName(size), func(b *testing.B) {
			body := bytes.Repeat([]byte{'x'}, size)
			buf := make([]byte, 0, 8+MessageHeaderLen+size)
			b.ReportAllocs()
			b.SetBytes(int64(8 + MessageHeaderLen + size))
			for b.Loop() {
				buf = AppendMessageFrame(buf[:0], 1700000000123456789, 1, &testID, body)
			}
		})
	}
}

// BenchmarkParsePub is the server's per-PUB parse: the command line, the body
// size, and slicing out the body. The body is aliased, not copied, so ns/op is
// flat across the ladder; MB/s counts the stream bytes consumed per op.
func BenchmarkParsePub(b *testing.B) {
	for _, size := range sizeLadder {
		b.Run(sizeName(size), func(b *testing.B) {
			in := append([]byte("PUB benchmark_topic\n"), be32(int32(size))...)
			in = append(in, bytes.Repeat([]byte{'x'}, size)...)
			var cmd Command
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				n, err := ParseLine(in, &cmd)
				if err != nil || n == 0 {
					b.Fatal("bad line")
				}
				sz, ok := ParseSize(in[n:])
				if !ok || len(in)-n-4 < int(sz) {
					b.Fatal("bad size")
				}
				_ = in[n+4 : n+4+int(sz)]
			}
		})
	}
}

func BenchmarkParseLine(b *testing.B) {
	lines := []struct {
		name string
		line string
	}{
		{"verb=NOP", "NOP\n"},
		{"verb=RDY", "RDY 2500\n"},
		{"verb=FIN", "FIN 0123456789abcdef\n"},
		{"verb=REQ", "REQ 0123456789abcdef 1000\n"},
		{"verb=SUB", "SUB benchmark_topic benchmark_channel\n"},
		{"len=16383", string(bytes.Repeat([]byte{'a'}, MaxLineLen-1)) + "\n"},
	}
	for _, tt := range lines {
		b.Run(tt.name, func(b *testing.B) {
			in := []byte(tt.line)
			var cmd Command
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if n, _ := ParseLine(in, &cmd); n == 0 {
					b.Fatal("no line")
				}
			}
		})
	}
}

// BenchmarkValidateMPUB validates and walks an MPUB body of count messages
// of 100 bytes each.
func BenchmarkValidateMPUB(b *testing.B) {
	for _, count := range []int{1, 10, 100, 1000, 10000} {
		b.Run("count="+strconv.Itoa(count), func(b *testing.B) {
			msg := bytes.Repeat([]byte{'m'}, 100)
			msgs := make([][]byte, count)
			for i := range msgs {
				msgs[i] = msg
			}
			body := mpubBody(msgs...)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				n, err := ValidateMPUB(body, defMaxMsgSize, defMaxBodySize)
				if err != nil || n != count {
					b.Fatal(err)
				}
				for off := 4; off < len(body); {
					_, off = NextMPUBMessage(body, off)
				}
			}
		})
	}
}

// BenchmarkParseFrame is the client side: a message frame and its header.
// Like ParsePub it aliases the body, so ns/op is flat.
func BenchmarkParseFrame(b *testing.B) {
	for _, size := range sizeLadder {
		b.Run(sizeName(size), func(b *testing.B) {
			frame := AppendMessageFrame(nil, 1, 1, &testID, bytes.Repeat([]byte{'x'}, size))
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				_, p, n, ok := ParseFrame(frame)
				if !ok || n != len(frame) {
					b.Fatal("bad frame")
				}
				if _, _, _, _, ok := ParseMessage(p); !ok {
					b.Fatal("bad message")
				}
			}
		})
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	for _, p := range []struct {
		name    string
		payload []byte
	}{{"OK", RespOK}, {"heartbeat", RespHeartbeat}} {
		b.Run(p.name, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			b.SetBytes(int64(8 + len(p.payload)))
			for b.Loop() {
				buf = AppendResponse(buf[:0], p.payload)
			}
		})
	}
}

func BenchmarkParseIdentify(b *testing.B) {
	body := []byte(`{"client_id":"c","hostname":"h.example","user_agent":"go-nsq/1.1.0","short_id":"c",` +
		`"long_id":"h.example","tls_v1":false,"deflate":false,"deflate_level":6,"snappy":false,` +
		`"feature_negotiation":true,"heartbeat_interval":30000,"sample_rate":0,"output_buffer_size":16384,` +
		`"output_buffer_timeout":250,"msg_timeout":0}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseIdentify(body); err != nil {
			b.Fatal(err)
		}
	}
}
