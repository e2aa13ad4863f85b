package httpfast

import "testing"

// BenchmarkMetrics is one Prometheus scrape of GET /metrics with 1,000
// topics × 5 channels (and 5,000 subscribers, 100 producers) through the full
// handler: the collector walk, client_golang's gather and the text encoding,
// without and with gzip (Prometheus asks for gzip). Run:
//
//	go test -run '^$' -bench BenchmarkMetrics -benchtime 20x ./httpfast/
func BenchmarkMetrics(b *testing.B) {
	s := statsAtScale(b, 1000, 5, 100)
	for _, bc := range []struct{ name, encoding string }{
		{"identity", ""},
		{"gzip", "gzip"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := newMetricsCtx(bc.encoding)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				s.HandleRequest(ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.SetBytes(int64(len(ctx.Response.Body())))
		})
	}
}
