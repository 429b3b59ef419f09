package tiling

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// picture fills a w x h opaque image with f(x, y), clamped.
func picture(w, h int, f func(x, y int) float64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(max(0, min(255, math.Round(f(x, y)))))
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = v, v/2+60, 255-v, 255
		}
	}
	return img
}

// waves: smooth, with about the same gradient everywhere on average
// along any line (diagonal waves).
func waves(x, y int) float64 {
	return 128 + 50*math.Sin(float64(x+y)/20) + 30*math.Sin(float64(x-2*y)/31)
}

// TestSeamScore: an image with no tile structure scores about 1; a step
// where tiles meet scores clearly more, less when blended; a step
// elsewhere does not count.
func TestSeamScore(t *testing.T) {
	g := mustGrid(t, 1100, 900, 256, 32, 8)
	xa, ya, _ := g.axes()
	// cell(x, y): which tiles are in charge where tiles stitched without
	// blending meet at the seams.
	seamIndex := func(rs []span, v int) int {
		k := 0
		for _, r := range rs {
			if v >= r.lo+r.len()/2 {
				k++
			}
		}
		return k
	}
	offset := make([]float64, len(g.Tiles))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range offset {
		offset[i] = 20 + 20*rng.Float64()
		if i%2 == 1 {
			offset[i] = -offset[i]
		}
	}
	noise := rand.New(rand.NewPCG(5, 6))
	noiseImg := picture(g.W, g.H, func(int, int) float64 { return 40 + 170*noise.Float64() })

	// Naive tiles: each tile the waves plus its own offset, blended.
	b := NewBlender(g)
	for i, r := range g.Tiles {
		tile := picture(r.Dx(), r.Dy(), func(x, y int) float64 { return waves(x+r.Min.X, y+r.Min.Y) + offset[i] })
		if err := b.Add(i, tile); err != nil {
			t.Fatal(err)
		}
	}
	blended, err := b.Image()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		img      *image.NRGBA
		min, max float64
	}{
		{"noise", noiseImg, 0.97, 1.03},
		{"smooth waves", picture(g.W, g.H, waves), 0.95, 1.05},
		{"waves, steps where tiles meet", picture(g.W, g.H, func(x, y int) float64 {
			return waves(x, y) + offset[seamIndex(ya.ramps, y)*g.Cols+seamIndex(xa.ramps, x)]
		}), 3, math.Inf(1)},
		{"waves, tiles with their own offsets blended", blended, 1.3, 3},
		{"waves, steps between the seams", picture(g.W, g.H, func(x, y int) float64 {
			// Steps 60 px after each seam, outside any ramp.
			return waves(x, y) + offset[seamIndex(ya.ramps, y-60)*g.Cols+seamIndex(xa.ramps, x-60)]
		}), 0.5, 1.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SeamScore(tt.img, g)
			if !(s >= tt.min && s <= tt.max) {
				t.Errorf("score %.3f, want %.2f..%.2f", s, tt.min, tt.max)
			}
			t.Logf("score %.3f", s)
		})
	}
	for name, s := range map[string]float64{
		"one tile":   SeamScore(noiseImg, mustGrid(t, 1100, 900, 2048, 32, 8)),
		"wrong size": SeamScore(noiseImg, mustGrid(t, 1000, 900, 256, 32, 8)),
		"flat":       SeamScore(picture(g.W, g.H, func(int, int) float64 { return 9 }), g),
	} {
		if !math.IsNaN(s) {
			t.Errorf("%s: score %v, want NaN", name, s)
		}
	}
}
