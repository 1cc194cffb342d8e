package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
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

// point is one value a panel plots: a mode's figure for N consumers of
// size-byte messages, crossed if messages were lost.
type point struct {
	mode    string
	n, size int
	value   float64
	lost    bool
}

// writeChart draws, for each message size, the zero-loss rate (from zl) and
// the burst rate and paced p99 (from results) against N (log scales), one
// line per mode, and writes them as one PNG: a row per size, a panel for
// each section that ran. A cross marks a point of a phase that lost
// messages: its rate counts only what was delivered. The zero-loss rate
// has no crosses: it is a rate that lost nothing.
func writeChart(path string, zl []zlResult, results []result) error {
	type column struct {
		ylabel string
		points []point
	}
	var cols []column
	if len(zl) > 0 {
		var ps []point
		for _, r := range zl {
			ps = append(ps, point{r.Mode, r.N, r.Size, r.Rate, false})
		}
		cols = append(cols, column{"deliveries/s with nothing lost (zero-loss search)", ps})
	}
	if len(results) > 0 {
		var tp, lat []point
		for _, r := range results {
			tp = append(tp, point{r.Mode, r.N, r.Size, r.Rate, r.Lost > 0})
			lat = append(lat, point{r.Mode, r.N, r.Size, float64(r.P99) / 1e6, r.PacedLost > 0})
		}
		cols = append(cols, column{"deliveries/s (burst, losses crossed)", tp}, column{"p99 latency, ms (paced phase)", lat})
	}
	var sizes, ns []int
	for _, c := range cols {
		for _, p := range c.points {
			sizes, ns = append(sizes, p.size), append(ns, p.n)
		}
	}
	slices.Sort(sizes)
	slices.Sort(ns)
	sizes, ns = slices.Compact(sizes), slices.Compact(ns)
	var rows [][]*plot.Plot
	for _, size := range sizes {
		var row []*plot.Plot
		for _, c := range cols {
			p, err := panel(c.points, size, ns, c.ylabel)
			if err != nil {
				return err
			}
			row = append(row, p)
		}
		rows = append(rows, row)
	}
	w, h := 14*vg.Centimeter*vg.Length(len(cols)), 10*vg.Centimeter
	img := vgimg.New(w, h*vg.Length(len(rows)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(rows), Cols: len(cols), PadX: vg.Centimeter, PadY: vg.Centimeter,
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

// panel plots the points for messages of size against N, one line per
// mode, with a cross on the points that lost messages; points with a value
// of zero or less (nothing measured) are left out, as a log scale cannot
// show them.
func panel(points []point, size int, ns []int, ylabel string) (*plot.Plot, error) {
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
	plotted := false
	for _, m := range modes {
		var xys plotter.XYs
		for _, pt := range points {
			if pt.mode == m.name && pt.size == size && pt.value > 0 {
				xys = append(xys, plotter.XY{X: float64(pt.n), Y: pt.value})
				if pt.lost {
					lossy = append(lossy, xys[len(xys)-1])
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, pts.Color = modeColors[m.name], modeColors[m.name]
		line.Width = vg.Points(1.5)
		p.Add(line, pts)
		p.Legend.Add(m.name, line, pts)
		plotted = true
	}
	if !plotted {
		// An empty panel (a section that did not run this size): a log
		// scale has no range to show.
		p.Title.Text += ": not measured"
		p.X.Scale, p.Y.Scale, p.Y.Tick.Marker = plot.LinearScale{}, plot.LinearScale{}, plot.DefaultTicks{}
	}
	widenLogRange(&p.X)
	widenLogRange(&p.Y)
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

// widenLogRange gives a log axis whose data is one value (one N, or one
// point) a range around it: plot would otherwise widen it by one either
// side, and a log scale cannot show zero or less.
func widenLogRange(a *plot.Axis) {
	if _, log := a.Scale.(plot.LogScale); log && a.Min == a.Max && a.Min > 0 {
		a.Min, a.Max = a.Min/2, a.Max*2
	}
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
