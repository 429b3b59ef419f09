package tiling

import (
	"image"
	"math"
)

// SeamScore measures how much the tile borders show in img, an image the
// size of g (its origin does not matter): the mean absolute difference
// between neighbouring pixels across the lines where one tile hands over
// to the next, over the mean absolute difference between all other
// neighbouring pixels.
//
// Exactly: a difference is |ΔR| + |ΔG| + |ΔB| (alpha ignored) between two
// pixels side by side or one above the other. Between two columns of
// tiles, the seam is the middle of their blending ramp, where the weight
// passes one half (and where tiles stitched without blending would meet):
// for a ramp over columns lo..lo+w-1, the horizontal pairs (c-1, c) with
// c = lo + w/2, on every row (for a ramp of no width, the pair across the
// cut). Likewise the vertical pairs (r-1, r) at the middle of each ramp
// between rows, on every column. Every other pair, horizontal or vertical,
// is "elsewhere" (so vertical pairs along a column seam are elsewhere).
//
// An image with no tile structure scores about 1 on any grid (its
// content alone decides how far from 1: compare with the untiled image's
// score on the same grid); a step in brightness where tiles meet raises
// it, by less the wider the ramp spreads the step. NaN when the grid has
// one tile, the image is not the grid's size, or nothing varies elsewhere.
func SeamScore(img *image.NRGBA, g Grid) float64 {
	if img == nil || img.Rect.Dx() != g.W || img.Rect.Dy() != g.H {
		return math.NaN()
	}
	xa, ya, err := g.axes()
	if err != nil || (len(xa.ramps) == 0 && len(ya.ramps) == 0) {
		return math.NaN()
	}
	// seamX[x]: the pair (x-1, x) crosses a column seam; seamY likewise.
	seamX := seamPairs(xa.ramps, g.W)
	seamY := seamPairs(ya.ramps, g.H)

	var seam, other float64
	var nSeam, nOther int64
	for y := range g.H {
		row := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):][:4*g.W]
		var up []uint8
		if y > 0 {
			up = img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y-1):][:4*g.W]
		}
		// Sum the row's differences in integers, then add once.
		var hs, ho, vs, vo int64
		var nhs, nho int64
		for x := range g.W {
			p := row[4*x : 4*x+3]
			if x > 0 {
				d := diff(row[4*x-4:4*x-1], p)
				if seamX[x] {
					hs += d
					nhs++
				} else {
					ho += d
					nho++
				}
			}
			if up != nil {
				d := diff(up[4*x:4*x+3], p)
				if seamY[y] {
					vs += d
				} else {
					vo += d
				}
			}
		}
		seam += float64(hs + vs)
		other += float64(ho + vo)
		nSeam += nhs
		nOther += nho
		if up != nil {
			if seamY[y] {
				nSeam += int64(g.W)
			} else {
				nOther += int64(g.W)
			}
		}
	}
	if nSeam == 0 || nOther == 0 || other == 0 {
		return math.NaN()
	}
	return (seam / float64(nSeam)) / (other / float64(nOther))
}

// seamPairs marks, for an axis of n pixels, the pairs (i-1, i) across the
// middle of a ramp.
func seamPairs(ramps []span, n int) []bool {
	out := make([]bool, n)
	for _, r := range ramps {
		if i := r.lo + r.len()/2; i >= 1 && i < n {
			out[i] = true
		}
	}
	return out
}

func diff(a, b []uint8) int64 {
	var d int64
	for c := range 3 {
		d += int64(absDiff(a[c], b[c]))
	}
	return d
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}
