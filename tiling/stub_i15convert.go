// Package tiling: a PRIVATE STAND-IN for i15-tiles' package, with its
// contract's API, so that convert's engine can be written and tested
// before that branch lands. Removed when it is merged.
package tiling

import (
	"fmt"
	"image"
	"sync"
)

type Grid struct {
	W, H, Tile, Overlap int
	Tiles               []image.Rectangle
}

func spans(n, tile, overlap int) []int {
	if tile >= n {
		return []int{0}
	}
	step := tile - overlap
	var s []int
	for x := 0; ; x += step {
		if x+tile >= n {
			s = append(s, n-tile)
			return s
		}
		s = append(s, x)
	}
}

func NewGrid(w, h, tile, overlap, multiple int) (Grid, error) {
	if tile <= 0 || overlap < 0 || 2*overlap >= tile {
		return Grid{}, fmt.Errorf("tile %d, overlap %d", tile, overlap)
	}
	g := Grid{W: w, H: h, Tile: tile, Overlap: overlap}
	for _, y := range spans(h, tile, overlap) {
		for _, x := range spans(w, tile, overlap) {
			g.Tiles = append(g.Tiles, image.Rect(x, y, min(w, x+tile), min(h, y+tile)))
		}
	}
	return g, nil
}

type Blender struct {
	g   Grid
	mu  sync.Mutex
	acc []float32
	wt  []float32
	n   int
}

func NewBlender(g Grid) *Blender {
	return &Blender{g: g, acc: make([]float32, g.W*g.H*3), wt: make([]float32, g.W*g.H)}
}

func ramp(i, lo, hi, n, ov int) float32 {
	w := float32(1)
	if lo > 0 && ov > 0 && i-lo < ov {
		w = min(w, float32(i-lo+1)/float32(ov+1))
	}
	if hi < n && ov > 0 && hi-1-i < ov {
		w = min(w, float32(hi-i)/float32(ov+1))
	}
	return w
}

func (b *Blender) Add(i int, tile *image.NRGBA) error {
	r := b.g.Tiles[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		wy := ramp(y, r.Min.Y, r.Max.Y, b.g.H, b.g.Overlap)
		for x := r.Min.X; x < r.Max.X; x++ {
			w := wy * ramp(x, r.Min.X, r.Max.X, b.g.W, b.g.Overlap)
			o := tile.PixOffset(x-r.Min.X, y-r.Min.Y)
			p := y*b.g.W + x
			for c := 0; c < 3; c++ {
				b.acc[p*3+c] += w * float32(tile.Pix[o+c])
			}
			b.wt[p] += w
		}
	}
	b.n++
	return nil
}

func (b *Blender) Image() (*image.NRGBA, error) {
	out := image.NewNRGBA(image.Rect(0, 0, b.g.W, b.g.H))
	for p := range b.wt {
		for c := 0; c < 3; c++ {
			out.Pix[p*4+c] = uint8(min(255, b.acc[p*3+c]/b.wt[p]+0.5))
		}
		out.Pix[p*4+3] = 255
	}
	return out, nil
}

func (b *Blender) Bytes() int64 { return int64(b.g.W) * int64(b.g.H) * 20 }

func SeamScore(img *image.NRGBA, g Grid) float64 { return 0 }
