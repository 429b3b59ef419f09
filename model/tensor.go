package model

import (
	"fmt"
	"image"
)

// pack writes img's RGB into dst in the model's layout and range. Alpha is
// ignored here; the caller re-applies it after inference.
func pack(dst []float32, img *image.NRGBA, layout Layout, r Range) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	scale, offset := float32(1.0/127.5), float32(-1)
	if r == RangeUnit {
		scale, offset = 1.0/255, 0
	}
	plane := w * h
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			p := row[4*x : 4*x+3 : 4*x+3]
			rv := float32(p[0])*scale + offset
			gv := float32(p[1])*scale + offset
			bv := float32(p[2])*scale + offset
			if layout == NCHW {
				i := y*w + x
				dst[i], dst[plane+i], dst[2*plane+i] = rv, gv, bv
			} else {
				i := 3 * (y*w + x)
				dst[i], dst[i+1], dst[i+2] = rv, gv, bv
			}
		}
	}
}

// unpack turns a model's output tensor back into an opaque image, clipping
// to the range: generators overshoot, and NaN must not wrap to odd colours.
func unpack(src []float32, shape []int64, layout Layout, r Range) (*image.NRGBA, error) {
	if len(shape) != 4 || shape[0] != 1 {
		return nil, fmt.Errorf("output shape %s: want one image", shapeString(shape))
	}
	c, h, w := shape[1], shape[2], shape[3]
	if layout == NHWC {
		h, w, c = shape[1], shape[2], shape[3]
	}
	if c != 3 {
		return nil, fmt.Errorf("output shape %s: %d channels, want 3", shapeString(shape), c)
	}
	if h < 1 || w < 1 || h > 1<<20 || w > 1<<20 || int64(len(src)) != 3*h*w {
		return nil, fmt.Errorf("output shape %s does not match its %d values", shapeString(shape), len(src))
	}
	scale, offset := float32(127.5), float32(1)
	if r == RangeUnit {
		scale, offset = 255, 0
	}
	img := image.NewNRGBA(image.Rect(0, 0, int(w), int(h)))
	plane := int(w * h)
	for y := 0; y < int(h); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*int(w)]
		for x := 0; x < int(w); x++ {
			var rv, gv, bv float32
			if layout == NCHW {
				i := y*int(w) + x
				rv, gv, bv = src[i], src[plane+i], src[2*plane+i]
			} else {
				i := 3 * (y*int(w) + x)
				rv, gv, bv = src[i], src[i+1], src[i+2]
			}
			p := row[4*x : 4*x+4 : 4*x+4]
			p[0] = toByte((rv + offset) * scale)
			p[1] = toByte((gv + offset) * scale)
			p[2] = toByte((bv + offset) * scale)
			p[3] = 255
		}
	}
	return img, nil
}

func toByte(v float32) uint8 {
	switch {
	case v >= 255:
		return 255
	case v > 0:
		return uint8(v + 0.5)
	default: // below zero, and NaN, which fails every comparison
		return 0
	}
}
