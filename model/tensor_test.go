package model

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestPackUnpackRoundTrip(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for y := range 3 {
		for x := range 5 {
			img.SetNRGBA(x, y, color.NRGBA{uint8(50 * x), uint8(80 * y), uint8(x + y), 255})
		}
	}
	for _, layout := range []Layout{NCHW, NHWC} {
		for _, r := range []Range{RangeSigned, RangeUnit} {
			buf := make([]float32, 3*5*3)
			pack(buf, img, layout, r)
			shape := []int64{1, 3, 3, 5}
			if layout == NHWC {
				shape = []int64{1, 3, 5, 3}
			}
			out, err := unpack(buf, shape, layout, r)
			if err != nil {
				t.Fatal(err)
			}
			for i := range img.Pix {
				if img.Pix[i] != out.Pix[i] {
					t.Fatalf("%s %s: byte %d: %d became %d", layout, r, i, img.Pix[i], out.Pix[i])
				}
			}
		}
	}
}

func TestUnpackClips(t *testing.T) {
	nan := float32(math.NaN())
	out, err := unpack([]float32{-3, 0, 5, nan, 1, -1}, []int64{1, 1, 2, 3}, NHWC, RangeSigned)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{0, 128, 255, 255, 0, 255, 0, 255}
	for i, w := range want {
		if out.Pix[i] != w {
			t.Fatalf("byte %d: %d, want %d (all %v)", i, out.Pix[i], w, out.Pix[:8])
		}
	}
	if _, err := unpack(make([]float32, 5), []int64{1, 1, 2, 3}, NHWC, RangeSigned); err == nil {
		t.Fatal("a shape that does not match the data must fail")
	}
	if _, err := unpack(make([]float32, 4), []int64{1, 1, 2, 2}, NHWC, RangeSigned); err == nil {
		t.Fatal("2 channels must fail")
	}
}
