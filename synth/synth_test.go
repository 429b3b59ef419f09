package synth

import (
	"bytes"
	"image"
	"image/color"
	"testing"

	"animegan/imageio"
)

func TestSceneDeterministicAndVaried(t *testing.T) {
	a := Scene(42, 160, 120)
	b := Scene(42, 160, 120)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("same seed gave different pixels")
	}
	c := Scene(43, 160, 120)
	diff := 0
	for i := range a.Pix {
		if a.Pix[i] != c.Pix[i] {
			diff++
		}
	}
	if diff < len(a.Pix)/4 {
		t.Errorf("seeds 42 and 43 differ in only %d of %d bytes", diff, len(a.Pix))
	}
	// Photo-like: many distinct colours, no flat black, fully opaque.
	colours := map[[3]uint8]bool{}
	for i := 0; i < len(a.Pix); i += 4 {
		colours[[3]uint8{a.Pix[i], a.Pix[i+1], a.Pix[i+2]}] = true
		if a.Pix[i+3] != 255 {
			t.Fatal("scene is not opaque")
		}
	}
	if len(colours) < 5000 {
		t.Errorf("only %d distinct colours", len(colours))
	}
	if img := Scene(1, 0, 10); !img.Bounds().Empty() {
		t.Error("empty size")
	}
}

// TestEncodeJPEGOrientation: for every orientation, decoding the JPEG and
// applying its tag (imageio does) gives back the upright picture.
func TestEncodeJPEGOrientation(t *testing.T) {
	const w, h = 64, 40
	up := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{128, 128, 128, 255}
			switch {
			case x < 16 && y < 16:
				c = color.NRGBA{255, 0, 0, 255} // upright top-left: red
			case x >= w-16 && y >= h-16:
				c = color.NRGBA{0, 0, 255, 255} // upright bottom-right: blue
			}
			up.SetNRGBA(x, y, c)
		}
	}
	for o := 0; o <= 8; o++ {
		data, err := EncodeJPEG(up, 95, o)
		if err != nil {
			t.Fatal(err)
		}
		hd, err := imageio.Probe(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		wantO := max(o, 1)
		if hd.Orientation != wantO {
			t.Fatalf("orientation %d: probe says %d", o, hd.Orientation)
		}
		if o >= 5 && (hd.Width != h || hd.Height != w) {
			t.Errorf("orientation %d: stored %dx%d, want sideways", o, hd.Width, hd.Height)
		}
		img, err := imageio.Decode(bytes.NewReader(data), imageio.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.Pixels.Bounds() != up.Bounds() {
			t.Fatalf("orientation %d: decoded %v", o, img.Pixels.Bounds())
		}
		if c := img.Pixels.NRGBAAt(5, 5); c.R < 200 || c.B > 60 {
			t.Errorf("orientation %d: top-left is %v, want red", o, c)
		}
		if c := img.Pixels.NRGBAAt(w-6, h-6); c.B < 200 || c.R > 60 {
			t.Errorf("orientation %d: bottom-right is %v, want blue", o, c)
		}
	}
	if _, err := EncodeJPEG(up, 90, 9); err == nil {
		t.Error("orientation 9 accepted")
	}
}

func TestCutout(t *testing.T) {
	img := Scene(3, 200, 100)
	Cutout(img, 0.12)
	if a := img.NRGBAAt(0, 0).A; a != 0 {
		t.Errorf("corner alpha %d", a)
	}
	if a := img.NRGBAAt(100, 50).A; a != 255 {
		t.Errorf("centre alpha %d", a)
	}
}
