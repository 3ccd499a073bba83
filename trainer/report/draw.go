package report

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// Picture size and PNG resolution.
const (
	Width  = 9 * vg.Inch
	Height = 5 * vg.Inch
	DPI    = 144
)

// Chart names, the suffixes of the files written.
const (
	ChartLocalCTR = "local-ctr"   // histogram of local CTRs, global CTR marked
	ChartLift     = "lift-by-ctr" // LCFT - Local per local-CTR bucket
	ChartChanges  = "auc-changes" // users improved / unchanged / degraded vs Cloud
)

// Formats are the picture formats Write knows.
var Formats = []string{"png", "svg"}

var (
	colorHist      = rgb(0x4c, 0x78, 0xa8)
	colorGlobal    = rgb(0xd6, 0x27, 0x28)
	colorImproved  = rgb(0x2c, 0xa0, 0x2c)
	colorUnchanged = rgb(0xc7, 0xc7, 0xc7)
	colorDegraded  = rgb(0xd6, 0x27, 0x28)
	strategyColors = map[string]color.Color{
		"auto":         rgb(0x1f, 0x77, 0xb4),
		"softpositive": rgb(0xff, 0x7f, 0x0e),
		"softnegative": rgb(0x94, 0x67, 0xbd),
		"hard":         rgb(0x8c, 0x56, 0x4b),
		"none":         rgb(0x7f, 0x7f, 0x7f),
	}
	fallbackColors = []color.Color{rgb(0x17, 0xbe, 0xcf), rgb(0xbc, 0xbd, 0x22), rgb(0xe3, 0x77, 0xc2)}
)

func rgb(r, g, b uint8) color.Color { return color.RGBA{R: r, G: g, B: b, A: 0xff} }

func strategyColor(s string, i int) color.Color {
	if c, ok := strategyColors[strings.ToLower(s)]; ok {
		return c
	}
	return fallbackColors[i%len(fallbackColors)]
}

// Chart is one picture.
type Chart struct {
	Name string // ChartLocalCTR, ChartLift or ChartChanges
	Plot *plot.Plot
}

// Charts draws the figures: the histogram (when there are per-user rows),
// the lift chart (when a strategy other than None is present) and the
// changes chart.
func (f *Figures) Charts() ([]Chart, error) {
	var out []Chart
	if len(f.Hist) > 0 {
		out = append(out, Chart{ChartLocalCTR, f.histPlot()})
	}
	if len(f.Lift) > 0 {
		p, err := f.liftPlot()
		if err != nil {
			return nil, err
		}
		out = append(out, Chart{ChartLift, p})
	}
	p, err := f.changesPlot()
	if err != nil {
		return nil, err
	}
	return append(out, Chart{ChartChanges, p}), nil
}

func (f *Figures) subject() string {
	s := f.Architecture
	if f.Dataset != "" {
		s += ", " + f.Dataset
	}
	return s
}

// sans is the house font, Liberation Sans, at size points.
func sans(size float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
}

// newPlot is a plot with the house style: sans-serif text, larger title
// and labels, the legend at the top right inside the data area.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(14)
	p.Title.Padding = vg.Points(10)
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(12)
		a.Tick.Label.Font = sans(10)
	}
	p.Legend.TextStyle.Font = sans(10)
	p.Legend.Top = true
	p.Legend.ThumbnailWidth = vg.Points(20)
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(8), -vg.Points(4)
	return p
}

func (f *Figures) histPlot() *plot.Plot {
	n := 0
	maxUsers := 0
	for _, b := range f.Hist {
		n += b.Users
		maxUsers = max(maxUsers, b.Users)
	}
	p := newPlot(fmt.Sprintf("Local CTR of %d users (%s)", n, f.subject()),
		"local CTR (share of positives among the user's training samples)", "users")
	bars := &rects{fill: colorHist, edge: color.White}
	for _, b := range f.Hist {
		bars.add(b.Lo, b.Hi, 0, float64(b.Users), colorHist)
	}
	p.Add(plotter.NewGrid())
	p.Add(bars)
	top := math.Max(1, float64(maxUsers)) * 1.3 // headroom for the legend
	g := vline(f.GlobalCTR, 0, top, colorGlobal)
	p.Add(g)
	mean := 0.0
	for _, r := range f.LocalCTR {
		mean += r / float64(len(f.LocalCTR))
	}
	p.Legend.Add(fmt.Sprintf("users per bin of width %.2f", f.Hist[0].Hi-f.Hist[0].Lo), bars)
	p.Legend.Add(fmt.Sprintf("global CTR g = %.3f (mean local CTR %.3f)", f.GlobalCTR, mean), g)
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, top
	p.X.Tick.Marker = fixedTicks(0, 1, 0.1, "%.1f")
	p.Y.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		return integerTicks(plot.DefaultTicks{}.Ticks(min, float64(maxUsers)))
	})
	return p
}

func (f *Figures) liftPlot() (*plot.Plot, error) {
	nb := len(f.Lift[0].Bars)
	for _, s := range f.Lift {
		if len(s.Bars) != nb {
			return nil, fmt.Errorf("%w: strategies have %d and %d lift buckets", ErrInput, nb, len(s.Bars))
		}
	}
	p := newPlot(fmt.Sprintf("Lift of LCFT over Local by local CTR (%s)", f.subject()),
		"local CTR of the users' training samples; n = users compared", "user-level AUC, LCFT − Local")
	const group = 0.8
	w := group / float64(len(f.Lift))
	lo, hi := 0.0, 0.0
	hasCI := false
	p.Add(plotter.NewGrid())
	for j, s := range f.Lift {
		c := strategyColor(s.Strategy, j)
		bars := &rects{fill: c}
		ci := &intervals{color: color.Black, cap: w * 0.25}
		for k, b := range s.Bars {
			if math.IsNaN(b.Lift) {
				continue
			}
			x0 := float64(k) - group/2 + float64(j)*w
			bars.add(x0, x0+w, 0, b.Lift, c)
			lo, hi = math.Min(lo, b.Lift), math.Max(hi, b.Lift)
			if !math.IsNaN(b.CILo) {
				ci.add(x0+w/2, b.CILo, b.CIHi)
				lo, hi = math.Min(lo, b.CILo), math.Max(hi, b.CIHi)
				hasCI = true
			}
		}
		p.Add(bars)
		p.Legend.Add(s.Strategy, bars)
		if len(ci.x) > 0 {
			p.Add(ci)
		}
	}
	if hi == lo {
		hi, lo = 1e-4, -1e-4
	}
	span := hi - lo
	top := hi + 0.35*span // headroom for the legend
	bottom := lo - 0.05*span
	zero, _ := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 0}, {X: float64(nb) - 0.5, Y: 0}})
	zero.LineStyle.Width = vg.Points(0.8)
	p.Add(zero)
	// The global CTR on the bucket axis: bucket k is centred on k, so CTR r
	// sits at r*nb - 0.5.
	gx := f.GlobalCTR*float64(nb) - 0.5
	g := vline(gx, bottom, top, colorGlobal)
	p.Add(g)
	p.Legend.Add(fmt.Sprintf("global CTR g = %.3f", f.GlobalCTR), g)
	if hasCI {
		p.Legend.Add("95% paired bootstrap interval over the bucket's users", &intervals{color: color.Black, cap: 0.1})
	}
	ticks := make([]plot.Tick, nb)
	for k, b := range f.Lift[0].Bars {
		ticks[k] = plot.Tick{Value: float64(k), Label: fmt.Sprintf("%.1f–%.1f\nn=%d", b.Lo, b.Hi, b.Users)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.5, float64(nb)-0.5
	p.Y.Min, p.Y.Max = bottom, top
	p.Y.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		return signedTicks(plot.DefaultTicks{}.Ticks(min, hi+0.05*span))
	})
	return p, nil
}

// integerTicks keeps the ticks at whole numbers, labelled without decimals.
func integerTicks(ts []plot.Tick) []plot.Tick {
	var out []plot.Tick
	for _, t := range ts {
		if t.Value != math.Trunc(t.Value) {
			continue
		}
		if t.Label != "" {
			t.Label = fmt.Sprintf("%.0f", t.Value)
		}
		out = append(out, t)
	}
	return out
}

// signedTicks writes labels with an explicit sign, a true minus sign, and
// a plain 0.
func signedTicks(ts []plot.Tick) []plot.Tick {
	for i := range ts {
		if ts[i].Label == "" {
			continue
		}
		switch {
		case ts[i].Value == 0 || strings.Trim(ts[i].Label, "-0.") == "":
			ts[i].Label = "0"
		case ts[i].Value > 0:
			ts[i].Label = "+" + ts[i].Label
		default:
			ts[i].Label = strings.Replace(ts[i].Label, "-", "−", 1)
		}
	}
	return ts
}

func (f *Figures) changesPlot() (*plot.Plot, error) {
	users := 0
	for _, s := range f.Changes {
		users = max(users, s.Improved+s.Unchanged+s.Degraded)
	}
	p := newPlot(fmt.Sprintf("Users' AUC versus Cloud (%s; %d scored users)", f.subject(), users),
		"fine-tuning strategy (None: original labels, i.e. Local)", "share of users (%)")
	imp := &rects{fill: colorImproved}
	unc := &rects{fill: colorUnchanged}
	deg := &rects{fill: colorDegraded}
	var labels plotter.XYLabels
	ticks := make([]plot.Tick, len(f.Changes))
	const w = 0.6
	for k, s := range f.Changes {
		n := float64(s.Improved + s.Unchanged + s.Degraded)
		x0, x1 := float64(k)-w/2, float64(k)+w/2
		name := s.Strategy
		if strings.EqualFold(name, "None") {
			name += "\n(Local)"
		} else {
			name += "\n(LCFT)"
		}
		ticks[k] = plot.Tick{Value: float64(k), Label: name}
		if n == 0 {
			continue
		}
		y := 0.0
		for _, seg := range []struct {
			r     *rects
			count int
		}{{imp, s.Improved}, {unc, s.Unchanged}, {deg, s.Degraded}} {
			h := 100 * float64(seg.count) / n
			seg.r.add(x0, x1, y, y+h, seg.r.fill)
			if h >= 4 {
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(k), Y: y + h/2})
				labels.Labels = append(labels.Labels, fmt.Sprintf("%.0f%% (%d)", h, seg.count))
			}
			y += h
		}
	}
	p.Add(imp, unc, deg)
	p.Legend.Add("improved", imp)
	p.Legend.Add("unchanged (|ΔAUC| ≤ 1e-9)", unc)
	p.Legend.Add("degraded", deg)
	if len(labels.XYs) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
			l.TextStyle[i].Font = sans(10)
		}
		p.Add(l)
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Room on the right for the legend (about a third of the width).
	p.X.Min, p.X.Max = -0.5, float64(len(f.Changes))-0.5+math.Max(1.2, 0.55*float64(len(f.Changes)))
	p.Y.Min, p.Y.Max = 0, 100
	p.Y.Tick.Marker = fixedTicks(0, 100, 20, "%.0f")
	return p, nil
}

func fixedTicks(lo, hi, step float64, format string) plot.Ticker {
	var ts []plot.Tick
	for v := lo; v <= hi+step/1e6; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprintf(format, v)})
	}
	return plot.ConstantTicks(ts)
}

func vline(x, y0, y1 float64, c color.Color) *plotter.Line {
	l, _ := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}}) // finite points cannot fail
	l.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	return l
}

// rects draws filled rectangles given in data coordinates.
type rects struct {
	fill, edge color.Color
	boxes      []rectBox
}

type rectBox struct {
	x0, x1, y0, y1 float64
	c              color.Color
}

func (r *rects) add(x0, x1, y0, y1 float64, c color.Color) {
	if y1 < y0 {
		y0, y1 = y1, y0
	}
	r.boxes = append(r.boxes, rectBox{x0, x1, y0, y1, c})
}

func (r *rects) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, b := range r.boxes {
		pts := []vg.Point{{X: trX(b.x0), Y: trY(b.y0)}, {X: trX(b.x1), Y: trY(b.y0)}, {X: trX(b.x1), Y: trY(b.y1)}, {X: trX(b.x0), Y: trY(b.y1)}}
		c.FillPolygon(b.c, c.ClipPolygonXY(pts))
		if r.edge != nil {
			pts = append(pts, pts[0])
			c.StrokeLines(draw.LineStyle{Color: r.edge, Width: vg.Points(0.5)}, c.ClipLinesXY(pts)...)
		}
	}
}

func (r *rects) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, b := range r.boxes {
		xmin, xmax = math.Min(xmin, b.x0), math.Max(xmax, b.x1)
		ymin, ymax = math.Min(ymin, b.y0), math.Max(ymax, b.y1)
	}
	return
}

func (r *rects) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}}
	c.FillPolygon(r.fill, c.ClipPolygonY(pts))
}

// intervals draws vertical interval bars with caps (cap: half width in
// data units).
type intervals struct {
	color     color.Color
	cap       float64
	x, lo, hi []float64
}

func (iv *intervals) add(x, lo, hi float64) {
	iv.x, iv.lo, iv.hi = append(iv.x, x), append(iv.lo, lo), append(iv.hi, hi)
}

func (iv *intervals) style() draw.LineStyle {
	return draw.LineStyle{Color: iv.color, Width: vg.Points(1)}
}

func (iv *intervals) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, x := range iv.x {
		xl, xc, xr := trX(x-iv.cap), trX(x), trX(x+iv.cap)
		yl, yh := trY(iv.lo[i]), trY(iv.hi[i])
		c.StrokeLines(iv.style(), c.ClipLinesXY([]vg.Point{{X: xc, Y: yl}, {X: xc, Y: yh}})...)
		c.StrokeLines(iv.style(), c.ClipLinesXY([]vg.Point{{X: xl, Y: yl}, {X: xr, Y: yl}})...)
		c.StrokeLines(iv.style(), c.ClipLinesXY([]vg.Point{{X: xl, Y: yh}, {X: xr, Y: yh}})...)
	}
}

func (iv *intervals) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i, x := range iv.x {
		xmin, xmax = math.Min(xmin, x-iv.cap), math.Max(xmax, x+iv.cap)
		ymin, ymax = math.Min(ymin, iv.lo[i]), math.Max(ymax, iv.hi[i])
	}
	return
}

func (iv *intervals) Thumbnail(c *draw.Canvas) {
	xc := (c.Min.X + c.Max.X) / 2
	cw := (c.Max.X - c.Min.X) / 4
	c.StrokeLines(iv.style(), []vg.Point{{X: xc, Y: c.Min.Y}, {X: xc, Y: c.Max.Y}})
	c.StrokeLines(iv.style(), []vg.Point{{X: xc - cw, Y: c.Min.Y}, {X: xc + cw, Y: c.Min.Y}})
	c.StrokeLines(iv.style(), []vg.Point{{X: xc - cw, Y: c.Max.Y}, {X: xc + cw, Y: c.Max.Y}})
}

// Render writes the plot in format ("png" or "svg") at Width x Height.
func Render(w io.Writer, p *plot.Plot, format string) error {
	var c vg.CanvasWriterTo
	switch strings.ToLower(format) {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI))}
	case "svg":
		c = vgsvg.New(Width, Height)
	default:
		return fmt.Errorf("%w: picture format %q is not one of %s", ErrInput, format, strings.Join(Formats, ", "))
	}
	margin := vg.Points(6)
	p.Draw(draw.Crop(draw.New(c), margin, -2*margin, margin, -margin))
	_, err := c.WriteTo(w)
	return err
}

// Write draws the figures and writes each chart in each format to
// dirURI/<prefix>-<chart>.<format> through trainer/storage; it returns the
// URIs written, in order.
func (f *Figures) Write(ctx context.Context, dirURI, prefix string, formats []string) ([]string, error) {
	charts, err := f.Charts()
	if err != nil {
		return nil, err
	}
	var uris []string
	for _, ch := range charts {
		for _, fm := range formats {
			uri := storage.Join(dirURI, fmt.Sprintf("%s-%s.%s", prefix, ch.Name, strings.ToLower(fm)))
			if err := storage.Write(ctx, uri, func(w io.Writer) error { return Render(w, ch.Plot, fm) }); err != nil {
				return uris, err
			}
			uris = append(uris, uri)
		}
	}
	return uris, nil
}
