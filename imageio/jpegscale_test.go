package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// psnr is the peak signal-to-noise ratio of b against a over R, G and B, in
// dB (+Inf when they are equal). Both must be the same size.
func psnr(t testing.TB, a, b *image.NRGBA) float64 {
	t.Helper()
	if a.Rect.Size() != b.Rect.Size() {
		t.Fatalf("psnr of %v against %v", b.Rect, a.Rect)
	}
	var sum float64
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := range h {
		ra := a.Pix[a.PixOffset(a.Rect.Min.X, a.Rect.Min.Y+y):][:4*w]
		rb := b.Pix[b.PixOffset(b.Rect.Min.X, b.Rect.Min.Y+y):][:4*w]
		for i := 0; i < len(ra); i += 4 {
			for c := range 3 {
				d := float64(ra[i+c]) - float64(rb[i+c])
				sum += d * d
			}
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(3*w*h)))
}

// stdDecode is image/jpeg's decode of data, as NRGBA, without orientation.
func stdDecode(t testing.TB, data []byte) *image.NRGBA {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	px, _ := toNRGBA(m, 1)
	return px
}

// alignedCrops returns, from a full decode and one at num/8, the largest
// top-left regions where the scaling is exactly num/8 (libjpeg rounds
// sizes up, so its last row and column hold partial blocks): the full one
// resized onto the scaled one's size, and the scaled one.
func alignedCrops(full, scaled *image.NRGBA, num int) (want, got *image.NRGBA) {
	g := 8 // gcd(num, 8)
	for num%g != 0 {
		g /= 2
	}
	step := num / g // scaled pixels per 8/g full-size pixels
	fs := full.Rect.Size()
	qx, qy := fs.X*num/8/step*step, fs.Y*num/8/step*step
	src := full.SubImage(image.Rect(0, 0, qx*8/num, qy*8/num)).(*image.NRGBA)
	return Resize(src, qx, qy), scaled.SubImage(image.Rect(0, 0, qx, qy)).(*image.NRGBA)
}

// shrinkTo is a Shrink callback asking for at least w x h, that records
// the size it was told.
func shrinkTo(w, h int, told *image.Point) func(int, int) (int, int) {
	return func(fw, fh int) (int, int) {
		if told != nil {
			*told = image.Pt(fw, fh)
		}
		return w, h
	}
}

func TestDCTScaledSize(t *testing.T) {
	// libjpeg rounds each side up: 501*3/8 = 187.875 gives 188.
	want := map[int]image.Point{1: {63, 42}, 2: {126, 84}, 3: {188, 125}, 4: {251, 167},
		5: {314, 209}, 6: {376, 250}, 7: {439, 292}, 8: {501, 333}}
	for num, w := range want {
		if got := dctScaledSize(image.Pt(501, 333), num); got != w {
			t.Errorf("501x333 at %d/8: %v, want %v", num, got, w)
		}
	}
}

func TestJPEGScaleNum(t *testing.T) {
	cases := []struct {
		name        string
		stored      image.Point
		orientation int
		min         image.Point // what Shrink returns, upright
		want        int
	}{
		{"eighth", image.Pt(800, 600), 1, image.Pt(100, 75), 1},
		{"eighth rounded up", image.Pt(801, 601), 1, image.Pt(101, 76), 1},
		{"one over an eighth", image.Pt(800, 600), 1, image.Pt(101, 75), 2},
		{"three eighths", image.Pt(800, 600), 1, image.Pt(300, 200), 3},
		{"height decides", image.Pt(800, 600), 1, image.Pt(10, 226), 4},
		{"five eighths", image.Pt(800, 600), 1, image.Pt(401, 300), 5},
		{"six eighths", image.Pt(800, 600), 1, image.Pt(501, 375), 6},
		{"seven eighths is full size", image.Pt(800, 600), 1, image.Pt(601, 300), 8},
		{"full", image.Pt(800, 600), 1, image.Pt(800, 600), 8},
		{"more than there is", image.Pt(800, 600), 1, image.Pt(1600, 1200), 8},
		// Stored 800x200 shown 200x800: Shrink's upright answer is turned
		// back to stored orientation before comparing.
		{"orientation 6", image.Pt(800, 200), 6, image.Pt(25, 100), 1},
		{"orientation 8", image.Pt(800, 200), 8, image.Pt(26, 100), 2},
		{"orientation 3 is not turned", image.Pt(800, 200), 3, image.Pt(100, 25), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var told image.Point
			h := Header{Format: JPEG, Width: c.stored.X, Height: c.stored.Y, Orientation: c.orientation}
			got := jpegScaleNum(h, shrinkTo(c.min.X, c.min.Y, &told))
			if got != c.want {
				t.Errorf("scale %d/8, want %d/8", got, c.want)
			}
			if w, ht := h.OrientedSize(); told != image.Pt(w, ht) {
				t.Errorf("Shrink was told %v, want the upright size %dx%d", told, w, ht)
			}
		})
	}
}

func TestDecodeShrink(t *testing.T) {
	if !scaledJPEGAvailable {
		t.Skip("built without libjpeg-turbo")
	}
	data := encodeJPEG(t, quadrants(800, 600), 95)
	full, err := Decode(bytes.NewReader(data), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		minW, minH int
		wantNum    int
		wantScale  int
		wantPixels image.Point
	}{
		{"eighth", 100, 75, 1, 8, image.Pt(100, 75)},
		{"quarter", 101, 75, 2, 4, image.Pt(200, 150)},
		{"three eighths", 300, 200, 3, 2, image.Pt(300, 225)},
		{"half", 301, 200, 4, 2, image.Pt(400, 300)},
		{"five eighths", 401, 300, 5, 1, image.Pt(500, 375)},
		{"six eighths", 501, 300, 6, 1, image.Pt(600, 450)},
		{"full, by libjpeg", 601, 300, 8, 1, image.Pt(800, 600)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var told image.Point
			img, err := Decode(bytes.NewReader(data), DecodeOptions{Shrink: shrinkTo(c.minW, c.minH, &told)})
			if err != nil {
				t.Fatal(err)
			}
			if told != image.Pt(800, 600) {
				t.Fatalf("Shrink was told %v, want the full size", told)
			}
			w, h := img.Size()
			if img.ScaleNum != c.wantNum || img.Scale != c.wantScale || w != 800 || h != 600 || img.Pixels.Rect != (image.Rectangle{Max: c.wantPixels}) {
				t.Fatalf("scale %d/8 (Scale %d), size %dx%d, pixels %v; want %d/8 (Scale %d) of 800x600, pixels %v",
					img.ScaleNum, img.Scale, w, h, img.Pixels.Rect, c.wantNum, c.wantScale, c.wantPixels)
			}
			if img.HasAlpha || img.Pixels.Stride != 4*c.wantPixels.X {
				t.Errorf("HasAlpha %v, stride %d", img.HasAlpha, img.Pixels.Stride)
			}
			for _, p := range []image.Point{{200, 150}, {600, 150}, {200, 450}, {600, 450}} {
				a := full.Pixels.NRGBAAt(p.X, p.Y)
				b := img.Pixels.NRGBAAt(p.X*c.wantNum/8, p.Y*c.wantNum/8)
				if diff(a.R, b.R)+diff(a.G, b.G)+diff(a.B, b.B) > 12 || b.A != 255 {
					t.Errorf("at %v: full decode %v, shrunk %v", p, a, b)
				}
			}
		})
	}
}

// TestDecodeScaledPhotos decodes the test photos at every scale and
// compares with what the standard library's decode followed by Resize gives.
func TestDecodeScaledPhotos(t *testing.T) {
	if !scaledJPEGAvailable {
		t.Skip("built without libjpeg-turbo")
	}
	for _, photo := range testPhotos {
		data := testPhoto(t, photo)
		ref := stdDecode(t, data)
		stored := ref.Rect.Size()
		for num := 1; num <= 8; num++ {
			t.Run(fmt.Sprintf("%s/%d-8", photo.name, num), func(t *testing.T) {
				img, ok := decodeJPEGScaled(data, stored, num)
				if !ok {
					t.Fatal("libjpeg refused a valid photo")
				}
				want := dctScaledSize(stored, num)
				if img.Rect != (image.Rectangle{Max: want}) {
					t.Fatalf("pixels %v, want %v", img.Rect, want)
				}
				for i := 3; i < len(img.Pix); i += 4 {
					if img.Pix[i] != 255 {
						t.Fatalf("alpha %d at byte %d", img.Pix[i], i)
					}
				}
				// Different filters (DCT truncation against Catmull-Rom) and
				// chroma upsampling: measured 41.9-43.8 dB on both fixtures
				// at every scale. Misaligned by half a scaled pixel they
				// give 28-32 dB, by one 20-27, and by one full-size pixel
				// (1/8 of a scaled pixel at 1/8) 27.9-37.6.
				ref, got := alignedCrops(ref, img, num)
				if p := psnr(t, ref, got); p < 39 {
					t.Errorf("PSNR %.1f dB against image/jpeg + Resize", p)
				}
			})
		}
	}
}

// TestDecodeShrinkOriented checks that a JPEG shrunk by libjpeg is turned
// upright, as a full-size decode is.
func TestDecodeShrinkOriented(t *testing.T) {
	photo := testPhoto(t, testPhotos[0])
	for _, o := range []int{1, 3, 6, 8} {
		t.Run(fmt.Sprintf("orientation %d", o), func(t *testing.T) {
			data := withEXIF(photo, o, o%2 == 0)
			full := decodeBytes(t, data)
			fw, fh := full.Size()
			var told image.Point
			img, err := Decode(bytes.NewReader(data), DecodeOptions{Shrink: shrinkTo(fw/3, fh/3, &told)})
			if err != nil {
				t.Fatal(err)
			}
			if full.Pixels.Rect.Size() != image.Pt(fw, fh) {
				t.Fatalf("full decode %v, upright size %dx%d", full.Pixels.Rect, fw, fh)
			}
			// Without libjpeg nothing can shrink, and Shrink is not asked.
			if scaledJPEGAvailable && told != image.Pt(fw, fh) {
				t.Fatalf("Shrink told %v, want the upright size %dx%d", told, fw, fh)
			}
			if w, h := img.Size(); img.Orientation != o || w != fw || h != fh {
				t.Fatalf("orientation %d size %dx%d", img.Orientation, w, h)
			}
			got := img.Pixels.Rect.Size()
			if got.X < fw/3 || got.Y < fh/3 {
				t.Fatalf("decoded %v, smaller than the %dx%d asked for", got, fw/3, fh/3)
			}
			if scaledJPEGAvailable && img.ScaleNum != 3 {
				t.Errorf("scale %d/8, want 3/8", img.ScaleNum)
			}
			// Measured 40.5 dB at 3/8 for every orientation; one scaled
			// pixel of misalignment gives 21, one full-size pixel 33.
			if p := psnr(t, Resize(full.Pixels, got.X, got.Y), img.Pixels); p < 37 {
				t.Errorf("PSNR %.1f dB against the full decode, resized", p)
			}
		})
	}
}

// TestDecodeShrinkFallbacks covers the JPEGs libjpeg does not take or only
// takes with warnings: the standard decoder gives its answer instead.
func TestDecodeShrinkFallbacks(t *testing.T) {
	good := encodeJPEG(t, quadrants(64, 48), 90)
	// Stray bytes before the EOI marker: libjpeg warns, image/jpeg skips them.
	// Enough of them that the Huffman decoder's read-ahead cannot hide them.
	junk := append(append(append([]byte{}, good[:len(good)-2]...), bytes.Repeat([]byte{1, 2, 3}, 30)...), good[len(good)-2:]...)
	cmyk := cmykJPEG(2, 2, func(bx, by int) [4]uint8 { return [4]uint8{uint8(bx * 200), uint8(by * 200), 0, 0} })
	gray := image.NewGray(image.Rect(0, 0, 40, 24))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	cases := []struct {
		name    string
		data    []byte
		wantErr error
		wantNum int // when libjpeg is linked in
		check   func(t *testing.T, img *Image)
	}{
		{name: "truncated", data: good[:len(good)/2], wantErr: ErrCorrupt},
		{name: "not a JPEG after the header", data: append(append([]byte{}, good[:200]...), bytes.Repeat([]byte{0xFF, 0x00}, 100)...), wantErr: ErrCorrupt},
		{name: "extraneous bytes", data: junk, wantNum: 8, check: func(t *testing.T, img *Image) {
			if maxDiff(img.Pixels, decodeBytes(t, good).Pixels) != 0 {
				t.Error("pixels differ from the clean file's")
			}
		}},
		{name: "CMYK", data: cmyk, wantNum: 8, check: func(t *testing.T, img *Image) {
			r, g, b := color.CMYKToRGB(200, 0, 0, 0)
			if c := img.Pixels.NRGBAAt(12, 4); !close(c, color.NRGBA{r, g, b, 255}, 2) {
				t.Errorf("CMYK block: %v", c)
			}
		}},
		{name: "grayscale", data: encodeJPEG(t, gray, 100), wantNum: 4, check: func(t *testing.T, img *Image) {
			for i := 0; i < len(img.Pixels.Pix); i += 4 {
				p := img.Pixels.Pix[i : i+4]
				if p[0] != p[1] || p[1] != p[2] || p[3] != 255 {
					t.Fatalf("pixel %d is not opaque grey: %v", i/4, p)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := Decode(bytes.NewReader(c.data), DecodeOptions{Shrink: shrinkTo(16, 12, nil)})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("error %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := ScaleDenom
			if scaledJPEGAvailable {
				want = c.wantNum
			}
			if img.ScaleNum != want || img.HasAlpha {
				t.Errorf("scale %d/8, want %d/8; HasAlpha %v", img.ScaleNum, want, img.HasAlpha)
			}
			c.check(t, img)
		})
	}
}

func TestReadAllSizeHint(t *testing.T) {
	data := testPhoto(t, testPhotos[0])
	path := filepath.Join(t.TempDir(), testPhotos[0].name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir, err := os.Open("testdata")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	hints := []struct {
		name string
		r    io.Reader
		want int64
	}{
		{"file", f, int64(len(data))},
		{"bytes.Reader", bytes.NewReader(data), int64(len(data))},
		{"strings.Reader", strings.NewReader("abc"), 3},
		{"plain reader", io.MultiReader(bytes.NewReader(data)), 0},
		{"directory", dir, 0},
	}
	for _, c := range hints {
		if got := sizeHint(c.r); got != c.want {
			t.Errorf("sizeHint(%s) = %d, want %d", c.name, got, c.want)
		}
	}
	// A hint is only a capacity: too small, too big or absent, every byte
	// is read.
	for _, hint := range []int64{0, 1, int64(len(data)) - 1, int64(len(data)), 10 * int64(len(data)), 1 << 40} {
		got, err := readAll(bytes.NewReader(data), hint)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("hint %d: %d bytes, %v", hint, len(got), err)
		}
	}
	// The way convert decodes: from the file, with Shrink.
	img, err := Decode(f, DecodeOptions{Shrink: shrinkTo(100, 60, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Size(); w != testPhotoW || h != testPhotoH {
		t.Errorf("size %dx%d", w, h)
	}
}

// FuzzDecodeShrink runs Decode with a Shrink callback, which sends JPEGs
// through libjpeg-turbo when it is linked in.
func FuzzDecodeShrink(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	for _, p := range testPhotos {
		if p.available() {
			f.Add(testPhoto(f, p))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(bytes.NewReader(data), DecodeOptions{MaxPixels: 1 << 20, Shrink: func(w, h int) (int, int) {
			return w / 3, h / 3
		}})
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrUnsupported) &&
				!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		stored := dctScaledSize(image.Pt(img.StoredWidth, img.StoredHeight), img.ScaleNum)
		if img.Orientation >= 5 {
			stored.X, stored.Y = stored.Y, stored.X
		}
		if img.Pixels.Rect != (image.Rectangle{Max: stored}) || img.ScaleNum < 1 || img.ScaleNum > 8 || img.Scale != 8/img.ScaleNum {
			t.Fatalf("pixels %v at %d/8 (Scale %d) for stored %dx%d orientation %d",
				img.Pixels.Rect, img.ScaleNum, img.Scale, img.StoredWidth, img.StoredHeight, img.Orientation)
		}
		if img.ScaleNum != 8 && img.Format != JPEG {
			t.Fatalf("%s decoded at %d/8", img.Format, img.ScaleNum)
		}
	})
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
