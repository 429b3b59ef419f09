package profile

import (
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// PlotFormat picks the plot format from a file name: "svg" or "png".
func PlotFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg":
		return "svg", nil
	case ".png":
		return "png", nil
	default:
		return "", fmt.Errorf("--plot %s: want a .svg or .png file name", path)
	}
}

var (
	blue   = color.RGBA{31, 119, 180, 255}
	orange = color.RGBA{255, 127, 14, 255}
	green  = color.RGBA{44, 160, 44, 255}
	red    = color.RGBA{214, 39, 40, 255}
	grey   = color.RGBA{127, 127, 127, 255}
)

// WritePlot draws throughput (with its spread) and peak RSS against jobs,
// one above the other, with the plateau and the pressure onset marked, in
// format "svg" or "png".
func WritePlot(w io.Writer, r *Result, format string) error {
	levels := sortedLevels(r.Levels)
	var ips, rss plotter.XYs
	var errs plotter.YErrors
	for _, l := range levels {
		if l.Measured() {
			ips = append(ips, plotter.XY{X: float64(l.Jobs), Y: l.IPS})
			errs = append(errs, struct{ Low, High float64 }{l.Spread, l.Spread})
		}
		if l.RSSPeak > 0 {
			rss = append(rss, plotter.XY{X: float64(l.Jobs), Y: float64(l.RSSPeak) / (1 << 30)})
		}
	}

	top := plot.New()
	top.Title.Text = fmt.Sprintf("animegan profile: %s, --max-size %d, %d cores", r.Settings.Model, r.Settings.MaxSide, r.Cores)
	top.Y.Label.Text = "images / s"
	top.X.Label.Text = "inference workers (-j)"
	top.Y.Min = 0
	if len(ips) > 0 {
		line, points, err := plotter.NewLinePoints(ips)
		if err != nil {
			return err
		}
		line.Color, points.Color = blue, blue
		top.Add(line, points)
		top.Legend.Add("throughput", line, points)
		bars := &struct {
			plotter.XYs
			plotter.YErrors
		}{ips, errs}
		eb, err := plotter.NewYErrorBars(bars)
		if err != nil {
			return err
		}
		eb.Color = blue
		top.Add(eb)
	}

	bottom := plot.New()
	bottom.Y.Label.Text = "peak RSS (GiB)"
	bottom.X.Label.Text = "inference workers (-j)"
	bottom.Y.Min = 0
	if len(rss) > 0 {
		line, points, err := plotter.NewLinePoints(rss)
		if err != nil {
			return err
		}
		line.Color, points.Color = orange, orange
		bottom.Add(line, points)
		bottom.Legend.Add("peak RSS", line, points)
	}
	if lim := float64(r.Memory.Limit) / (1 << 30); lim > 0 && len(levels) > 0 {
		x0, x1 := float64(levels[0].Jobs), float64(levels[len(levels)-1].Jobs)
		frac := r.Thresholds.RSSFraction
		for _, h := range []struct {
			y     float64
			label string
			dash  bool
		}{
			{lim, "limit " + Bytes(r.Memory.Limit), false},
			{frac * lim, fmt.Sprintf("%.0f%% of limit", 100*frac), true},
		} {
			ln, err := plotter.NewLine(plotter.XYs{{X: x0, Y: h.y}, {X: x1, Y: h.y}})
			if err != nil {
				return err
			}
			ln.Color = grey
			if h.dash {
				ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			bottom.Add(ln)
			bottom.Legend.Add(h.label, ln)
		}
	}

	for _, p := range []*plot.Plot{top, bottom} {
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		if err := markJobs(p, r.PlateauJobs, "plateau", green); err != nil {
			return err
		}
		if r.PressureJobs != nil {
			if err := markJobs(p, *r.PressureJobs, "pressure: "+r.PressureSignal, red); err != nil {
				return err
			}
		}
		p.X.Tick.Marker = jobTicks(levels)
	}

	width, height := 8*vg.Inch, 7*vg.Inch
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch format {
	case "svg":
		c = vgsvg.New(width, height)
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}
	default:
		return fmt.Errorf("plot format %q: want svg or png", format)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(12)}
	cs := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(cs[0][0])
	bottom.Draw(cs[1][0])
	_, err := c.WriteTo(w)
	return err
}

// markJobs draws a vertical line at jobs across p's data range.
func markJobs(p *plot.Plot, jobs int, label string, c color.Color) error {
	if jobs <= 0 {
		return nil
	}
	_, _, _, ymax := plotter.XYRange(dataOf(p))
	ln, err := plotter.NewLine(plotter.XYs{{X: float64(jobs), Y: 0}, {X: float64(jobs), Y: max(ymax, 1e-9)}})
	if err != nil {
		return err
	}
	ln.Color = c
	ln.Width = vg.Points(1.5)
	ln.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	p.Add(ln)
	p.Legend.Add(fmt.Sprintf("%s (-j %d)", label, jobs), ln)
	return nil
}

// dataOf collects the y extent of what is already on p.
func dataOf(p *plot.Plot) plotter.XYs {
	return plotter.XYs{{X: p.X.Min, Y: p.Y.Min}, {X: p.X.Max, Y: p.Y.Max}}
}

// jobTicks labels the x axis with the swept levels (at most ~12 labels).
func jobTicks(levels []Level) plot.Ticker {
	step := max(1, (len(levels)+11)/12)
	var ticks []plot.Tick
	for i, l := range levels {
		t := plot.Tick{Value: float64(l.Jobs)}
		if i%step == 0 || i == len(levels)-1 {
			t.Label = fmt.Sprint(l.Jobs)
		}
		ticks = append(ticks, t)
	}
	return plot.ConstantTicks(ticks)
}
