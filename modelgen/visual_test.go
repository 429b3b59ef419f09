package modelgen

import (
	"image"
	"image/draw"
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"
)

// TestCartoonVisual renders the shared photos through the built-in model
// for a person to look at: MODELGEN_VISUAL=DIR go test -run Visual.
// Each output PNG holds the input (left) and the cartoon (right).
func TestCartoonVisual(t *testing.T) {
	dir := os.Getenv("MODELGEN_VISUAL")
	if dir == "" {
		t.Skip("set MODELGEN_VISUAL=DIR to render the shared photos")
	}
	photos, _ := filepath.Glob("../../shared/photos/*.jpg")
	if len(photos) == 0 {
		t.Skip("no ../shared/photos")
	}
	model, err := Cartoon()
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, model, 2)
	for i, p := range photos {
		if i >= 6 {
			break
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		src, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		b := src.Bounds()
		scale := 512.0 / float64(max(b.Dx(), b.Dy()))
		w, h := int(float64(b.Dx())*scale)/8*8, int(float64(b.Dy())*scale)/8*8
		small := image.NewRGBA(image.Rect(0, 0, w, h))
		xdraw.CatmullRom.Scale(small, small.Bounds(), src, b, draw.Src, nil)
		x, _, _ := nhwcFromImage(small)
		y, _, err := s.run(x, 1, int64(h), int64(w), 3)
		if err != nil {
			t.Fatal(err)
		}
		both := image.NewRGBA(image.Rect(0, 0, 2*w, h))
		draw.Draw(both, small.Bounds(), small, image.Point{}, draw.Src)
		draw.Draw(both, small.Bounds().Add(image.Pt(w, 0)), imageFromNHWC(y, h, w), image.Point{}, draw.Src)
		out, err := os.Create(filepath.Join(dir, strings.TrimSuffix(filepath.Base(p), ".jpg")+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(out, both); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}

// writePNG saves input and output side by side, for a person to look at.
func writePNG(t *testing.T, path string, x, y []float32, h, w int) {
	both := image.NewRGBA(image.Rect(0, 0, 2*w, h))
	draw.Draw(both, image.Rect(0, 0, w, h), imageFromNHWC(x, h, w), image.Point{}, draw.Src)
	draw.Draw(both, image.Rect(w, 0, 2*w, h), imageFromNHWC(y, h, w), image.Point{}, draw.Src)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, both); err != nil {
		t.Fatal(err)
	}
}
