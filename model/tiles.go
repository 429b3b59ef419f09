package model

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/onnxgraph"
	"animegan/tilegraph"
)

// TileMode says how a model can be tiled (tilegraph.Mode).
type TileMode = tilegraph.Mode

// The tile modes.
const (
	TileRefused   = tilegraph.Refused
	TileExact     = tilegraph.Exact
	TileThumbnail = tilegraph.Thumbnail
)

// Tiling is what Inspect found about running the model tile by tile,
// printed by inspect: the mode, the normalisations the rewrite handles
// (or why it refuses), the traced receptive field and the default
// overlap that follows from it.
type Tiling struct {
	Mode   TileMode
	Reason string           `json:",omitempty"` // Refused: the operation and why
	Norms  []tilegraph.Norm `json:",omitempty"`
	// Resamples are the Resize nodes whose sampling depends on the image's
	// size (align_corners): tiles sample them at the whole image's
	// coordinates (tilegraph.Resample).
	Resamples      []string `json:",omitempty"`
	ReceptiveField int      // input pixels on each side; -1 when it could not be traced
	Overlap        int      // default tile overlap in pixels, a multiple of Spec.Multiple
}

// Patterns counts the normalisations by pattern, in the order first seen.
func (t *Tiling) Patterns() []PatternCount {
	var out []PatternCount
	for _, n := range t.Norms {
		found := false
		for i := range out {
			if out[i].Pattern == n.Pattern {
				out[i].Count++
				found = true
			}
		}
		if !found {
			out = append(out, PatternCount{n.Pattern, 1})
		}
	}
	return out
}

// PatternCount is how many normalisations follow one pattern.
type PatternCount struct {
	Pattern string
	Count   int
}

// FallbackOverlap is the overlap, in multiples of Spec.Multiple, for a
// model whose receptive field could not be traced.
const FallbackOverlap = 4

// DefaultOverlap is the tile overlap for a traced receptive field of rf
// pixels on each side: rf rounded up to the model's multiple, so that a
// feathered seam's middle (where both tiles weigh half) lies rf/2 inside
// each tile. README "How a model is tiled" gives the measurement behind it.
func DefaultOverlap(rf, multiple int) int {
	multiple = max(1, multiple)
	if rf < 0 {
		return FallbackOverlap * multiple
	}
	return max(multiple, (rf+multiple-1)/multiple*multiple)
}

// tilingOf summarises how the model read as info can be tiled (no models
// written: inspect and convert's start-up pay only the walk of the graph).
func tilingOf(info *onnxgraph.Info, multiple int) *Tiling {
	p, err := tilegraph.Summarize(info)
	if err != nil {
		return &Tiling{Mode: TileRefused, Reason: err.Error(), ReceptiveField: -1, Overlap: DefaultOverlap(-1, multiple)}
	}
	t := &Tiling{Mode: p.Mode, Reason: p.Reason, Norms: p.Norms, ReceptiveField: p.ReceptiveField, Overlap: DefaultOverlap(p.ReceptiveField, multiple)}
	for _, r := range p.Resamples {
		t.Resamples = append(t.Resamples, r.Node)
	}
	return t
}

// TilingRefusedError is a model that cannot run in tiles: a global
// operation the rewrite does not know.
type TilingRefusedError struct {
	Model  string
	Reason string
}

func (e *TilingRefusedError) Error() string {
	return fmt.Sprintf("model %s cannot run in tiles: %s", e.Model, e.Reason)
}

// ErrTilingRefused matches every *TilingRefusedError with errors.Is.
var ErrTilingRefused = errors.New("tiling refused")

func (e *TilingRefusedError) Is(target error) bool { return target == ErrTilingRefused }

// Tiler runs a model tile by tile. Made once per run (it rewrites the
// model: 0.1 s for AnimeGANv2), it makes the sessions of each worker.
type Tiler struct {
	spec *Spec
	plan *tilegraph.Plan
	data []byte // the original model (Exact mode)
}

// NewTiler analyses the model and, for thumbnail statistics, rewrites it.
// A model with a global operation the rewrite does not know is refused
// with a *TilingRefusedError naming the operation.
func NewTiler(spec *Spec, data []byte) (*Tiler, error) {
	plan, err := tilegraph.Analyze(data)
	if err != nil {
		return nil, &InvalidModelError{spec.Name, "tiling analysis: " + err.Error()}
	}
	if plan.Mode == tilegraph.Refused {
		return nil, &TilingRefusedError{spec.Name, plan.Reason}
	}
	return &Tiler{spec: spec, plan: plan, data: data}, nil
}

// Mode is how the model is tiled (Exact or Thumbnail).
func (t *Tiler) Mode() TileMode { return t.plan.Mode }

// NeedsStats reports whether tiles need the statistics of the whole image
// (a StatsSession run on a thumbnail first).
func (t *Tiler) NeedsStats() bool { return t.plan.Mode == tilegraph.Thumbnail }

// Overlap is the default overlap of neighbouring tiles in pixels, a
// multiple of the model's size multiple (DefaultOverlap).
func (t *Tiler) Overlap() int { return DefaultOverlap(t.plan.ReceptiveField, t.spec.Multiple) }

// ReceptiveField is the traced receptive field, in input pixels on each
// side (-1 when it could not be traced).
func (t *Tiler) ReceptiveField() int { return t.plan.ReceptiveField }

// Norms lists the normalisations the tile model takes statistics for.
func (t *Tiler) Norms() []tilegraph.Norm { return t.plan.Norms }

// Stats are the normalisation statistics of one image: a mean and a
// variance per normalisation (a few floats each), opaque to callers.
type Stats struct {
	values [][]float32
	shapes [][]int64
}

// Values is each statistic (mean_0, var_0, mean_1, ...) as computed.
func (s *Stats) Values() [][]float32 { return s.values }

// Bytes is the memory the statistics hold.
func (s *Stats) Bytes() int64 {
	var n int64
	for _, v := range s.values {
		n += 4 * int64(len(v))
	}
	return n
}

// StatsSession runs the statistics model. Like Session, one goroutine at
// a time.
type StatsSession struct {
	spec *Spec
	ort  *ort.DynamicAdvancedSession
	opts SessionOptions
	n    int
}

// NewStatsSession makes a session over the statistics model. Only in
// Thumbnail mode.
func (t *Tiler) NewStatsSession(opts SessionOptions) (*StatsSession, error) {
	if !t.NeedsStats() {
		return nil, fmt.Errorf("model %s: %s tiles need no statistics", t.spec.Name, t.plan.Mode)
	}
	s, err := newORTSession(t.spec, t.plan.Stats, nil, t.plan.StatsOutputs, opts)
	if err != nil {
		return nil, fmt.Errorf("statistics model: %w", err)
	}
	return &StatsSession{spec: t.spec, ort: s, opts: opts, n: len(t.plan.StatsOutputs)}, nil
}

// Options are the settings the session was made with.
func (s *StatsSession) Options() SessionOptions { return s.opts }

// Close releases the session.
func (s *StatsSession) Close() error { return s.ort.Destroy() }

// Run computes the statistics of thumb (a thumbnail of the whole image,
// sized as Fit sizes model inputs). Errors and cancellation as Session.Run.
func (s *StatsSession) Run(ctx context.Context, thumb *image.NRGBA) (*Stats, error) {
	outputs := make([]ort.Value, s.n)
	if err := runImage(ctx, s.spec, s.ort, thumb, nil, outputs); err != nil {
		return nil, err
	}
	defer func() {
		for _, o := range outputs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	st := &Stats{}
	for i, o := range outputs {
		t, ok := o.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("model %s: statistic %d is %T, want a float32 tensor", s.spec.Name, i, o)
		}
		st.values = append(st.values, append([]float32(nil), t.GetData()...))
		st.shapes = append(st.shapes, append([]int64(nil), t.GetShape()...))
	}
	return st, nil
}

// TileSession runs tiles: the tile model in Thumbnail mode, the original
// model in Exact mode (unless it has Resizes to sample at the whole
// image's coordinates: the tile model then too). Like Session, one
// goroutine at a time.
type TileSession struct {
	spec      *Spec
	ort       *ort.DynamicAdvancedSession
	opts      SessionOptions
	stats     int // statistics inputs the model takes
	resamples []tilegraph.Resample
}

// NewTileSession makes a session over the tile model.
func (t *Tiler) NewTileSession(opts SessionOptions) (*TileSession, error) {
	data, inputs := t.data, []string(nil)
	if t.plan.Tile != nil {
		data, inputs = t.plan.Tile, slices.Clone(t.plan.TileInputs)
		for _, r := range t.plan.Resamples {
			inputs = append(inputs, r.Input)
		}
	}
	s, err := newORTSession(t.spec, data, inputs, []string{t.spec.Output.Name}, opts)
	if err != nil {
		return nil, fmt.Errorf("tile model: %w", err)
	}
	return &TileSession{spec: t.spec, ort: s, opts: opts, stats: len(t.plan.TileInputs), resamples: t.plan.Resamples}, nil
}

// Options are the settings the session was made with.
func (s *TileSession) Options() SessionOptions { return s.opts }

// Close releases the session.
func (s *TileSession) Close() error { return s.ort.Destroy() }

// Run feeds one tile, cut from the rectangle at of an image of the given
// size (in model-input pixels, as tiling.Grid lays them out), with the
// whole image's statistics st (nil in Exact mode), and returns the tile's
// result. Where the tile lies matters to a model that upsamples with
// align_corners (tilegraph.Resample). Errors and cancellation as
// Session.Run.
func (s *TileSession) Run(ctx context.Context, tile *image.NRGBA, at image.Rectangle, size image.Point, st *Stats) (*image.NRGBA, error) {
	extra, err := s.inputs(tile, at, size, st)
	defer destroy(extra)
	if err != nil {
		return nil, err
	}
	outputs := []ort.Value{nil}
	if err := runImage(ctx, s.spec, s.ort, tile, extra, outputs); err != nil {
		return nil, err
	}
	if outputs[0] != nil {
		defer outputs[0].Destroy()
	}
	return s.spec.result(outputs[0])
}

// inputs are the tile model's inputs after the image: the statistics,
// then each Resample's region of interest. The caller destroys them.
func (s *TileSession) inputs(tile *image.NRGBA, at image.Rectangle, size image.Point, st *Stats) ([]ort.Value, error) {
	var extra []ort.Value
	if s.stats > 0 {
		if st == nil || len(st.values) != s.stats {
			return nil, fmt.Errorf("model %s: tiles need the image's statistics (%d values), got %d", s.spec.Name, s.stats, statCount(st))
		}
		for i, v := range st.values {
			t, err := ort.NewTensor(ort.NewShape(st.shapes[i]...), v)
			if err != nil {
				return extra, fmt.Errorf("statistic %d: %w", i, err)
			}
			extra = append(extra, t)
		}
	}
	if len(s.resamples) == 0 {
		return extra, nil
	}
	if at.Dx() != tile.Rect.Dx() || at.Dy() != tile.Rect.Dy() || !at.In(image.Rectangle{Max: size}) {
		return extra, fmt.Errorf("model %s: a %dx%d tile placed at %v in a %dx%d image", s.spec.Name, tile.Rect.Dx(), tile.Rect.Dy(), at, size.X, size.Y)
	}
	for _, r := range s.resamples {
		roi, err := r.ROI(at, size)
		if err != nil {
			return extra, fmt.Errorf("model %s, tile %v of %dx%d: %w", s.spec.Name, at, size.X, size.Y, err)
		}
		t, err := ort.NewTensor(ort.NewShape(int64(len(roi))), roi)
		if err != nil {
			return extra, fmt.Errorf("region of interest of %s: %w", r.Node, err)
		}
		extra = append(extra, t)
	}
	return extra, nil
}

func destroy(vs []ort.Value) {
	for _, v := range vs {
		v.Destroy()
	}
}

func statCount(st *Stats) int {
	if st == nil {
		return 0
	}
	return len(st.values)
}
