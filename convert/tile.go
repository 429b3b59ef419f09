package convert

import (
	"fmt"
	"image"
	"math"
	"strconv"
	"strings"

	"animegan/model"
	"animegan/tiling"
)

// TileMode is what --tile asks for.
type TileMode int

const (
	// TileAuto (the default) tiles only the images whose whole inference
	// the memory budget cannot hold (or that would crash ONNX Runtime),
	// with the largest tile that fits; the others run whole.
	TileAuto TileMode = iota
	// TileOff never tiles: an image too large for the budget is refused.
	TileOff
	// TileFixed tiles every image larger than the tile, with tiles of
	// TileOptions.Size.
	TileFixed
)

// TileOptions are --tile and --tile-overlap.
type TileOptions struct {
	Mode TileMode `json:"mode"`
	Size int      `json:"size,omitempty"` // TileFixed: the tile side in model pixels
	// Overlap is the overlap between neighbouring tiles in pixels when
	// OverlapSet; otherwise the model's (model.Tiler.Overlap: its receptive
	// field, rounded up to its multiple).
	Overlap    int  `json:"overlap,omitempty"`
	OverlapSet bool `json:"overlap_set,omitempty"`
}

// ParseTile reads a --tile value: auto, off (or 0), or a tile side in pixels.
func ParseTile(s string) (TileOptions, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", "auto":
		return TileOptions{Mode: TileAuto}, nil
	case "off", "0", "none":
		return TileOptions{Mode: TileOff}, nil
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return TileOptions{}, fmt.Errorf("--tile %q: want auto, off (or 0), or a tile side in pixels, e.g. 512", s)
		}
		return TileOptions{Mode: TileFixed, Size: n}, nil
	}
}

// String is the --tile value: auto, off or the side.
func (t TileOptions) String() string {
	switch t.Mode {
	case TileOff:
		return "off"
	case TileFixed:
		return strconv.Itoa(t.Size)
	}
	return "auto"
}

// OverlapString is the --tile-overlap value ("model" when it is the model's).
func (t TileOptions) OverlapString() string {
	if !t.OverlapSet {
		return "model"
	}
	return strconv.Itoa(t.Overlap)
}

// minTile is the smallest tile side animegan chooses by itself: below it
// the overlap would be most of every tile.
const minTile = 64

// validateTile checks --tile and --tile-overlap against the model: a fixed
// tile must be a multiple of the model's multiple and wider than twice the
// overlap; a model of one fixed size cannot be tiled.
func validateTile(t TileOptions, spec *model.Spec) error {
	if t.OverlapSet && t.Overlap < 0 {
		return fmt.Errorf("--tile-overlap %d: must be 0 or more pixels", t.Overlap)
	}
	if t.Mode != TileFixed {
		return nil
	}
	m := max(1, spec.Multiple)
	switch {
	case !spec.Dynamic():
		return fmt.Errorf("--tile %d: the model takes only %dx%d images, it cannot be tiled (use --tile auto or off)", t.Size, spec.FixedW, spec.FixedH)
	case t.Size < m || t.Size%m != 0:
		return fmt.Errorf("--tile %d: must be a multiple of the model's %d (e.g. %d)", t.Size, m, max(m, (t.Size+m/2)/m*m))
	case t.OverlapSet && 2*t.Overlap >= t.Size:
		return fmt.Errorf("--tile-overlap %d: must be less than half the tile (%d)", t.Overlap, t.Size)
	}
	return nil
}

// TileInfo says how one image was tiled, for the log and the summary.
type TileInfo struct {
	Input     string `json:"input"`
	Tile      int    `json:"tile"`    // the tile side in model pixels
	Overlap   int    `json:"overlap"` // pixels
	Tiles     int    `json:"tiles"`
	Width     int    `json:"width"` // the model-side image the tiles cover
	Height    int    `json:"height"`
	Mode      string `json:"mode"`                // exact (no global operation) or thumbnail statistics
	Thumbnail string `json:"thumbnail,omitempty"` // WxH of the statistics thumbnail
	Workers   int    `json:"workers"`             // tile sessions it was given
	Why       string `json:"why"`                 // "--tile 512", or why auto tiled it
}

func (t TileInfo) String() string {
	s := fmt.Sprintf("%d tiles of %d px (overlap %d) over %dx%d, %s", t.Tiles, t.Tile, t.Overlap, t.Width, t.Height, t.Mode)
	if t.Thumbnail != "" {
		s += " from a " + t.Thumbnail + " thumbnail"
	}
	return s + "; " + t.Why
}

// tileJob is a decoded image that runs as tiles.
type tileJob struct {
	grid     tiling.Grid
	thumb    image.Point // the statistics thumbnail's size; zero when the model needs none
	tileEst  int64       // one tile inference's estimate (budget)
	statsEst int64       // the thumbnail statistics run's estimate, before the tiles
	hold     int64       // the image's own memory while its tiles run: decoded + blender
	workers  int         // tile sessions at once
	info     TileInfo
}

// admit is what the image's infer worker takes from the budget: its own
// memory and one tile worker's (or the statistics run's, which comes
// first, if larger), so that its tiles never wait for memory the image
// itself holds (see inferTiled).
func (j *tileJob) admit() int64 { return j.hold + max(j.tileEst, j.statsEst) }

// tileHold is the memory a w x h image holds while it runs as tiles: the
// decoded model-sized input and the blender (the output image included).
func tileHold(g tiling.Grid, b int64) int64 { return int64(g.W)*int64(g.H)*4 + b }

// blenderBytes bounds what the blender of g holds before it is made (the
// image is admitted before its blender exists): the output image, and
// float RGBA accumulators over every overlap band. inferTiled checks the
// real blender's Bytes against it.
func blenderBytes(g tiling.Grid) int64 {
	out := int64(g.W) * int64(g.H) * 4
	var bands int64
	for _, r := range g.Tiles {
		bands += int64(r.Dx()+r.Dy()) * int64(g.Overlap) * 2
	}
	return out + 16*bands
}

// planTiles decides whether the geometry g (of a w x h upright image) runs
// as tiles, and how. nil, nil: it runs whole. An error: it can run neither
// whole nor as tiles (the reason names the budget or the operation that
// refuses tiling).
func (e *Engine) planTiles(g model.Geometry, w, h int) (*tileJob, error) {
	mode := e.opts.Tile.Mode
	if mode == TileOff || !e.spec.Dynamic() {
		return nil, e.checkWhole(g, w, h)
	}
	if !e.tileable && e.tileRefusal == nil {
		// An engine without inference workers (it only decodes and
		// encodes) has no tiler: nothing it decodes is inferred.
		return nil, e.checkWhole(g, w, h)
	}
	var why string
	side := 0
	if mode == TileFixed {
		if g.ModelW <= e.opts.Tile.Size && g.ModelH <= e.opts.Tile.Size {
			return nil, e.checkWhole(g, w, h) // one tile: the image itself
		}
		side, why = e.opts.Tile.Size, fmt.Sprintf("--tile %d", e.opts.Tile.Size)
	} else {
		wholeErr := e.checkWhole(g, w, h)
		if wholeErr == nil {
			return nil, nil
		}
		if !e.tileable {
			return nil, fmt.Errorf("%w; tiles cannot help: %w", wholeErr, e.tileRefusal)
		}
		why = "--tile auto: " + wholeErr.Error()
		if i := strings.Index(why, ": use --max-size"); i > 0 {
			why = why[:i] // the fix offered for a whole run does not apply
		}
		j, err := e.tilesFor(g, 0, why)
		if err != nil {
			// The whole run's refusal stays the error (its fix still
			// holds); why tiles cannot help is added.
			return nil, fmt.Errorf("%w; tiles cannot help: %w", wholeErr, err)
		}
		return j, nil
	}
	if !e.tileable {
		return nil, fmt.Errorf("cannot tile: %w", e.tileRefusal)
	}
	return e.tilesFor(g, side, why)
}

// checkWhole refuses a whole inference that would crash ONNX Runtime or
// that the budget can never hold.
func (e *Engine) checkWhole(g model.Geometry, w, h int) error {
	if err := checkResize(e.spec, g, w, h, e.opts.MaxSide); err != nil {
		return err
	}
	if e.budget != nil {
		return e.budget.Check(e.spec, g, w, h, e.opts.MaxSide)
	}
	return nil
}

// tilesFor lays out the tiles of g: side 0 picks the largest tile whose
// inference, beside the image's own memory, fits in 90% of the budget (the
// margin Budget.Check keeps for the estimate's error).
func (e *Engine) tilesFor(g model.Geometry, side int, why string) (*tileJob, error) {
	m := max(1, e.spec.Multiple)
	overlap := e.overlap
	long := max(g.ModelW, g.ModelH)
	grid := func(t int) (tiling.Grid, error) {
		return tiling.NewGrid(g.ModelW, g.ModelH, t, overlap, m)
	}
	est := func(t int) int64 {
		if e.budget == nil {
			return 0
		}
		return e.budget.Cost.Bytes(int64(t) * int64(t))
	}
	crashes := func(t int) bool {
		return e.spec.ResizeMaxPixels > 0 && int64(t)*int64(t) > e.spec.ResizeMaxPixels
	}
	var limit int64 = math.MaxInt64
	if e.budget != nil {
		limit = e.budget.Limit / 10 * 9
	}
	if side == 0 {
		lo := min(max(minTile/m*m, (2*overlap/m+1)*m), (long+m-1)/m*m)
		for t := (long + m - 1) / m * m; t >= lo; t -= m {
			gr, err := grid(t)
			if err != nil || crashes(t) {
				continue
			}
			if tileHold(gr, blenderBytes(gr))+est(t) <= limit {
				side = t
				break
			}
		}
		if side == 0 {
			gr, _ := grid(lo)
			return nil, fmt.Errorf("even %d px tiles need about %s each beside the image's own %s",
				lo, aboutBytes(est(lo)), aboutBytes(tileHold(gr, blenderBytes(gr))))
		}
	}
	gr, err := grid(side)
	if err != nil {
		return nil, fmt.Errorf("tiling %dx%d with %d px tiles: %w", g.ModelW, g.ModelH, side, err)
	}
	if crashes(side) {
		return nil, fmt.Errorf("a %d px tile would crash ONNX Runtime (its Resize kernel overflows with this model above %.1f megapixels): use a smaller --tile", side, float64(e.spec.ResizeMaxPixels)/1e6)
	}
	j := &tileJob{grid: gr, tileEst: est(side), workers: 1}
	j.hold = tileHold(gr, blenderBytes(gr))
	if e.tileStats {
		j.thumb = e.thumbSize(g, func(px int64) bool {
			return e.budget == nil || j.hold+e.budget.Cost.Bytes(px) <= limit
		})
		if e.budget != nil {
			j.statsEst = e.budget.Cost.Bytes(int64(j.thumb.X) * int64(j.thumb.Y))
		}
	}
	if e.budget != nil {
		if need := j.admit(); need > e.budget.Limit {
			return nil, fmt.Errorf("%d px tiles need about %s each beside the image's own %s, budget %s: use a smaller --tile or raise --mem-budget",
				side, aboutBytes(max(j.tileEst, j.statsEst)), aboutBytes(j.hold), aboutBytes(e.budget.Limit))
		}
		// Further tile workers, each admitted on its own, as the budget
		// left beside the image holds them.
		j.workers = int(max(1, (e.budget.Limit-j.hold)/max(1, j.tileEst)))
	}
	if e.budget == nil {
		j.workers = e.opts.Workers
	}
	j.workers = max(1, min(j.workers, len(gr.Tiles), e.opts.Workers))
	j.info = TileInfo{Tile: side, Overlap: overlap, Tiles: len(gr.Tiles), Width: g.ModelW, Height: g.ModelH,
		Mode: "exact", Workers: j.workers, Why: why}
	if j.thumb != (image.Point{}) {
		j.info.Mode = "thumbnail statistics"
		j.info.Thumbnail = fmt.Sprintf("%dx%d", j.thumb.X, j.thumb.Y)
	}
	return j, nil
}

// thumbSize is the statistics thumbnail of an image fed at g: the whole
// image, at most at --max-size's default (so a full-resolution result is
// normalised with the statistics a default conversion of the photo uses),
// smaller when the budget left beside the image's own memory cannot hold
// the statistics run at that size (fits says whether it can at px pixels).
func (e *Engine) thumbSize(g model.Geometry, fits func(px int64) bool) image.Point {
	m := max(1, e.spec.Multiple)
	long := min(max(g.ModelW, g.ModelH), DefaultMaxSide)
	for {
		tg, err := e.spec.Fit(g.ModelW, g.ModelH, long)
		if err != nil {
			return image.Pt(g.ModelW, g.ModelH)
		}
		if fits(int64(tg.ModelW)*int64(tg.ModelH)) || long <= m {
			return image.Pt(tg.ModelW, tg.ModelH)
		}
		long -= m
	}
}

// crop copies r out of img as a tile of its own, into buf when it has
// r's size (a tile worker reuses one buffer: every tile but those of an
// image side smaller than the tile has the same size).
func crop(buf, img *image.NRGBA, r image.Rectangle) *image.NRGBA {
	t := buf
	if t == nil || t.Rect.Dx() != r.Dx() || t.Rect.Dy() != r.Dy() {
		t = image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		o := img.PixOffset(r.Min.X, y)
		copy(t.Pix[(y-r.Min.Y)*t.Stride:(y-r.Min.Y+1)*t.Stride], img.Pix[o:o+4*r.Dx()])
	}
	return t
}
