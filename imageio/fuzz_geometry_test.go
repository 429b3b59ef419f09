package imageio

import (
	"image"
	"testing"
)

// fuzzImage builds a w x h NRGBA whose pixels repeat pix (or are opaque
// grey when pix is empty). opaque forces every alpha to 255.
func fuzzImage(w, h int, pix []byte, opaque bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		if len(pix) > 0 {
			img.Pix[i] = pix[i%len(pix)]
		} else {
			img.Pix[i] = 128
		}
		if opaque && i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// FuzzResize: any source size to any target size gives exactly the target
// size, never panics, keeps an opaque image opaque and a uniform image
// uniform (the filter's weights sum to one).
func FuzzResize(f *testing.F) {
	f.Add(uint16(16), uint16(8), uint16(7), uint16(5), []byte{1, 2, 3, 255}, false)
	f.Add(uint16(4000), uint16(3), uint16(64), uint16(8), []byte{200, 40, 10, 255}, true)
	f.Add(uint16(3), uint16(4000), uint16(8), uint16(64), []byte{0, 0, 0, 0, 255, 255, 255, 255}, false)
	f.Add(uint16(1), uint16(1), uint16(8), uint16(8), []byte{9}, true)
	f.Add(uint16(300), uint16(200), uint16(1), uint16(1), []byte{}, true)
	f.Add(uint16(8), uint16(8), uint16(0), uint16(3), []byte{5, 6}, false)
	f.Fuzz(func(t *testing.T, sw, sh, dw, dh uint16, pix []byte, opaque bool) {
		// Bound the work per input: sides to 4096, areas to 64k pixels.
		w, h := int(sw%4097), int(sh%4097)
		tw, th := int(dw%4097), int(dh%4097)
		if w*h > 1<<16 || tw*th > 1<<16 {
			return
		}
		src := fuzzImage(w, h, pix, opaque)
		dst := Resize(src, tw, th)
		if dst.Rect.Dx() != max(tw, 0) || dst.Rect.Dy() != max(th, 0) || len(dst.Pix) != 4*tw*th {
			t.Fatalf("%dx%d → %dx%d gave %v (%d bytes)", w, h, tw, th, dst.Rect, len(dst.Pix))
		}
		if w == 0 || h == 0 || tw == 0 || th == 0 {
			return
		}
		if opaque {
			for i := 3; i < len(dst.Pix); i += 4 {
				if dst.Pix[i] != 255 {
					t.Fatalf("%dx%d → %dx%d: opaque source gave alpha %d", w, h, tw, th, dst.Pix[i])
				}
			}
		}
		if len(pix) == 4 || len(pix) == 0 {
			// Every pixel the same: the result must be that colour
			// (within rounding), transparent ones aside.
			want := src.Pix[:4]
			for i := 0; i < len(dst.Pix); i += 4 {
				if want[3] == 0 {
					break
				}
				for c := range 4 {
					if d := int(dst.Pix[i+c]) - int(want[c]); d < -1 || d > 1 {
						t.Fatalf("%dx%d → %dx%d: uniform %v became %v", w, h, tw, th, want, dst.Pix[i:i+4])
					}
				}
			}
		}
	})
}

// inverseOrientation undoes an EXIF orientation: 6 and 8 are each other's
// inverse, every other one is its own.
func inverseOrientation(o int) int {
	switch o {
	case 6:
		return 8
	case 8:
		return 6
	}
	return o
}

// FuzzOrient: every orientation, valid or not, gives a permutation of the
// pixels of the right size, and the inverse orientation gives back the
// original exactly.
func FuzzOrient(f *testing.F) {
	for o := -1; o <= 9; o++ {
		f.Add(uint8(3), uint8(2), o, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	}
	f.Add(uint8(1), uint8(1), 6, []byte{7})
	f.Add(uint8(0), uint8(5), 5, []byte{})
	f.Fuzz(func(t *testing.T, w8, h8 uint8, orientation int, pix []byte) {
		w, h := int(w8), int(h8)
		src := fuzzImage(w, h, pix, false)
		// Make every pixel distinct, so a permutation can be checked.
		for i := 0; i < w*h; i++ {
			src.Pix[4*i], src.Pix[4*i+1] = byte(i), byte(i>>8)
		}
		dst := Orient(src, orientation)
		wantW, wantH := w, h
		if orientation >= 5 && orientation <= 8 {
			wantW, wantH = h, w
		}
		if dst.Rect != image.Rect(0, 0, wantW, wantH) {
			t.Fatalf("%dx%d orientation %d gave %v, want %dx%d", w, h, orientation, dst.Rect, wantW, wantH)
		}
		valid := orientation >= 1 && orientation <= 8
		if !valid {
			orientation = 1
		}
		back := Orient(dst, inverseOrientation(orientation))
		if back.Rect != src.Rect {
			t.Fatalf("inverse of %d gave %v, want %v", orientation, back.Rect, src.Rect)
		}
		for i := range src.Pix {
			if back.Pix[i] != src.Pix[i] {
				t.Fatalf("%dx%d orientation %d then its inverse: byte %d is %d, want %d", w, h, orientation, i, back.Pix[i], src.Pix[i])
			}
		}
	})
}
