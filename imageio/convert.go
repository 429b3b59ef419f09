package imageio

import (
	"image"
	"image/color"
	"runtime"
	"sync"
)

// placement maps a source pixel (x, y), relative to the source bounds'
// minimum, to the byte offset origin + x*dx + y*dy of the destination NRGBA.
// It encodes one of the 8 EXIF orientations.
type placement struct {
	origin, dx, dy int
}

func (p placement) at(x, y int) int { return p.origin + x*p.dx + y*p.dy }

// newOriented allocates the upright destination for a stored w×h image with
// the given EXIF orientation, and the placement that writes into it.
func newOriented(w, h, orientation int) (*image.NRGBA, placement) {
	dw, dh := w, h
	if orientation >= 5 && orientation <= 8 {
		dw, dh = h, w
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	s := dst.Stride
	var p placement
	switch orientation {
	case 2: // mirrored horizontally
		p = placement{(w - 1) * 4, -4, s}
	case 3: // rotated 180°
		p = placement{(w-1)*4 + (h-1)*s, -4, -s}
	case 4: // mirrored vertically
		p = placement{(h - 1) * s, 4, -s}
	case 5: // transposed: stored row 0 is the left column
		p = placement{0, s, 4}
	case 6: // display = stored rotated 90° clockwise
		p = placement{(h - 1) * 4, s, -4}
	case 7: // transverse
		p = placement{(h-1)*4 + (w-1)*s, -s, -4}
	case 8: // display = stored rotated 90° counter-clockwise
		p = placement{(w - 1) * s, -s, 4}
	default:
		p = placement{0, 4, s}
	}
	return dst, p
}

// parallelRows runs fn over [0, h) split into bands, in parallel when the
// image is big enough for it to pay off. It returns the AND of the alpha
// values fn reports per band (255 when every band is opaque).
func parallelRows(h, w int, fn func(y0, y1 int) uint8) uint8 {
	n := runtime.GOMAXPROCS(0)
	if int64(w)*int64(h) < 1<<18 || n == 1 {
		return fn(0, h)
	}
	n = min(n, h, 16)
	var wg sync.WaitGroup
	res := make([]uint8, n)
	for i := 0; i < n; i++ {
		y0, y1 := h*i/n, h*(i+1)/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = fn(y0, y1)
		}()
	}
	wg.Wait()
	a := uint8(255)
	for _, v := range res {
		a &= v
	}
	return a
}

// Fixed-point (16.16) JFIF YCbCr→RGB tables, indexed by the chroma byte.
var crR, cbG, crG, cbB [256]int32

func init() {
	for i := 0; i < 256; i++ {
		c := int32(i - 128)
		crR[i] = 91881 * c  // 1.402
		cbG[i] = -22554 * c // -0.344136
		crG[i] = -46802 * c // -0.714136
		cbB[i] = 116130 * c // 1.772
	}
}

func clamp8(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// toNRGBA converts any decoded image to an upright NRGBA with the EXIF
// orientation applied, and reports whether any pixel is not fully opaque.
func toNRGBA(src image.Image, orientation int) (*image.NRGBA, bool) {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if m, ok := src.(*image.NRGBA); ok && (orientation <= 1 || orientation > 8) && b.Min == (image.Point{}) {
		// Already what we want: no copy.
		a := parallelRows(h, w, func(y0, y1 int) uint8 {
			am := uint8(255)
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+4*w]
				for i := 3; i < len(row); i += 4 {
					am &= row[i]
				}
			}
			return am
		})
		return m, a != 255
	}
	dst, pl := newOriented(w, h, orientation)
	d := dst.Pix
	var amin uint8
	switch m := src.(type) {
	case *image.YCbCr:
		amin = convertYCbCr(m, nil, 0, d, pl)
	case *image.NYCbCrA:
		amin = convertYCbCr(&m.YCbCr, m.A, m.AStride, d, pl)
	case *image.Gray:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+w]
				o := pl.at(0, y)
				for _, v := range row {
					d[o], d[o+1], d[o+2], d[o+3] = v, v, v, 255
					o += pl.dx
				}
			}
			return 255
		})
	case *image.Gray16:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+2*w]
				o := pl.at(0, y)
				for i := 0; i < len(row); i += 2 {
					v := row[i] // high byte of big-endian sample
					d[o], d[o+1], d[o+2], d[o+3] = v, v, v, 255
					o += pl.dx
				}
			}
			return 255
		})
	case *image.NRGBA:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			am := uint8(255)
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+4*w]
				o := pl.at(0, y)
				for i := 0; i < len(row); i += 4 {
					copy(d[o:o+4], row[i:i+4])
					am &= row[i+3]
					o += pl.dx
				}
			}
			return am
		})
	case *image.RGBA:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			am := uint8(255)
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+4*w]
				o := pl.at(0, y)
				for i := 0; i < len(row); i += 4 {
					a := row[i+3]
					switch a {
					case 255:
						copy(d[o:o+4], row[i:i+4])
					case 0:
						d[o], d[o+1], d[o+2], d[o+3] = 0, 0, 0, 0
					default:
						a32 := uint32(a)
						d[o] = uint8(min(255, (uint32(row[i])*255+a32/2)/a32))
						d[o+1] = uint8(min(255, (uint32(row[i+1])*255+a32/2)/a32))
						d[o+2] = uint8(min(255, (uint32(row[i+2])*255+a32/2)/a32))
						d[o+3] = a
					}
					am &= a
					o += pl.dx
				}
			}
			return am
		})
	case *image.NRGBA64:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			am := uint8(255)
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+8*w]
				o := pl.at(0, y)
				for i := 0; i < len(row); i += 8 {
					d[o], d[o+1], d[o+2], d[o+3] = row[i], row[i+2], row[i+4], row[i+6]
					am &= row[i+6]
					o += pl.dx
				}
			}
			return am
		})
	case *image.RGBA64:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			am := uint8(255)
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+8*w]
				o := pl.at(0, y)
				for i := 0; i < len(row); i += 8 {
					a := uint32(row[i+6])<<8 | uint32(row[i+7])
					a8 := uint8(a >> 8)
					switch a {
					case 0xffff:
						d[o], d[o+1], d[o+2] = row[i], row[i+2], row[i+4]
					case 0:
						d[o], d[o+1], d[o+2] = 0, 0, 0
					default:
						for c := 0; c < 3; c++ {
							v := uint32(row[i+2*c])<<8 | uint32(row[i+2*c+1])
							d[o+c] = uint8(min(0xffff, (v*0xffff+a/2)/a) >> 8)
						}
					}
					d[o+3] = a8
					am &= a8
					o += pl.dx
				}
			}
			return am
		})
	case *image.Paletted:
		var pal [256][4]uint8 // indices past the palette stay transparent black
		palA := uint8(255)
		for i, c := range m.Palette {
			if i >= 256 {
				break
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [4]uint8{n.R, n.G, n.B, n.A}
		}
		if len(m.Palette) < 256 {
			palA = 0 // an out-of-range index may occur; scan to be exact
		} else {
			for _, p := range pal {
				palA &= p[3]
			}
		}
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			am := uint8(255)
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+w]
				o := pl.at(0, y)
				for _, idx := range row {
					p := &pal[idx]
					d[o], d[o+1], d[o+2], d[o+3] = p[0], p[1], p[2], p[3]
					if palA != 255 {
						am &= p[3]
					}
					o += pl.dx
				}
			}
			return am
		})
	case *image.CMYK:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			for y := y0; y < y1; y++ {
				row := m.Pix[y*m.Stride : y*m.Stride+4*w]
				o := pl.at(0, y)
				for i := 0; i < len(row); i += 4 {
					k := 255 - uint32(row[i+3])
					d[o] = uint8(((255-uint32(row[i]))*k + 127) / 255)
					d[o+1] = uint8(((255-uint32(row[i+1]))*k + 127) / 255)
					d[o+2] = uint8(((255-uint32(row[i+2]))*k + 127) / 255)
					d[o+3] = 255
					o += pl.dx
				}
			}
			return 255
		})
	default:
		amin = parallelRows(h, w, func(y0, y1 int) uint8 {
			am := uint8(255)
			for y := y0; y < y1; y++ {
				o := pl.at(0, y)
				for x := 0; x < w; x++ {
					c := color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
					d[o], d[o+1], d[o+2], d[o+3] = c.R, c.G, c.B, c.A
					am &= c.A
					o += pl.dx
				}
			}
			return am
		})
	}
	return dst, amin != 255
}

// convertYCbCr converts a YCbCr image (optionally with a separate
// non-premultiplied alpha plane) for every chroma subsampling ratio.
func convertYCbCr(m *image.YCbCr, alpha []uint8, aStride int, d []uint8, pl placement) uint8 {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	var hs, vs int // chroma shift: x>>hs, y>>vs
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	}
	// Chroma sample for absolute x is (x>>hs) - (Min.X>>hs), as in image.YCbCr.COffset.
	cx0, cy0 := b.Min.X>>hs, b.Min.Y>>vs
	return parallelRows(h, w, func(y0, y1 int) uint8 {
		am := uint8(255)
		for y := y0; y < y1; y++ {
			ay := b.Min.Y + y
			yrow := m.Y[y*m.YStride : y*m.YStride+w]
			cBase := ((ay >> vs) - cy0) * m.CStride
			o := pl.at(0, y)
			var arow []uint8
			if alpha != nil {
				arow = alpha[y*aStride : y*aStride+w]
			}
			cb := m.Cb[cBase:]
			cr := m.Cr[cBase:]
			xs := b.Min.X
			for x, yy := range yrow {
				ci := ((xs + x) >> hs) - cx0
				cbv, crv := cb[ci], cr[ci]
				y1 := int32(yy)<<16 + 1<<15
				p := d[o : o+4 : o+4]
				p[0] = clamp8((y1 + crR[crv]) >> 16)
				p[1] = clamp8((y1 + cbG[cbv] + crG[crv]) >> 16)
				p[2] = clamp8((y1 + cbB[cbv]) >> 16)
				if arow != nil {
					p[3] = arow[x]
					am &= arow[x]
				} else {
					p[3] = 255
				}
				o += pl.dx
			}
		}
		return am
	})
}

// Orient returns img with the EXIF orientation (1..8) applied, as a new
// image; for orientation 1 (or an invalid value) it returns a copy.
func Orient(img *image.NRGBA, orientation int) *image.NRGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst, pl := newOriented(w, h, orientation)
	d := dst.Pix
	parallelRows(h, w, func(y0, y1 int) uint8 {
		for y := y0; y < y1; y++ {
			row := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			o := pl.at(0, y)
			for i := 0; i < len(row); i += 4 {
				copy(d[o:o+4], row[i:i+4])
				o += pl.dx
			}
		}
		return 255
	})
	return dst
}
