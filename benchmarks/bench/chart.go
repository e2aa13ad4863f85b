package bench

// The chart is drawn with gonum.org/v1/plot: pure Go (no cgo, no browser or external renderer
// to install on a CI machine), maintained by the gonum project, served by the module proxy here
// (v0.17.0), and it has what this chart needs: log scales, nominal axes, error bars, and PNG
// output through its own rasteriser.

import (
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	colorUpstream = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorOurs     = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colorCeiling  = color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 0xff}
	colorBetter   = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colorWorse    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// WriteChart draws the comparison as one PNG: on top, every metric's advantage (ratio of medians,
// inverted for lower-is-better metrics, so right of 1 always favours ours) with the per-round
// range as whiskers; below, the latency percentiles of each latency scenario, ours against
// upstream (and the ceiling where there is one).
func WriteChart(path string, r *Report, rows []Row) error {
	ratio, n := ratioPlot(rows)
	lat := latencyPlots(rows)
	const width = 1100
	ratioH := vg.Length(max(n, 4)*13 + 110)
	latH := vg.Length(0)
	if len(lat) > 0 {
		latH = 330
	}
	img := vgimg.New(width, ratioH+latH)
	dc := draw.New(img)
	if ratio != nil {
		ratio.Draw(draw.Crop(dc, 0, -12, latH, -8))
	}
	if len(lat) > 0 {
		bottom := draw.Crop(dc, 0, 0, 0, -ratioH)
		tiles := draw.Tiles{Rows: 1, Cols: len(lat), PadX: 12, PadTop: 10, PadBottom: 6, PadLeft: 6, PadRight: 6}
		for i, p := range lat {
			p.Draw(tiles.At(bottom, i, 0))
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// ratioPlot is the dot-and-whisker plot of every comparable metric, first row at the top.
func ratioPlot(rows []Row) (*plot.Plot, int) {
	var use []Row
	for _, row := range rows {
		if row.Failed == "" && row.Pairs > 0 && drawable(row.Ratio) && drawable(Advantage(row.Ratio, row.Better)) {
			use = append(use, row)
		}
	}
	if len(use) == 0 {
		return nil, 0
	}
	p := plot.New()
	p.Title.Text = "ours vs upstream: advantage (ratio of medians, inverted where lower is better; >1 favours ours)"
	p.X.Label.Text = "advantage, log scale; whiskers: min..max of per-round ratios"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ticks125{format: FormatRatio}
	p.Add(plotter.NewGrid())
	labels := make([]string, len(use))
	var better, worse plotter.XYs
	whiskers := &errPoints{}
	lo, hi := 1.0, 1.0
	for i, row := range use {
		y := float64(len(use) - 1 - i)
		labels[len(use)-1-i] = row.Case + "  " + MetricLabel(row.Metric, row.Unit)
		a := Advantage(row.Ratio, row.Better)
		if !drawable(a) {
			continue
		}
		wl, wh := Advantage(row.PairMin, row.Better), Advantage(row.PairMax, row.Better)
		wl, wh = min(wl, wh), max(wl, wh)
		// a round that measured 0 (e.g. no daemon CPU tick in a short
		// phase) gives a 0 or infinite pair ratio: no whisker on a log
		// scale, the median alone
		if !drawable(wl) {
			wl = a
		}
		if !drawable(wh) {
			wh = a
		}
		whiskers.add(a, y, wl, wh)
		lo, hi = min(lo, wl, a), max(hi, wh, a)
		if a >= 1 {
			better = append(better, plotter.XY{X: a, Y: y})
		} else {
			worse = append(worse, plotter.XY{X: a, Y: y})
		}
	}
	p.NominalY(labels...)
	p.X.Min, p.X.Max = lo/1.2, hi*1.2
	one := plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(len(use)) - 0.5}}
	if l, err := plotter.NewLine(one); err == nil {
		l.Color = color.Black
		p.Add(l)
	}
	if eb, err := plotter.NewXErrorBars(whiskers); err == nil {
		eb.CapWidth = 4
		p.Add(eb)
	}
	for _, s := range []struct {
		xys plotter.XYs
		c   color.Color
	}{{better, colorBetter}, {worse, colorWorse}} {
		if len(s.xys) == 0 {
			continue
		}
		if sc, err := plotter.NewScatter(s.xys); err == nil {
			sc.Color, sc.Shape, sc.Radius = s.c, draw.CircleGlyph{}, 3
			p.Add(sc)
		}
	}
	return p, len(use)
}

// drawable reports whether v can be placed on a log scale.
func drawable(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// errPoints is XYs with horizontal error bars given as absolute low and high values.
type errPoints struct {
	plotter.XYs
	low, high []float64
}

func (e *errPoints) add(x, y, low, high float64) {
	e.XYs = append(e.XYs, plotter.XY{X: x, Y: y})
	e.low, e.high = append(e.low, low), append(e.high, high)
}

// XError returns the distances from the point to the ends of its whisker.
func (e *errPoints) XError(i int) (float64, float64) {
	return e.XYs[i].X - e.low[i], e.high[i] - e.XYs[i].X
}

// latencyPlots draws one small plot per case that reports percentiles.
func latencyPlots(rows []Row) []*plot.Plot {
	var plots []*plot.Plot
	byCase := map[string]map[string]Row{}
	var order []string
	for _, row := range rows {
		if row.Unit != UnitMicros || row.Failed != "" {
			continue
		}
		if byCase[row.Case] == nil {
			byCase[row.Case] = map[string]Row{}
			order = append(order, row.Case)
		}
		byCase[row.Case][row.Metric] = row
	}
	for _, name := range order {
		if p := latencyPlot(name, byCase[name]); p != nil {
			plots = append(plots, p)
		}
	}
	return plots
}

func latencyPlot(name string, m map[string]Row) *plot.Plot {
	p := plot.New()
	p.Title.Text = name + ": medians"
	p.Y.Label.Text = "latency (log)" // a label longer than the axis pushes the plot down
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ticks125{format: formatMicros}
	p.Legend.Top, p.Legend.Left = false, false // curves rise to the right: bottom right is free
	p.Legend.XOffs, p.Legend.YOffs = -4, 4
	p.Add(plotter.NewGrid())
	names := make([]string, len(percentiles))
	for i, pc := range percentiles {
		names[i] = pc.name
	}
	p.NominalX(names...)
	drawn := 0
	for _, s := range []struct {
		label string
		c     color.Color
		get   func(Row) Stat
	}{
		{"upstream", colorUpstream, func(r Row) Stat { return r.Upstream }},
		{"ours", colorOurs, func(r Row) Stat { return r.Ours }},
		{"ceiling", colorCeiling, func(r Row) Stat { return r.Ceiling }},
	} {
		var xys plotter.XYs
		for i, pc := range percentiles {
			if st := s.get(m[pc.name]); st.N > 0 && !st.NA && st.Median > 0 {
				xys = append(xys, plotter.XY{X: float64(i), Y: st.Median})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			continue
		}
		l.Color, pts.Color, pts.Shape = s.c, s.c, draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.label, l, pts)
		drawn++
	}
	if drawn == 0 {
		return nil
	}
	return p
}

// ticks125 labels a log axis at 1, 2 and 5 times each power of ten in range, or at every
// integer multiple when that gives fewer than three labels, so that even a range inside one decade
// gets labels (gonum's LogTicks labels powers of ten only).
type ticks125 struct{ format func(float64) string }

// Ticks implements plot.Ticker.
func (t ticks125) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	ticks := t.at(lo, hi, []float64{1, 2, 5})
	if len(ticks) < 3 {
		ticks = t.at(lo, hi, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9})
	}
	return ticks
}

func (t ticks125) at(lo, hi float64, mantissas []float64) []plot.Tick {
	var ticks []plot.Tick
	for exp := math.Floor(math.Log10(lo)); exp <= math.Ceil(math.Log10(hi)); exp++ {
		for _, m := range mantissas {
			v := m * math.Pow(10, exp)
			if v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: t.format(v)})
			}
		}
	}
	return ticks
}
