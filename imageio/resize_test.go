package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

func uniform(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestResizeSizesAndFlatColour(t *testing.T) {
	c := color.NRGBA{200, 100, 50, 255}
	for _, tc := range []struct{ sw, sh, w, h int }{
		{4000, 3000, 512, 384}, {640, 480, 512, 384}, {100, 60, 512, 300},
		{37, 23, 7, 5}, {1, 1, 3, 3}, {10, 10, 10, 10}, {300, 10, 30, 1},
	} {
		out := Resize(uniform(tc.sw, tc.sh, c), tc.w, tc.h)
		if out.Bounds() != image.Rect(0, 0, tc.w, tc.h) {
			t.Fatalf("%v: bounds %v", tc, out.Bounds())
		}
		for i := 0; i < len(out.Pix); i += 4 {
			if got := (color.NRGBA{out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3]}); !close(got, c, 1) {
				t.Fatalf("%v: pixel %d = %v, want %v (ringing on a flat image)", tc, i/4, got, c)
			}
		}
	}
	if out := Resize(uniform(4, 4, c), 0, 5); !out.Bounds().Empty() {
		t.Errorf("zero width: %v", out.Bounds())
	}
}

func TestResizeKeepsStructure(t *testing.T) {
	// Left half black, right half white: after a 4x downscale the left side
	// stays dark, the right bright, and the middle is in between.
	src := image.NewNRGBA(image.Rect(0, 0, 400, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 400; x++ {
			v := uint8(0)
			if x >= 200 {
				v = 255
			}
			src.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	out := Resize(src, 100, 25)
	if l, r := out.NRGBAAt(10, 10).R, out.NRGBAAt(90, 10).R; l > 2 || r < 253 {
		t.Errorf("left %d right %d", l, r)
	}
	if m := out.NRGBAAt(50, 10).R; m < 100 || m > 255 {
		t.Errorf("edge pixel %d", m)
	}
	// Gradients resize to nearly the same gradients.
	g := gradient(800, 600)
	small := Resize(g, 200, 150)
	want := gradient(200, 150)
	if d := maxDiff(small, want); d > 6 {
		t.Errorf("gradient downscale differs by %d", d)
	}
}

func TestResizeAlphaNoDarkFringe(t *testing.T) {
	// Opaque red on the right, fully transparent *black* on the left: the
	// resized colour must stay red wherever any alpha survives.
	for _, size := range [][4]int{{400, 400, 100, 100}, {40, 40, 100, 100}, {4000, 300, 512, 38}} {
		src := image.NewNRGBA(image.Rect(0, 0, size[0], size[1]))
		for y := 0; y < size[1]; y++ {
			for x := size[0] / 2; x < size[0]; x++ {
				src.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
			}
		}
		out := Resize(src, size[2], size[3])
		sawPartial := false
		for i := 0; i < len(out.Pix); i += 4 {
			a := out.Pix[i+3]
			if a > 8 && out.Pix[i] < 250 {
				t.Fatalf("%v: dark fringe: pixel %v", size, out.Pix[i:i+4])
			}
			if a > 0 && a < 255 {
				sawPartial = true
			}
		}
		if !sawPartial {
			t.Errorf("%v: no soft edge in alpha", size)
		}
	}
}

func TestFlattenAndApplyAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			a := uint8(0)
			if x >= 32 {
				a = 255
			} else if x >= 16 {
				a = 128
			}
			src.SetNRGBA(x, y, color.NRGBA{0, 0, 200, a})
		}
	}
	flat := Flatten(src, color.NRGBA{255, 255, 255, 255})
	if c := flat.NRGBAAt(0, 0); c != (color.NRGBA{255, 255, 255, 255}) {
		t.Errorf("transparent over white = %v", c)
	}
	if c := flat.NRGBAAt(20, 0); !close(c, color.NRGBA{127, 127, 227, 255}, 1) {
		t.Errorf("half over white = %v", c)
	}
	if c := flat.NRGBAAt(40, 0); c != (color.NRGBA{0, 0, 200, 255}) {
		t.Errorf("opaque = %v", c)
	}
	// Same size: alpha copied exactly.
	out := ApplyAlpha(uniform(64, 64, color.NRGBA{1, 2, 3, 255}), src)
	for x := 0; x < 64; x++ {
		if out.NRGBAAt(x, 5).A != src.NRGBAAt(x, 5).A || out.NRGBAAt(x, 5).R != 1 {
			t.Fatalf("x=%d: %v", x, out.NRGBAAt(x, 5))
		}
	}
	// Different size: alpha resized.
	small := ApplyAlpha(uniform(16, 16, color.NRGBA{9, 9, 9, 255}), src)
	if a := small.NRGBAAt(1, 3).A; a > 2 {
		t.Errorf("left alpha %d", a)
	}
	if a := small.NRGBAAt(6, 3).A; a < 120 || a > 136 {
		t.Errorf("middle alpha %d", a)
	}
	if a := small.NRGBAAt(14, 3).A; a != 255 {
		t.Errorf("right alpha %d", a)
	}
	if c := small.NRGBAAt(14, 3); c.R != 9 {
		t.Errorf("colour changed: %v", c)
	}
}

func TestEncode(t *testing.T) {
	img := gradient(64, 48)
	img.Pix[3] = 0 // one transparent pixel at (0,0), red channel 0
	var buf bytes.Buffer
	if err := Encode(&buf, img, PNG, 0); err != nil {
		t.Fatal(err)
	}
	back, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if c := color.NRGBAModel.Convert(back.At(0, 0)).(color.NRGBA); c.A != 0 {
		t.Errorf("PNG lost alpha: %v", c)
	}
	for _, q := range []int{0, 1, 50, 100, 250, -3} {
		buf.Reset()
		if err := Encode(&buf, img, JPEG, q); err != nil {
			t.Fatalf("quality %d: %v", q, err)
		}
		m, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if q >= 50 || q == 0 {
			// The transparent corner is composited onto white.
			r, g, b, _ := m.At(0, 0).RGBA()
			if r>>8 < 200 || g>>8 < 200 || b>>8 < 200 {
				t.Errorf("quality %d: transparent pixel not white: %d %d %d", q, r>>8, g>>8, b>>8)
			}
		}
	}
	// The caller's image is not modified by flattening.
	if img.Pix[3] != 0 {
		t.Error("Encode modified its input")
	}
	small, big := new(bytes.Buffer), new(bytes.Buffer)
	Encode(small, gradient(64, 48), JPEG, 10)
	Encode(big, gradient(64, 48), JPEG, 95)
	if small.Len() >= big.Len() {
		t.Errorf("quality has no effect: %d vs %d bytes", small.Len(), big.Len())
	}
	if err := Encode(&buf, img, GIF, 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("GIF output: %v", err)
	}
	// Round trip through Decode.
	buf.Reset()
	Encode(&buf, gradient(64, 48), PNG, 0)
	if d := maxDiff(decodeBytes(t, buf.Bytes()).Pixels, gradient(64, 48)); d != 0 {
		t.Errorf("PNG round trip differs by %d", d)
	}
}
