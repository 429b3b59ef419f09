// Package tiling cuts an image into overlapping tiles and blends the tiles'
// results back into one image with no visible seam. It knows images and
// rectangles only: what runs on a tile, and where the image comes from or
// goes to, is the caller's business.
//
// The layout is separable: the columns of tiles split the width into spans
// and the rows split the height, and tile (c, r) is column c's span by row
// r's span. Blending is separable too: along each axis, each pair of
// neighbouring spans gets one ramp inside their overlap where the left
// (upper) tile's weight falls from 1 to 0 while the right (lower) one's
// rises, so the 1-D weights sum to 1 everywhere and a tile's 2-D weight,
// the product of its two 1-D weights, sums to 1 over the tiles too.
package tiling

import (
	"fmt"
	"image"
)

// Grid is a set of tiles covering a W x H image. Tiles never cross the
// image's edge: the tiles along each axis are spread evenly from one edge
// to the other, so the last one is shifted inwards rather than cut, and
// every overlap is at least Overlap pixels wide. All tiles of a column
// are as wide, all tiles of a row as high.
type Grid struct {
	W, H     int
	Tile     int // the largest tile side: no tile is larger than Tile x Tile
	Overlap  int // the least overlap between neighbouring tiles, and the blending ramps' width
	Multiple int // every tile side and origin is a multiple of it, unless the grid is the whole image as one tile (or a side is not a multiple: its last tile ends at the edge)

	// Cols x Rows tiles, row by row: tile (c, r) is Tiles[r*Cols+c].
	Cols, Rows int
	Tiles      []image.Rectangle
}

// NewGrid lays out tiles of at most tile x tile pixels over a w x h image,
// with at least overlap pixels shared between neighbours, for a model
// whose sides must be multiples of multiple.
//
// An image no larger than a tile on either side is one tile, the whole
// image, whatever its sides: it runs as it would without tiling. Otherwise
// every tile side is a multiple of multiple. Along an axis longer than a
// tile, the fewest tiles that overlap by at least overlap, each as small
// as lets that many cover the axis (at most tile). Along an axis shorter
// than a tile, its length when it is a multiple, else two spans of the
// largest multiple that fits, one from each edge (a 5000x300 image with
// 512 px tiles and a multiple of 8 gets rows 296 px high at y=0 and y=4).
// An axis shorter than one multiple cannot be tiled: an error.
//
// overlap may be at most half the tile: beyond that most pixels would be
// computed three times or more.
func NewGrid(w, h, tile, overlap, multiple int) (Grid, error) {
	switch {
	case w <= 0 || h <= 0:
		return Grid{}, fmt.Errorf("tiling: image has no pixels (%dx%d)", w, h)
	case multiple < 1:
		return Grid{}, fmt.Errorf("tiling: multiple %d is not positive", multiple)
	case tile < multiple || tile%multiple != 0:
		return Grid{}, fmt.Errorf("tiling: tile %d is not a positive multiple of the model's %d", tile, multiple)
	case overlap < 0:
		return Grid{}, fmt.Errorf("tiling: negative overlap %d", overlap)
	case 2*overlap > tile:
		return Grid{}, fmt.Errorf("tiling: overlap %d is more than half the tile %d", overlap, tile)
	}
	g := Grid{W: w, H: h, Tile: tile, Overlap: overlap, Multiple: multiple}
	var xs, ys []span
	if w <= tile && h <= tile {
		xs, ys = []span{{0, w}}, []span{{0, h}}
	} else {
		var err error
		if xs, err = spans(w, tile, overlap, multiple); err != nil {
			return Grid{}, fmt.Errorf("tiling: %dx%d image: width %w", w, h, err)
		}
		if ys, err = spans(h, tile, overlap, multiple); err != nil {
			return Grid{}, fmt.Errorf("tiling: %dx%d image: height %w", w, h, err)
		}
	}
	g.Cols, g.Rows = len(xs), len(ys)
	g.Tiles = make([]image.Rectangle, 0, len(xs)*len(ys))
	for _, y := range ys {
		for _, x := range xs {
			g.Tiles = append(g.Tiles, image.Rect(x.lo, y.lo, x.hi, y.hi))
		}
	}
	return g, nil
}

// span is the half-open interval [lo, hi) along one axis.
type span struct{ lo, hi int }

func (s span) len() int { return s.hi - s.lo }

// spans lays tiles along an axis of n pixels (n > tile on the other axis,
// or on this one).
func spans(n, tile, overlap, multiple int) ([]span, error) {
	if n < tile {
		side := n / multiple * multiple
		switch {
		case side == 0:
			return nil, fmt.Errorf("%d is less than the model's multiple %d", n, multiple)
		case side == n:
			return []span{{0, n}}, nil
		}
		return []span{{0, side}, {n - side, n}}, nil
	}
	// The fewest tiles whose overlaps are all at least overlap; then the
	// smallest side (a multiple) with which that many still cover the
	// axis, spread evenly: a 2048 px side in 512 px tiles overlapping by
	// 48 takes five tiles of 448, not five of 512 overlapping by 128,
	// and the model's cost goes with the pixels.
	stride := tile - overlap
	count := 1 + (n-tile+stride-1)/stride
	if count == 1 {
		return []span{{0, tile}}, nil
	}
	// Tile origins on the multiple too: a model that downsamples by
	// strided layers (by up to its multiple) computes a tile's pixels on
	// the whole image's grid only from such an origin. Measured on the
	// trained AnimeGANv2 (1536x768, 512 px tiles, overlap 48, exact
	// statistics, Resizes made length-independent): origins at 371 and
	// 741 px gave 44 dB from the untiled result, at 368 and 736 73 dB.
	// Snapping can shrink an overlap by up to a multiple: the side grows
	// (or the count) until every overlap holds. The last tile ends at
	// the edge, on the multiple when n is.
	for c := count; c < count+4; c++ {
		need := (n + (c-1)*overlap + c - 1) / c
		for side := (need + multiple - 1) / multiple * multiple; side <= tile; side += multiple {
			if out := spread(n, side, c, multiple); minOverlap(out) >= overlap {
				return out, nil
			}
		}
	}
	// Sides too short for their multiple to snap to (a tile of one or
	// two multiples): evenly spread, off the multiple.
	side := min(tile, ((n+(count-1)*overlap+count-1)/count+multiple-1)/multiple*multiple)
	return spread(n, side, count, 1), nil
}

// spread places count spans of side pixels from 0 to n, evenly, each
// origin but the last rounded to the nearest multiple of snap.
func spread(n, side, count, snap int) []span {
	out := make([]span, count)
	for k := range out {
		lo := n - side
		if k < count-1 {
			lo = (k*(n-side) + (count-1)/2) / (count - 1)
			lo = min(n-side, (lo+snap/2)/snap*snap)
		}
		out[k] = span{lo, lo + side}
	}
	return out
}

// minOverlap is the least overlap of neighbouring spans.
func minOverlap(s []span) int {
	least := s[0].len()
	for k := 1; k < len(s); k++ {
		least = min(least, s[k-1].hi-s[k].lo)
	}
	return least
}

// axis is the layout along one axis: the tiles' spans and, between
// neighbours k and k+1, the ramp where the weight passes from k to k+1.
// ramps are disjoint, in order, and ramp k lies inside both spans k and
// k+1; span k's weight is 1 between ramp k-1 and ramp k, 0 outside.
type axis struct {
	spans []span
	ramps []span
}

// axes recovers the layout along x and along y from the exported fields,
// so a Grid built by hand blends the same way as NewGrid's.
func (g Grid) axes() (x, y axis, err error) {
	if g.Cols < 1 || g.Rows < 1 || len(g.Tiles) != g.Cols*g.Rows {
		return x, y, fmt.Errorf("tiling: grid of %d tiles is not %d columns by %d rows", len(g.Tiles), g.Cols, g.Rows)
	}
	x.spans = make([]span, g.Cols)
	for c := range x.spans {
		x.spans[c] = span{g.Tiles[c].Min.X, g.Tiles[c].Max.X}
	}
	y.spans = make([]span, g.Rows)
	for r := range y.spans {
		t := g.Tiles[r*g.Cols]
		y.spans[r] = span{t.Min.Y, t.Max.Y}
	}
	for i, t := range g.Tiles {
		c, r := i%g.Cols, i/g.Cols
		if t.Min.X != x.spans[c].lo || t.Max.X != x.spans[c].hi || t.Min.Y != y.spans[r].lo || t.Max.Y != y.spans[r].hi {
			return x, y, fmt.Errorf("tiling: tile %d %v is not column %d by row %d", i, t, c, r)
		}
	}
	if err := x.check(g.W); err != nil {
		return x, y, fmt.Errorf("tiling: columns: %w", err)
	}
	if err := y.check(g.H); err != nil {
		return x, y, fmt.Errorf("tiling: rows: %w", err)
	}
	x.ramps = ramps(x.spans, g.Overlap)
	y.ramps = ramps(y.spans, g.Overlap)
	for _, a := range []axis{x, y} {
		for k, r := range a.ramps {
			if r.lo < a.spans[k+1].lo || r.hi > a.spans[k].hi || (k > 0 && r.lo < a.ramps[k-1].hi) {
				return x, y, fmt.Errorf("tiling: ramp %v between spans %v and %v overlaps its neighbours", r, a.spans[k], a.spans[k+1])
			}
		}
	}
	return x, y, nil
}

// check: spans in order from 0 to n, each overlapping (or touching) the
// next. A pixel may lie in three spans (NewGrid's even spread does that
// when tiles overlap by much more than asked); the ramps still pass the
// weight from one span to the next only.
func (a axis) check(n int) error {
	s := a.spans
	if s[0].lo != 0 || s[len(s)-1].hi != n {
		return fmt.Errorf("spans %v do not run from 0 to %d", s, n)
	}
	for k := range s {
		if s[k].len() <= 0 {
			return fmt.Errorf("empty span %v", s[k])
		}
		if k > 0 && (s[k].lo < s[k-1].lo || s[k].lo > s[k-1].hi || s[k].hi <= s[k-1].hi) {
			return fmt.Errorf("span %v does not follow %v", s[k], s[k-1])
		}
	}
	return nil
}

// ramps places one ramp per pair of neighbouring spans: as wide as the
// overlap asked for (narrower when the spans overlap less, or when the
// neighbouring ramps are too close), centred in the pair's overlap, the
// middle of the shared pixels, farthest from both tiles' edges where a
// model's padding shows.
func ramps(s []span, overlap int) []span {
	if len(s) < 2 {
		return nil
	}
	// Twice each overlap's centre, to stay in integers.
	c2 := make([]int, len(s)-1)
	for k := range c2 {
		c2[k] = s[k+1].lo + s[k].hi
	}
	out := make([]span, len(c2))
	for k := range out {
		shared := s[k].hi - s[k+1].lo
		w := min(overlap, shared)
		// Half-widths of neighbouring ramps add up to less than the
		// distance between their centres (less half a pixel of rounding).
		if k > 0 {
			w = min(w, (c2[k]-c2[k-1]-1)/2)
		}
		if k < len(c2)-1 {
			w = min(w, (c2[k+1]-c2[k]-1)/2)
		}
		w = max(w, 0)
		lo := s[k+1].lo + (shared-w)/2
		out[k] = span{lo, lo + w}
	}
	return out
}
