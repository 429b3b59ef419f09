package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// quadrants is w x h with four flat colours, so a shrunk decode can be
// checked against the full one at the quadrant centres.
func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	cols := []color.NRGBA{{200, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 200, 255}, {220, 220, 40, 255}}
	for y := range h {
		for x := range w {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			img.SetNRGBA(x, y, cols[q])
		}
	}
	return img
}

func TestDecodeShrink(t *testing.T) {
	if !scaledJPEGAvailable {
		t.Skip("built without libjpeg-turbo")
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, quadrants(800, 600), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	full, err := Decode(bytes.NewReader(buf.Bytes()), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		minW, minH int
		wantScale  int
	}{
		{"eighth", 100, 75, 8},
		{"quarter", 101, 75, 4},
		{"half", 300, 200, 2},
		{"full", 401, 300, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var asked [2]int
			img, err := Decode(bytes.NewReader(buf.Bytes()), DecodeOptions{Shrink: func(w, h int) (int, int) {
				asked = [2]int{w, h}
				return c.minW, c.minH
			}})
			if err != nil {
				t.Fatal(err)
			}
			if asked != [2]int{800, 600} {
				t.Fatalf("Shrink was told %v, want the full size", asked)
			}
			w, h := img.Size()
			if img.Scale != c.wantScale || w != 800 || h != 600 || img.Pixels.Rect.Dx() != 800/c.wantScale || img.Pixels.Rect.Dy() != 600/c.wantScale {
				t.Fatalf("scale %d, size %dx%d, pixels %v; want scale %d of 800x600", img.Scale, w, h, img.Pixels.Rect, c.wantScale)
			}
			for _, p := range []image.Point{{200, 150}, {600, 150}, {200, 450}, {600, 450}} {
				a := full.Pixels.NRGBAAt(p.X, p.Y)
				b := img.Pixels.NRGBAAt(p.X/c.wantScale, p.Y/c.wantScale)
				if diff(a.R, b.R)+diff(a.G, b.G)+diff(a.B, b.B) > 12 {
					t.Errorf("at %v: full decode %v, shrunk %v", p, a, b)
				}
			}
		})
	}
	// Damaged data takes the standard decoder's path and its error.
	_, err = Decode(bytes.NewReader(buf.Bytes()[:buf.Len()/2]), DecodeOptions{Shrink: func(int, int) (int, int) { return 8, 8 }})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated JPEG: %v, want ErrCorrupt", err)
	}
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
