package tiling

import (
	"fmt"
	"image"
	"math"
	"sync"
	"sync/atomic"
)

// Ramp is the shape of the weight across a blending ramp: the rising
// tile's weight at a fraction t of the way across, the falling tile's
// being 1 minus it.
type Ramp int

const (
	// Cosine, (1 - cos πt) / 2: no kink where the ramp meets the flat
	// weight on either side, so blending adds no edge of its own.
	Cosine Ramp = iota
	// Linear, t.
	Linear
)

func (r Ramp) String() string {
	if r == Linear {
		return "linear"
	}
	return "cosine"
}

// weightOne is a 1-D weight of 1. Weights are integers so that the sums
// are exact and independent of the order tiles arrive in: a 2-D weight is
// out of weightOne² = 2^24, and 255 of those still fit a uint32.
const (
	weightBits = 12
	weightOne  = 1 << weightBits
)

// rise is the rising tile's weight at each of w pixels across a ramp,
// sampled at the pixels' centres (symmetric: the falling tile's weights
// are the rising one's, reversed, within rounding).
func (r Ramp) rise(w int) []uint32 {
	out := make([]uint32, w)
	for i := range out {
		t := (float64(i) + 0.5) / float64(w)
		if r != Linear {
			t = (1 - math.Cos(math.Pi*t)) / 2
		}
		out[i] = uint32(math.Round(t * weightOne))
	}
	return out
}

// segment is a stretch of one axis where the same tiles (along that axis)
// count: one owner outside the ramps, two inside one.
type segment struct {
	span
	owners []int    // tile indices along the axis: 1, or 2 (falling, rising)
	rise   []uint32 // with two owners: owners[1]'s weight per pixel
}

// weight is the j-th owner's weight at pixel lo+i.
func (s *segment) weight(j, i int) uint32 {
	if len(s.owners) == 1 {
		return weightOne
	}
	if j == 1 {
		return s.rise[i]
	}
	return weightOne - s.rise[i]
}

// segments cuts an axis of n pixels at its ramps' edges.
func (a axis) segments(n int, r Ramp) (segs []segment, byTile [][]int) {
	byTile = make([][]int, len(a.spans))
	add := func(s segment) {
		if s.len() <= 0 {
			return
		}
		for _, k := range s.owners {
			byTile[k] = append(byTile[k], len(segs))
		}
		segs = append(segs, s)
	}
	lo := 0
	for k, rp := range a.ramps {
		add(segment{span: span{lo, rp.lo}, owners: []int{k}})
		add(segment{span: rp, owners: []int{k, k + 1}, rise: r.rise(rp.len())})
		lo = rp.hi
	}
	add(segment{span: span{lo, n}, owners: []int{len(a.spans) - 1}})
	return segs, byTile
}

// A Blender puts tile results together into the W x H output, each pixel
// the weighted mean of the tiles that count there. A pixel where one tile
// counts is that tile's pixel exactly (copied); in a ramp, the weights are
// the Ramp's, in 12-bit fixed point, so the result is the same in whatever
// order tiles arrive.
//
// Memory: the W x H NRGBA output (4 bytes a pixel), plus, only while
// some but not all of their tiles are in, the first tile's pixels where
// two tiles meet (4 bytes a pixel) and weighted sums where four meet (16
// bytes a pixel, the overlaps' corners): no whole-image accumulator is
// ever held. Bytes says what is held now, MaxBytes the worst case.
type Blender struct {
	g     Grid
	err   error // the grid is not one a Blender can use
	out   *image.NRGBA
	xs    []segment
	ys    []segment
	xTile [][]int // column c's segments along x
	yTile [][]int

	cells   []cell // len(ys) x len(xs), row by row
	added   []atomic.Bool
	pending atomic.Int64 // tiles not yet added
	held    atomic.Int64 // bytes in cells' accumulators
	peak    atomic.Int64
}

// cell is the rectangle xs[i] x ys[j]. Where several tiles count, it sums
// their weighted pixels until the last one is in, then writes the output.
type cell struct {
	mu   sync.Mutex
	want int // tiles that count here: 1, 2 or 4
	got  int
	// Two tiles: the first one's pixels, and its owner index along each
	// axis, until the second comes.
	first          []uint8
	firstX, firstY int
	// Four tiles: 4 weighted sums a pixel, until the last one comes.
	acc []uint32
}

// NewBlender blends with raised-cosine ramps.
func NewBlender(g Grid) *Blender { return NewBlenderRamp(g, Cosine) }

// NewBlenderRamp blends with the given ramp shape. A grid that NewGrid
// did not make and that cannot be blended (tiles not in rows and columns,
// gaps) makes a Blender whose Add and Image return why.
func NewBlenderRamp(g Grid, r Ramp) *Blender {
	b := &Blender{g: g}
	xa, ya, err := g.axes()
	if err != nil {
		b.err = err
		return b
	}
	b.xs, b.xTile = xa.segments(g.W, r)
	b.ys, b.yTile = ya.segments(g.H, r)
	b.cells = make([]cell, len(b.xs)*len(b.ys))
	for j := range b.ys {
		for i := range b.xs {
			b.cells[j*len(b.xs)+i].want = len(b.xs[i].owners) * len(b.ys[j].owners)
		}
	}
	b.out = image.NewNRGBA(image.Rect(0, 0, g.W, g.H))
	b.added = make([]atomic.Bool, len(g.Tiles))
	b.pending.Store(int64(len(g.Tiles)))
	return b
}

// Add blends tile i's result, the size of g.Tiles[i] (its own origin does
// not matter). Safe for concurrent use; tiles may come in any order, each
// exactly once.
func (b *Blender) Add(i int, tile *image.NRGBA) error {
	if b.err != nil {
		return b.err
	}
	if i < 0 || i >= len(b.g.Tiles) {
		return fmt.Errorf("tiling: tile %d of a grid of %d", i, len(b.g.Tiles))
	}
	r := b.g.Tiles[i]
	if tile == nil || tile.Rect.Size() != r.Size() {
		var got image.Point
		if tile != nil {
			got = tile.Rect.Size()
		}
		return fmt.Errorf("tiling: tile %d is %dx%d, want %dx%d", i, got.X, got.Y, r.Dx(), r.Dy())
	}
	if !b.added[i].CompareAndSwap(false, true) {
		return fmt.Errorf("tiling: tile %d added twice", i)
	}
	// From output coordinates to the tile's.
	dx, dy := tile.Rect.Min.X-r.Min.X, tile.Rect.Min.Y-r.Min.Y
	c, row := i%b.g.Cols, i/b.g.Cols
	for _, sj := range b.yTile[row] {
		for _, si := range b.xTile[c] {
			b.blend(&b.cells[sj*len(b.xs)+si], &b.xs[si], &b.ys[sj], c, row, tile, dx, dy)
		}
	}
	b.pending.Add(-1)
	return nil
}

func (b *Blender) blend(cl *cell, xs, ys *segment, c, row int, tile *image.NRGBA, dx, dy int) {
	w := 4 * xs.len()
	if cl.want == 1 {
		// This tile's alone here: its pixels exactly, and no other
		// tile writes these bytes.
		for y := ys.lo; y < ys.hi; y++ {
			o := b.out.PixOffset(xs.lo, y)
			t := tile.PixOffset(xs.lo+dx, y+dy)
			copy(b.out.Pix[o:o+w], tile.Pix[t:t+w])
		}
		return
	}
	jx := ownerIndex(xs.owners, c)
	jy := ownerIndex(ys.owners, row)
	px := func(y int) []uint8 { return tile.Pix[tile.PixOffset(xs.lo+dx, y+dy):][:w] }

	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.got++
	if cl.want == 2 {
		// Two tiles meet here, along one axis: keep the first one's
		// pixels (4 bytes a pixel, not 16 of sums), blend when the
		// second comes.
		if cl.got == 1 {
			cl.first = make([]uint8, w*ys.len())
			cl.firstX, cl.firstY = jx, jy
			for y := ys.lo; y < ys.hi; y++ {
				copy(cl.first[(y-ys.lo)*w:], px(y))
			}
			b.hold(int64(len(cl.first)))
			return
		}
		const half = 1 << (2*weightBits - 1)
		for y := ys.lo; y < ys.hi; y++ {
			i := y - ys.lo
			w0, w1 := ys.weight(cl.firstY, i), ys.weight(jy, i)
			prev, cur := cl.first[i*w:(i+1)*w], px(y)
			o := b.out.PixOffset(xs.lo, y)
			dst := b.out.Pix[o : o+w]
			for x := range xs.len() {
				a := w0 * xs.weight(cl.firstX, x)
				c := w1 * xs.weight(jx, x)
				for k := 4 * x; k < 4*x+4; k++ {
					dst[k] = uint8((a*uint32(prev[k]) + c*uint32(cur[k]) + half) >> (2 * weightBits))
				}
			}
		}
		b.hold(-int64(len(cl.first)))
		cl.first = nil
		return
	}
	// Four tiles meet here (the corners of the overlaps): sum.
	if cl.acc == nil {
		cl.acc = make([]uint32, w*ys.len())
		b.hold(int64(4 * len(cl.acc)))
	}
	for y := ys.lo; y < ys.hi; y++ {
		wy := ys.weight(jy, y-ys.lo)
		acc := cl.acc[(y-ys.lo)*w : (y-ys.lo+1)*w]
		p := px(y)
		for x := range xs.len() {
			wt := wy * xs.weight(jx, x)
			for k := 4 * x; k < 4*x+4; k++ {
				acc[k] += wt * uint32(p[k])
			}
		}
	}
	if cl.got < cl.want {
		return
	}
	// The weights summed to weightOne² at every pixel: divide, rounding.
	const half = 1 << (2*weightBits - 1)
	for y := ys.lo; y < ys.hi; y++ {
		acc := cl.acc[(y-ys.lo)*w : (y-ys.lo+1)*w]
		o := b.out.PixOffset(xs.lo, y)
		dst := b.out.Pix[o : o+w]
		for k, v := range acc {
			dst[k] = uint8((v + half) >> (2 * weightBits))
		}
	}
	b.hold(-int64(4 * len(cl.acc)))
	cl.acc = nil
}

func ownerIndex(owners []int, k int) int {
	if owners[0] == k {
		return 0
	}
	return 1
}

func (b *Blender) hold(n int64) {
	now := b.held.Add(n)
	for {
		p := b.peak.Load()
		if now <= p || b.peak.CompareAndSwap(p, now) {
			return
		}
	}
}

// Image is the blended output, once every tile is in.
func (b *Blender) Image() (*image.NRGBA, error) {
	if b.err != nil {
		return nil, b.err
	}
	if n := b.pending.Load(); n > 0 {
		return nil, fmt.Errorf("tiling: %d of %d tiles not added", n, len(b.g.Tiles))
	}
	return b.out, nil
}

// Bytes is the memory the blender holds now: its output image and the
// accumulators of the blended cells some but not all of whose tiles are in.
func (b *Blender) Bytes() int64 {
	if b.out == nil {
		return 0
	}
	return int64(len(b.out.Pix)) + b.held.Load()
}

// PeakBytes is the most Bytes has been so far.
func (b *Blender) PeakBytes() int64 {
	if b.out == nil {
		return 0
	}
	return int64(len(b.out.Pix)) + b.peak.Load()
}

// MaxBytes bounds Bytes whatever the order tiles arrive in (g.BlendBytes).
func (b *Blender) MaxBytes() int64 {
	if b.out == nil {
		return 0
	}
	return b.g.BlendBytes()
}

// BlendBytes bounds what a Blender of g holds, whatever the order tiles
// arrive in, before one is made (to admit an image under a memory budget):
// the W x H output, and at once the first tile's pixels wherever two tiles
// meet and the sums wherever four do. Tiles added row by row, a few at a
// time, hold about one row of tiles' overlaps instead. 0 for a grid a
// Blender cannot use.
func (g Grid) BlendBytes() int64 {
	xa, ya, err := g.axes()
	if err != nil {
		return 0
	}
	xs, _ := xa.segments(g.W, Linear)
	ys, _ := ya.segments(g.H, Linear)
	n := 4 * int64(g.W) * int64(g.H)
	for _, y := range ys {
		for _, x := range xs {
			switch len(x.owners) * len(y.owners) {
			case 2:
				n += 4 * int64(x.len()) * int64(y.len())
			case 4:
				n += 16 * int64(x.len()) * int64(y.len())
			}
		}
	}
	return n
}
