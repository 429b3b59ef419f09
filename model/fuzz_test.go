package model

import (
	"encoding/binary"
	"image"
	"math"
	"testing"
)

// FuzzPackUnpack: packing any image and unpacking the tensor gives the
// same RGB back in both layouts and ranges; unpacking arbitrary floats
// (NaN, ±Inf, overshoot) under an arbitrary shape never panics, and either
// fails with a reason or yields an opaque image of the shape's size.
func FuzzPackUnpack(f *testing.F) {
	f.Add(uint8(5), uint8(3), []byte{1, 2, 3, 255, 200, 100, 50, 255}, false, false, int64(3), int64(5), []byte{0, 0, 0xc0, 0x7f})
	f.Add(uint8(1), uint8(1), []byte{255, 255, 255, 0}, true, true, int64(1), int64(1), []byte{0, 0, 0x80, 0x7f, 0, 0, 0x80, 0xff})
	f.Add(uint8(64), uint8(1), []byte{0}, true, false, int64(0), int64(-1), []byte{})
	f.Add(uint8(0), uint8(9), []byte{9, 9}, false, true, int64(2), int64(2), []byte{0, 0, 0x20, 0x41})
	f.Fuzz(func(t *testing.T, w8, h8 uint8, pix []byte, nchw, unit bool, sh, sw int64, raw []byte) {
		layout, r := NHWC, RangeSigned
		if nchw {
			layout = NCHW
		}
		if unit {
			r = RangeUnit
		}
		w, h := int(w8%65), int(h8%65)
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			if len(pix) > 0 {
				img.Pix[i] = pix[i%len(pix)]
			}
		}
		buf := make([]float32, 3*w*h)
		pack(buf, img, layout, r)
		if w > 0 && h > 0 {
			shape := []int64{1, 3, int64(h), int64(w)}
			if layout == NHWC {
				shape = []int64{1, int64(h), int64(w), 3}
			}
			out, err := unpack(buf, shape, layout, r)
			if err != nil {
				t.Fatalf("%dx%d %v %v: %v", w, h, layout, r, err)
			}
			for i := range img.Pix {
				want := img.Pix[i]
				if i%4 == 3 {
					want = 255
				}
				if out.Pix[i] != want {
					t.Fatalf("%dx%d %v %v: byte %d came back %d, want %d", w, h, layout, r, i, out.Pix[i], want)
				}
			}
		}

		// Arbitrary output values under an arbitrary shape.
		vals := make([]float32, len(raw)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		shape := []int64{1, sh, sw, 3}
		if layout == NCHW {
			shape = []int64{1, 3, sh, sw}
		}
		out, err := unpack(vals, shape, layout, r)
		if err != nil {
			return
		}
		if int64(out.Rect.Dx()) != sw || int64(out.Rect.Dy()) != sh {
			t.Fatalf("shape %v gave %v", shape, out.Rect)
		}
		for i := 3; i < len(out.Pix); i += 4 {
			if out.Pix[i] != 255 {
				t.Fatal("unpack gave a translucent pixel")
			}
		}
	})
}
