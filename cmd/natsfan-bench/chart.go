package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// modeColors gives each mode the same colour in every panel.
var modeColors = map[string]color.Color{
	"direct":         color.RGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xff},
	"leaf":           color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"natsfan-socket": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"natsfan-inproc": color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// writeChart draws, for each message size, deliveries/s and paced p99
// against N (log scales), one line per mode, and writes them as one PNG. A
// cross marks a point of a phase that lost messages: its rate counts only
// what was delivered.
func writeChart(path string, results []result, sizes, ns []int) error {
	var rows [][]*plot.Plot
	for _, size := range sizes {
		tp, err := panel(results, size, ns, "deliveries/s (throughput phase)",
			func(r result) float64 { return r.Rate }, func(r result) bool { return r.Lost > 0 })
		if err != nil {
			return err
		}
		lat, err := panel(results, size, ns, "p99 latency, ms (paced phase)",
			func(r result) float64 { return float64(r.P99) / 1e6 }, func(r result) bool { return r.PacedLost > 0 })
		if err != nil {
			return err
		}
		rows = append(rows, []*plot.Plot{tp, lat})
	}
	const w, h = 28 * vg.Centimeter, 10 * vg.Centimeter
	img := vgimg.New(w, h*vg.Length(len(rows)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(rows), Cols: 2, PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		for j := range rows[i] {
			rows[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// panel plots value against N for messages of size, one line per mode,
// with a cross on the points where lost is true; points with a value of
// zero or less (nothing measured) are left out, as a log scale cannot show
// them.
func panel(results []result, size int, ns []int, ylabel string, value func(result) float64, lost func(result) bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s messages", sizeName(size))
	p.X.Label.Text = "consumers (N)"
	p.Y.Label.Text = ylabel
	var xticks []plot.Tick
	for _, n := range ns {
		xticks = append(xticks, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.ConstantTicks(xticks)
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, oneTwoFiveTicks{}
	p.Legend.Top, p.Legend.Left = true, false
	p.Add(plotter.NewGrid())
	var lossy plotter.XYs
	for _, m := range modes {
		var xys plotter.XYs
		for _, r := range results {
			if r.Mode == m.name && r.Size == size && value(r) > 0 {
				xys = append(xys, plotter.XY{X: float64(r.N), Y: value(r)})
				if lost(r) {
					lossy = append(lossy, xys[len(xys)-1])
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color = modeColors[m.name], modeColors[m.name]
		line.Width = vg.Points(1.5)
		p.Add(line, points)
		p.Legend.Add(m.name, line, points)
	}
	if len(lossy) > 0 {
		crosses, err := plotter.NewScatter(lossy)
		if err != nil {
			return nil, err
		}
		crosses.Shape = draw.CrossGlyph{}
		crosses.Radius = vg.Points(6)
		p.Add(crosses)
		p.Legend.Add("messages lost", crosses)
	}
	return p, nil
}

// oneTwoFiveTicks labels a log axis at 1, 2 and 5 times each power of ten,
// so that a range within one decade still has labels.
type oneTwoFiveTicks struct{}

func (oneTwoFiveTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v)})
			}
		}
	}
	if len(ticks) < 2 {
		return plot.LogTicks{Prec: 2}.Ticks(lo, hi)
	}
	return ticks
}

// tickLabel writes v briefly: 0.5, 20, 500k, 2M.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
