package imageio

import (
	"encoding/binary"
	"image"
	"image/color"
	"math"
)

// catmullRom is the Catmull-Rom cubic (B=0, C=0.5), support [-2, 2].
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// weights holds, for each output sample, n consecutive source taps starting
// at start[i], with weights w[i*n : (i+1)*n] summing to 1.
type weights struct {
	n     int
	start []int
	w     []float32
}

// makeWeights computes the filter taps to resample srcLen samples to dstLen.
// When shrinking the kernel is widened by the scale, so every source
// sample contributes (no aliasing).
func makeWeights(srcLen, dstLen int) weights {
	scale := float64(srcLen) / float64(dstLen)
	fscale := max(scale, 1)
	radius := 2 * fscale
	n := int(math.Ceil(2*radius)) + 1
	n = min(n, srcLen)
	ws := weights{n: n, start: make([]int, dstLen), w: make([]float32, n*dstLen)}
	tmp := make([]float64, n)
	for i := 0; i < dstLen; i++ {
		center := (float64(i) + 0.5) * scale
		lo := int(math.Floor(center - radius))
		lo = max(0, min(lo, srcLen-n))
		sum := 0.0
		for k := 0; k < n; k++ {
			v := catmullRom((float64(lo+k) + 0.5 - center) / fscale)
			tmp[k] = v
			sum += v
		}
		ws.start[i] = lo
		for k := 0; k < n; k++ {
			if sum != 0 {
				ws.w[i*n+k] = float32(tmp[k] / sum)
			}
		}
	}
	return ws
}

// Resize resamples src to w×h with a Catmull-Rom filter (widened when
// shrinking, so a big downscale is area-averaged rather than aliased).
// Colours are weighted by alpha while filtering, so transparent pixels do
// not bleed dark fringes into their neighbours. Large reductions first
// average whole blocks of pixels, which is faster and visually equivalent.
// A size equal to src's returns a copy. w or h < 1 gives an empty image.
func Resize(src *image.NRGBA, w, h int) *image.NRGBA {
	sb := src.Bounds()
	if w < 1 || h < 1 || sb.Empty() {
		return image.NewNRGBA(image.Rect(0, 0, max(w, 0), max(h, 0)))
	}
	if sb.Dx() == w && sb.Dy() == h {
		dst := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+4*w], src.Pix[src.PixOffset(sb.Min.X, sb.Min.Y+y):])
		}
		return dst
	}
	alpha := !opaque(src)
	// Pre-shrink by an integer box factor while the remaining reduction stays
	// at least 2x in both directions; the cubic then finishes the job.
	kx, ky := sb.Dx()/(2*w), sb.Dy()/(2*h)
	if k := min(kx, ky); k >= 2 {
		src = boxShrink(src, k, alpha)
		sb = src.Bounds()
	}
	return resample(src, w, h, alpha)
}

// opaque reports whether every pixel of m has alpha 255.
func opaque(m *image.NRGBA) bool {
	b := m.Bounds()
	w := b.Dx()
	a := parallelRows(b.Dy(), w, func(y0, y1 int) uint8 {
		for y := y0; y < y1; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			// Two pixels per 64-bit word: AND them and check the alpha bytes.
			acc := ^uint64(0)
			i := 0
			for ; i+8 <= len(row); i += 8 {
				acc &= binary.LittleEndian.Uint64(row[i:])
			}
			if acc&0xFF000000FF000000 != 0xFF000000FF000000 {
				return 0
			}
			for i += 3; i < len(row); i += 4 {
				if row[i] != 255 {
					return 0
				}
			}
		}
		return 255
	})
	return a == 255
}

// boxShrink averages k×k blocks (alpha-weighted when alpha is set). The
// last partial blocks are averaged over the pixels they have.
func boxShrink(src *image.NRGBA, k int, alpha bool) *image.NRGBA {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	w, h := (sw+k-1)/k, (sh+k-1)/k
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	parallelRows(h, sw, func(y0, y1 int) uint8 {
		col := make([]uint32, 4*sw) // per-column sums over the block's rows
		acc := make([]uint32, 4*w)
		for y := y0; y < y1; y++ {
			clear(col)
			rows := 0
			for sy := y * k; sy < min((y+1)*k, sh); sy++ {
				rows++
				row := src.Pix[src.PixOffset(sb.Min.X, sb.Min.Y+sy):][:4*sw]
				if alpha {
					for i := 0; i+3 < len(row) && i+3 < len(col); i += 4 {
						a := uint32(row[i+3])
						c := col[i : i+4 : i+4]
						c[0] += uint32(row[i]) * a
						c[1] += uint32(row[i+1]) * a
						c[2] += uint32(row[i+2]) * a
						c[3] += a
					}
				} else {
					col := col[:len(row)]
					for i, v := range row {
						col[i] += uint32(v)
					}
				}
			}
			for x := 0; x < w; x++ {
				blk := col[4*x*k : min(4*(x+1)*k, len(col))]
				var r, g, bl, al uint32
				for i := 0; i+3 < len(blk); i += 4 {
					r += blk[i]
					g += blk[i+1]
					bl += blk[i+2]
					al += blk[i+3]
				}
				a4 := acc[4*x : 4*x+4 : 4*x+4]
				a4[0], a4[1], a4[2], a4[3] = r, g, bl, al
			}
			d := dst.Pix[y*dst.Stride:][:4*w]
			for x := 0; x < w; x++ {
				n := uint32(rows * (min((x+1)*k, sw) - x*k))
				a4 := acc[4*x : 4*x+4 : 4*x+4]
				p := d[4*x : 4*x+4 : 4*x+4]
				if alpha {
					a := a4[3]
					if a == 0 {
						p[0], p[1], p[2], p[3] = 0, 0, 0, 0
						continue
					}
					p[0] = uint8((a4[0] + a/2) / a)
					p[1] = uint8((a4[1] + a/2) / a)
					p[2] = uint8((a4[2] + a/2) / a)
					p[3] = uint8((a + n/2) / n)
				} else {
					p[0] = uint8((a4[0] + n/2) / n)
					p[1] = uint8((a4[1] + n/2) / n)
					p[2] = uint8((a4[2] + n/2) / n)
					p[3] = 255
				}
			}
		}
		return 255
	})
	return dst
}

// resample runs the separable filter: horizontally into a float buffer,
// then vertically into the result. With alpha set, colours are weighted by
// alpha (premultiplied) while filtering.
func resample(src *image.NRGBA, w, h int, alpha bool) *image.NRGBA {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	wx, wy := makeWeights(sw, w), makeWeights(sh, h)
	tmp := make([]float32, sh*w*4)
	parallelRows(sh, sw, func(y0, y1 int) uint8 {
		for y := y0; y < y1; y++ {
			row := src.Pix[src.PixOffset(sb.Min.X, sb.Min.Y+y):][:4*sw]
			out := tmp[y*w*4 : (y+1)*w*4]
			for x := 0; x < w; x++ {
				s := wx.start[x] * 4
				ws := wx.w[x*wx.n : (x+1)*wx.n]
				var r, g, b, a float32
				if alpha {
					for k, wt := range ws {
						p := row[s+4*k : s+4*k+4]
						wa := wt * float32(p[3])
						r += wa * float32(p[0])
						g += wa * float32(p[1])
						b += wa * float32(p[2])
						a += wa
					}
				} else {
					for k, wt := range ws {
						p := row[s+4*k : s+4*k+4]
						r += wt * float32(p[0])
						g += wt * float32(p[1])
						b += wt * float32(p[2])
					}
					a = 255
				}
				o := out[4*x : 4*x+4]
				o[0], o[1], o[2], o[3] = r, g, b, a
			}
		}
		return 255
	})
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	parallelRows(h, sw, func(y0, y1 int) uint8 {
		acc := make([]float32, 4*w)
		for y := y0; y < y1; y++ {
			clear(acc)
			s := wy.start[y]
			for k, wt := range wy.w[y*wy.n : (y+1)*wy.n] {
				row := tmp[(s+k)*w*4 : (s+k+1)*w*4]
				for i, v := range row {
					acc[i] += wt * v
				}
			}
			d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			for i := 0; i < len(d); i += 4 {
				r, g, b, a := acc[i], acc[i+1], acc[i+2], acc[i+3]
				if alpha {
					if a <= 0.5 {
						d[i], d[i+1], d[i+2], d[i+3] = 0, 0, 0, 0
						continue
					}
					inv := 1 / a
					r, g, b = r*inv, g*inv, b*inv
				}
				d[i], d[i+1], d[i+2], d[i+3] = f2u8(r), f2u8(g), f2u8(b), f2u8(a)
			}
		}
		return 255
	})
	return dst
}

func f2u8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// Flatten composites img over an opaque background colour (its alpha is
// ignored) and returns a new, fully opaque image. Feed this to a model that
// expects RGB; use ApplyAlpha afterwards to restore transparency.
func Flatten(img *image.NRGBA, bg color.NRGBA) *image.NRGBA {
	b := img.Bounds()
	w := b.Dx()
	dst := image.NewNRGBA(image.Rect(0, 0, w, b.Dy()))
	br, bgc, bb := uint32(bg.R), uint32(bg.G), uint32(bg.B)
	parallelRows(b.Dy(), w, func(y0, y1 int) uint8 {
		for y := y0; y < y1; y++ {
			s := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			d := dst.Pix[y*dst.Stride:][:4*w]
			for i := 0; i < len(s); i += 4 {
				a := uint32(s[i+3])
				ia := 255 - a
				d[i] = uint8((uint32(s[i])*a + br*ia + 127) / 255)
				d[i+1] = uint8((uint32(s[i+1])*a + bgc*ia + 127) / 255)
				d[i+2] = uint8((uint32(s[i+2])*a + bb*ia + 127) / 255)
				d[i+3] = 255
			}
		}
		return 255
	})
	return dst
}

// ApplyAlpha gives rgb the alpha channel of alphaSrc, resized (same filter
// as Resize) to rgb's size when the sizes differ. rgb's colour channels are
// kept; it is modified in place and returned. Typical use: decode (HasAlpha),
// Flatten, run the model, then ApplyAlpha(output, decoded.Pixels).
func ApplyAlpha(rgb *image.NRGBA, alphaSrc *image.NRGBA) *image.NRGBA {
	rb, ab := rgb.Bounds(), alphaSrc.Bounds()
	w, h := rb.Dx(), rb.Dy()
	a := alphaSrc
	if ab.Dx() != w || ab.Dy() != h {
		a = resizeAlpha(alphaSrc, w, h)
	}
	abn := a.Bounds()
	for y := 0; y < h; y++ {
		d := rgb.Pix[rgb.PixOffset(rb.Min.X, rb.Min.Y+y):][:4*w]
		s := a.Pix[a.PixOffset(abn.Min.X, abn.Min.Y+y):][:4*w]
		for i := 3; i < len(d); i += 4 {
			d[i] = s[i]
		}
	}
	return rgb
}

// resizeAlpha resizes only the alpha channel (colours of the result are
// meaningless). Treating the image as opaque-colour avoids alpha weighting.
func resizeAlpha(src *image.NRGBA, w, h int) *image.NRGBA {
	sb := src.Bounds()
	// Move alpha into the red channel of an opaque copy, resize, move back.
	tmp := image.NewNRGBA(image.Rect(0, 0, sb.Dx(), sb.Dy()))
	for y := 0; y < sb.Dy(); y++ {
		s := src.Pix[src.PixOffset(sb.Min.X, sb.Min.Y+y):][:4*sb.Dx()]
		d := tmp.Pix[y*tmp.Stride:][:4*sb.Dx()]
		for i := 0; i < len(s); i += 4 {
			d[i], d[i+3] = s[i+3], 255
		}
	}
	r := Resize(tmp, w, h)
	for i := 0; i < len(r.Pix); i += 4 {
		r.Pix[i+3] = r.Pix[i]
	}
	return r
}
