package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// gradient is an opaque test picture with smooth colour ramps.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(x * 255 / max(1, w-1))
			img.Pix[i+1] = uint8(y * 255 / max(1, h-1))
			img.Pix[i+2] = 128
			img.Pix[i+3] = 255
		}
	}
	return img
}

func decodeBytes(t testing.TB, b []byte) *Image {
	t.Helper()
	img, err := Decode(bytes.NewReader(b), DecodeOptions{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return img
}

// maxDiff is the largest per-channel difference between two same-size images.
func maxDiff(a, b *image.NRGBA) int {
	d := 0
	for i := range a.Pix {
		v := int(a.Pix[i]) - int(b.Pix[i])
		if v < 0 {
			v = -v
		}
		d = max(d, v)
	}
	return d
}

func TestRoundTripFormats(t *testing.T) {
	src := gradient(48, 32)
	enc := func(f func(io.Writer) error) []byte {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name    string
		data    []byte
		format  Format
		maxDiff int
	}{
		{"jpeg", encodeJPEG(t, src, 95), JPEG, 12},
		{"png", enc(func(w io.Writer) error { return png.Encode(w, src) }), PNG, 0},
		{"gif", enc(func(w io.Writer) error { return gif.Encode(w, src, &gif.Options{NumColors: 256}) }), GIF, 90},
		{"bmp", enc(func(w io.Writer) error { return bmp.Encode(w, src) }), BMP, 0},
		{"tiff", enc(func(w io.Writer) error { return tiff.Encode(w, src, &tiff.Options{Compression: tiff.Deflate}) }), TIFF, 0},
		{"tiff-raw", writeTIFF(48, 32, 4, 2, src.Pix, 0), TIFF, 0},
		{"webp", webpTwoTone(48, 32, [4]uint8{10, 20, 30, 255}, [4]uint8{10, 20, 30, 255}, func(x, y int) bool { return false }), WebP, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Probe(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if h.Format != tc.format || h.Width != 48 || h.Height != 32 || h.Orientation != 1 {
				t.Fatalf("Probe = %+v", h)
			}
			img := decodeBytes(t, tc.data)
			if img.Format != tc.format || img.Pixels.Bounds() != src.Bounds() || img.HasAlpha {
				t.Fatalf("Decode: format %s bounds %v alpha %v", img.Format, img.Pixels.Bounds(), img.HasAlpha)
			}
			if img.StoredWidth != 48 || img.StoredHeight != 32 {
				t.Errorf("stored size %dx%d", img.StoredWidth, img.StoredHeight)
			}
			want := src
			if tc.format == WebP {
				want = image.NewNRGBA(src.Rect)
				for i := 0; i < len(want.Pix); i += 4 {
					copy(want.Pix[i:], []uint8{10, 20, 30, 255})
				}
			}
			if d := maxDiff(img.Pixels, want); d > tc.maxDiff {
				t.Errorf("max channel difference %d > %d", d, tc.maxDiff)
			}
		})
	}
}

func TestWebPTwoToneAlpha(t *testing.T) {
	on := func(x, y int) bool { return x >= 8 }
	data := webpTwoTone(16, 4, [4]uint8{0, 0, 0, 0}, [4]uint8{200, 100, 50, 255}, on)
	img := decodeBytes(t, data)
	if !img.HasAlpha {
		t.Error("HasAlpha false")
	}
	if c := img.Pixels.NRGBAAt(12, 1); c != (color.NRGBA{200, 100, 50, 255}) {
		t.Errorf("on pixel %v", c)
	}
	if c := img.Pixels.NRGBAAt(2, 1); c.A != 0 {
		t.Errorf("off pixel %v", c)
	}
}

// markedImage is a stored w×h image, mid-grey, with a red 8×8 block at
// its top-left and a green 8×8 block at its top-right corner.
func markedImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{128, 128, 128, 255}
			if y < 8 && x < 8 {
				c = color.NRGBA{255, 0, 0, 255}
			} else if y < 8 && x >= w-8 {
				c = color.NRGBA{0, 255, 0, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// corner names where a marker must appear on the displayed image.
type corner int

const (
	tl corner = iota
	tr
	bl
	br
)

func cornerPixel(img *image.NRGBA, c corner) color.NRGBA {
	b := img.Bounds()
	x, y := 3, 3
	if c == tr || c == br {
		x = b.Dx() - 4
	}
	if c == bl || c == br {
		y = b.Dy() - 4
	}
	return img.NRGBAAt(x, y)
}

func isRed(c color.NRGBA) bool   { return c.R > 200 && c.G < 60 && c.B < 60 }
func isGreen(c color.NRGBA) bool { return c.G > 200 && c.R < 60 && c.B < 60 }

// The expected positions follow the EXIF/TIFF definition of the tag: which
// visual side the stored 0th row and 0th column are.
var orientationCases = []struct {
	o          int
	red, green corner
}{
	{1, tl, tr},
	{2, tr, tl},
	{3, br, bl},
	{4, bl, br},
	{5, tl, bl},
	{6, tr, br},
	{7, br, tr},
	{8, bl, tl},
}

func checkOriented(t *testing.T, img *image.NRGBA, o int, red, green corner, w, h int) {
	t.Helper()
	wantW, wantH := w, h
	if o >= 5 {
		wantW, wantH = h, w
	}
	if img.Bounds().Dx() != wantW || img.Bounds().Dy() != wantH {
		t.Fatalf("orientation %d: size %v, want %dx%d", o, img.Bounds().Size(), wantW, wantH)
	}
	if c := cornerPixel(img, red); !isRed(c) {
		t.Errorf("orientation %d: red marker expected at corner %d, found %v", o, red, c)
	}
	if c := cornerPixel(img, green); !isGreen(c) {
		t.Errorf("orientation %d: green marker expected at corner %d, found %v", o, green, c)
	}
}

func TestEXIFOrientationJPEG(t *testing.T) {
	const w, h = 48, 32
	base := encodeJPEG(t, markedImage(w, h), 100)
	for _, bigEndian := range []bool{false, true} {
		for _, tc := range orientationCases {
			data := withEXIF(base, tc.o, bigEndian)
			hd, err := Probe(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if hd.Orientation != tc.o || hd.Width != w || hd.Height != h {
				t.Fatalf("Probe = %+v, want orientation %d", hd, tc.o)
			}
			ow, oh := hd.OrientedSize()
			img := decodeBytes(t, data)
			if img.Orientation != tc.o || img.Pixels.Bounds().Dx() != ow || img.Pixels.Bounds().Dy() != oh {
				t.Fatalf("Decode orientation %d size %v, OrientedSize %dx%d", img.Orientation, img.Pixels.Bounds(), ow, oh)
			}
			checkOriented(t, img.Pixels, tc.o, tc.red, tc.green, w, h)
		}
	}
}

func TestOrientationOtherContainers(t *testing.T) {
	const w, h = 40, 24
	src := markedImage(w, h)
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, src); err != nil {
		t.Fatal(err)
	}
	for _, tc := range orientationCases {
		pngData := insertPNGChunk(pngBuf.Bytes(), "eXIf", exifBlock(tc.o, tc.o%2 == 0))
		tiffData := writeTIFF(w, h, 4, 2, src.Pix, tc.o)
		for name, data := range map[string][]byte{"png": pngData, "tiff": tiffData} {
			img := decodeBytes(t, data)
			if img.Orientation != tc.o {
				t.Fatalf("%s: orientation %d, want %d", name, img.Orientation, tc.o)
			}
			checkOriented(t, img.Pixels, tc.o, tc.red, tc.green, w, h)
		}
	}
	// Orient on its own agrees with decoding.
	for _, tc := range orientationCases {
		checkOriented(t, Orient(src, tc.o), tc.o, tc.red, tc.green, w, h)
	}
}

func TestBadOrientationValues(t *testing.T) {
	base := encodeJPEG(t, markedImage(16, 16), 90)
	for _, o := range []int{0, 9, 300} {
		h, err := Probe(bytes.NewReader(withEXIF(base, o, false)))
		if err != nil || h.Orientation != 1 {
			t.Errorf("orientation %d: got %+v, %v", o, h, err)
		}
	}
	// Truncated EXIF segment body.
	seg := []byte{0xFF, 0xE1, 0, 12, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', '*', 0}
	data := append(append([]byte{0xFF, 0xD8}, seg...), base[2:]...)
	if h, err := Probe(bytes.NewReader(data)); err != nil || h.Orientation != 1 {
		t.Errorf("short EXIF: %+v, %v", h, err)
	}
}

func TestPixelKinds(t *testing.T) {
	r := image.Rect(0, 0, 4, 2)
	gray := image.NewGray(r)
	gray.Pix = []uint8{0, 50, 100, 150, 200, 250, 255, 1}
	gray16 := image.NewGray16(r)
	for i := 0; i < 8; i++ {
		gray16.SetGray16(i%4, i/4, color.Gray16{Y: uint16(i * 8000)})
	}
	rgba64 := image.NewRGBA64(r)
	rgba64.SetRGBA64(1, 0, color.RGBA64{0x8000, 0x4000, 0, 0x8000}) // half-transparent, premultiplied
	nrgba64 := image.NewNRGBA64(r)
	for i := 0; i < 8; i++ {
		nrgba64.SetNRGBA64(i%4, i/4, color.NRGBA64{0xffff, 0x1234, 0xabcd, 0xffff})
	}
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{255, 0, 0, 255}})
	pal.Pix = []uint8{1, 1, 0, 1, 1, 1, 1, 1}
	cmyk := image.NewCMYK(r)
	for i := 0; i < 8; i++ {
		cmyk.SetCMYK(i%4, i/4, color.CMYK{C: uint8(i * 30), M: 40, Y: 200, K: uint8(i * 10)})
	}
	ycc := image.NewYCbCr(image.Rect(0, 0, 5, 3), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(20 * i)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(60+30*i), uint8(200-20*i)
	}
	nycca := image.NewNYCbCrA(image.Rect(0, 0, 3, 3), image.YCbCrSubsampleRatio422)
	for i := range nycca.A {
		nycca.A[i] = 255
		nycca.Y[i] = uint8(25 * i)
	}
	nycca.A[4] = 128
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(0, 0, color.RGBA{100, 50, 0, 200})
	rgba.SetRGBA(1, 0, color.RGBA{10, 20, 30, 255})

	tests := []struct {
		name  string
		img   image.Image
		alpha bool
	}{
		{"gray", gray, false},
		{"gray16", gray16, false},
		{"rgba64", rgba64, true},
		{"nrgba64", nrgba64, false},
		{"paletted", pal, true},
		{"cmyk", cmyk, false},
		{"ycbcr420", ycc, false},
		{"ycbcr420-sub", ycc.SubImage(image.Rect(1, 1, 5, 3)), false},
		{"nycbcra", nycca, true},
		{"rgba", rgba, true},
		{"generic", &image.Uniform{C: color.NRGBA{1, 2, 3, 4}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.img
			if u, ok := src.(*image.Uniform); ok {
				src = subImager{u, image.Rect(0, 0, 3, 3)}
			}
			got, hasAlpha := toNRGBA(src, 1)
			if hasAlpha != tc.alpha {
				t.Errorf("hasAlpha = %v, want %v", hasAlpha, tc.alpha)
			}
			b := src.Bounds()
			if got.Bounds().Size() != b.Size() {
				t.Fatalf("size %v, want %v", got.Bounds().Size(), b.Size())
			}
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					want := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
					have := got.NRGBAAt(x-b.Min.X, y-b.Min.Y)
					if !close(want, have, 2) {
						t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, have, want)
					}
				}
			}
		})
	}
}

type subImager struct {
	image.Image
	r image.Rectangle
}

func (s subImager) Bounds() image.Rectangle { return s.r }

func close(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { v := int(x) - int(y); return v <= tol && v >= -tol }
	if a.A == 0 && b.A == 0 {
		return true
	}
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

func TestSixteenBitAndPalettedFiles(t *testing.T) {
	r := image.Rect(0, 0, 6, 4)
	n64 := image.NewNRGBA64(r)
	g16 := image.NewGray16(r)
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{0, 0, 255, 255}, color.NRGBA{0, 0, 0, 0}})
	for y := 0; y < 4; y++ {
		for x := 0; x < 6; x++ {
			n64.SetNRGBA64(x, y, color.NRGBA64{uint16(x * 10000), 0x8080, 0xffff, uint16(0xffff - y*100)})
			g16.SetGray16(x, y, color.Gray16{Y: uint16(x * 12000)})
			if x < 3 {
				pal.SetColorIndex(x, y, 1)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		img   image.Image
		alpha bool
	}{{"nrgba64", n64, true}, {"gray16", g16, false}, {"paletted", pal, true}} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, tc.img); err != nil {
			t.Fatal(err)
		}
		img := decodeBytes(t, buf.Bytes())
		if img.HasAlpha != tc.alpha {
			t.Errorf("%s: HasAlpha %v", tc.name, img.HasAlpha)
		}
		for y := 0; y < 4; y++ {
			for x := 0; x < 6; x++ {
				want := color.NRGBAModel.Convert(tc.img.At(x, y)).(color.NRGBA)
				if have := img.Pixels.NRGBAAt(x, y); !close(want, have, 1) {
					t.Fatalf("%s (%d,%d) = %v, want %v", tc.name, x, y, have, want)
				}
			}
		}
	}
}

func TestCMYKFiles(t *testing.T) {
	colours := [][4]uint8{{0, 0, 0, 0}, {255, 0, 0, 0}, {0, 200, 255, 0}, {30, 60, 90, 120}}
	wantRGB := func(c [4]uint8) color.NRGBA {
		r, g, b := color.CMYKToRGB(c[0], c[1], c[2], c[3])
		return color.NRGBA{r, g, b, 255}
	}
	t.Run("jpeg", func(t *testing.T) {
		data := cmykJPEG(2, 2, func(bx, by int) [4]uint8 { return colours[by*2+bx] })
		img := decodeBytes(t, data)
		if img.Format != JPEG || img.HasAlpha {
			t.Fatalf("format %s alpha %v", img.Format, img.HasAlpha)
		}
		for i, c := range colours {
			x, y := (i%2)*8+4, (i/2)*8+4
			if have := img.Pixels.NRGBAAt(x, y); !close(have, wantRGB(c), 2) {
				t.Errorf("block %d: %v, want %v (CMYK %v)", i, have, wantRGB(c), c)
			}
		}
	})
	t.Run("tiff", func(t *testing.T) {
		// x/image/tiff has no CMYK support: a clear ErrUnsupported, not a crash.
		var pix []byte
		for _, c := range colours {
			pix = append(pix, c[:]...)
		}
		_, err := Decode(bytes.NewReader(writeTIFF(4, 1, 4, 5, pix, 0)), DecodeOptions{})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "unsupported TIFF variant") {
			t.Errorf("CMYK TIFF: %v", err)
		}
	})
	t.Run("in-memory", func(t *testing.T) {
		m := image.NewCMYK(image.Rect(0, 0, len(colours), 1))
		for i, c := range colours {
			m.SetCMYK(i, 0, color.CMYK{c[0], c[1], c[2], c[3]})
		}
		got, alpha := toNRGBA(m, 1)
		for i, c := range colours {
			if have := got.NRGBAAt(i, 0); alpha || !close(have, wantRGB(c), 1) {
				t.Errorf("pixel %d: %v, want %v", i, have, wantRGB(c))
			}
		}
	})
}

func TestHasAlphaPNG(t *testing.T) {
	img := gradient(8, 8)
	var buf bytes.Buffer
	png.Encode(&buf, img)
	if decodeBytes(t, buf.Bytes()).HasAlpha {
		t.Error("opaque PNG reported alpha")
	}
	img.Pix[4*9+3] = 254
	buf.Reset()
	png.Encode(&buf, img)
	if !decodeBytes(t, buf.Bytes()).HasAlpha {
		t.Error("translucent pixel not reported")
	}
}

func heapAllocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestBombRejectedBeforeAllocation(t *testing.T) {
	for name, data := range map[string][]byte{
		"png":  bombPNG(60000, 60000),
		"jpeg": bombJPEG(60000, 60000),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			allocated := heapAllocDuring(func() {
				_, err = Decode(bytes.NewReader(data), DecodeOptions{MaxPixels: 50_000_000})
			})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			for _, s := range []string{"60000x60000", "50000000"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
			if allocated > 1<<20 {
				t.Errorf("allocated %d bytes before rejecting", allocated)
			}
			allocs := testing.AllocsPerRun(10, func() {
				Decode(bytes.NewReader(data), DecodeOptions{MaxPixels: 50_000_000})
			})
			if allocs > 100 {
				t.Errorf("%v allocations", allocs)
			}
			// The header itself is fine.
			h, err := Probe(bytes.NewReader(data))
			if err != nil || h.Width != 60000 || h.Pixels() != 3_600_000_000 {
				t.Errorf("Probe = %+v, %v", h, err)
			}
		})
	}
	// Default limit applies with a zero MaxPixels; a negative one disables it.
	if _, err := Decode(bytes.NewReader(bombPNG(20000, 20000)), DecodeOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("default limit: %v", err)
	}
	small := bombPNG(4, 4)
	if _, err := Decode(bytes.NewReader(small), DecodeOptions{MaxPixels: 15}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit 15 on 16 pixels: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	jpg := encodeJPEG(t, gradient(64, 64), 90)
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, gradient(64, 64))
	pngData := pngBuf.Bytes()
	// Cut-down HEIF headers: corrupt to libheif, unsupported without it.
	heifErr, heicMsg, avifMsg := error(ErrUnsupported), "unsupported format HEIC (this binary was built without libheif)", "unsupported format AVIF (this binary was built without libheif)"
	if HEIFAvailable {
		heifErr, heicMsg, avifMsg = ErrCorrupt, "corrupt or truncated HEIC", "corrupt or truncated AVIF"
	}
	tests := []struct {
		name    string
		data    []byte
		target  error
		message string
	}{
		{"empty", nil, ErrEmpty, "empty file"},
		{"text named .jpg", []byte("this is not a picture, just some text\n"), ErrUnsupported, "unknown format"},
		{"one byte", []byte{0xFF}, ErrUnsupported, "unknown format"},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic\x00\x00\x01\x00meta"), heifErr, heicMsg},
		{"heic mif1", []byte("\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf"), heifErr, heicMsg},
		{"avif", []byte("\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1miafMA1B"), heifErr, avifMsg},
		{"psd", []byte("8BPS\x00\x01\x00\x00\x00\x00\x00\x00"), ErrUnsupported, "unsupported format Photoshop PSD"},
		{"truncated jpeg", jpg[:len(jpg)/2], ErrCorrupt, "corrupt or truncated JPEG"},
		{"jpeg header only", jpg[:20], ErrCorrupt, "corrupt or truncated JPEG"},
		{"truncated png", pngData[:len(pngData)/2], ErrCorrupt, "corrupt or truncated PNG"},
		{"png signature only", pngData[:8], ErrCorrupt, "corrupt or truncated PNG"},
		{"png bad crc", append(append([]byte{}, pngData[:30]...), append([]byte{^pngData[30]}, pngData[31:]...)...), ErrCorrupt, "corrupt or truncated PNG"},
		{"gif header only", []byte("GIF89a"), ErrCorrupt, "corrupt or truncated GIF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tc.data), DecodeOptions{})
			if !errors.Is(err, tc.target) {
				t.Fatalf("Decode err = %v, want %v", err, tc.target)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
			if tc.target != ErrCorrupt {
				if _, perr := Probe(bytes.NewReader(tc.data)); !errors.Is(perr, tc.target) {
					t.Errorf("Probe err = %v", perr)
				}
			}
		})
	}
	_, err := Decode(bytes.NewReader(jpg[:len(jpg)/2]), DecodeOptions{})
	if !strings.Contains(err.Error(), "unexpected EOF") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated JPEG error %q should say unexpected EOF", err)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }

func TestReaderFailures(t *testing.T) {
	diskErr := errors.New("disk on fire")
	jpg := encodeJPEG(t, gradient(64, 64), 90)
	_, err := Decode(&failingReader{data: jpg[:300], err: diskErr}, DecodeOptions{})
	if !errors.Is(err, diskErr) {
		t.Errorf("I/O error not wrapped: %v", err)
	}
	_, err = Decode(&failingReader{err: diskErr}, DecodeOptions{})
	if !errors.Is(err, diskErr) {
		t.Errorf("I/O error at start not wrapped: %v", err)
	}
	_, err = Decode(panicReader{}, DecodeOptions{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panic not turned into an error: %v", err)
	}
	if _, err = Probe(panicReader{}); err == nil {
		t.Error("Probe: panic not turned into an error")
	}
}

func TestFormatHelpers(t *testing.T) {
	for _, tc := range []struct {
		f   Format
		out Format
		ext string
	}{
		{JPEG, JPEG, ".jpg"}, {PNG, PNG, ".png"}, {GIF, PNG, ".gif"},
		{BMP, PNG, ".bmp"}, {TIFF, PNG, ".tif"}, {WebP, PNG, ".webp"},
	} {
		if got := FormatForOutput(tc.f); got != tc.out {
			t.Errorf("FormatForOutput(%s) = %s", tc.f, got)
		}
		if got := Ext(tc.f); got != tc.ext {
			t.Errorf("Ext(%s) = %s", tc.f, got)
		}
		if got, err := ParseFormat(strings.ToUpper(tc.ext)); err != nil || got != tc.f {
			t.Errorf("ParseFormat(%s) = %s, %v", tc.ext, got, err)
		}
	}
	if _, err := ParseFormat("heic"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ParseFormat(heic) = %v", err)
	}
	// Read-only formats: results of these lossy photos are JPEGs.
	for f, ext := range map[Format]string{HEIC: ".heic", AVIF: ".avif"} {
		if FormatForOutput(f) != JPEG || Ext(f) != ext {
			t.Errorf("%s: FormatForOutput %s, Ext %s", f, FormatForOutput(f), Ext(f))
		}
	}
}
