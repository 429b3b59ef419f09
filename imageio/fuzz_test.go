package imageio

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
)

var updateFuzz = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz seed files")

// fuzzSeeds are small valid and broken files of every kind, built here.
func fuzzSeeds(t testing.TB) map[string][]byte {
	small := markedImage(16, 8)
	var pngBuf, gifBuf, bmpBuf bytes.Buffer
	png.Encode(&pngBuf, small)
	gif.Encode(&gifBuf, small, nil)
	bmp.Encode(&bmpBuf, small)
	jpg := encodeJPEG(t, small, 50)
	grey := image.NewGray(image.Rect(0, 0, 4, 4))
	var greyBuf bytes.Buffer
	png.Encode(&greyBuf, grey)
	cmyk := cmykJPEG(1, 1, func(int, int) [4]uint8 { return [4]uint8{255, 0, 0, 0} })
	seeds := map[string][]byte{
		"png-grey-icc":  insertPNGChunk(greyBuf.Bytes(), "iCCP", append([]byte("g\x00\x00"), zlibBytes(greyProfile())...)),
		"jpeg-cmyk-icc": append(append(bytes.Clone(cmyk[:2]), jpegICCSegments(cmykProfile())...), cmyk[2:]...),
	}
	// A real HEIC, when heif-enc is there to make one.
	if _, err := exec.LookPath("heif-enc"); err == nil {
		dir, err := os.MkdirTemp("", "fuzzseed")
		if err == nil {
			in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.heic")
			os.WriteFile(in, pngBuf.Bytes(), 0o644)
			if exec.Command("heif-enc", "-q", "30", "-o", out, in).Run() == nil {
				seeds["heic-real"], _ = os.ReadFile(out)
			}
			os.RemoveAll(dir)
		}
	}
	for k, v := range map[string][]byte{
		"jpeg-exif6": withEXIF(jpg, 6, true),
		"png-exif8":  insertPNGChunk(pngBuf.Bytes(), "eXIf", exifBlock(8, false)),
		"gif":        gifBuf.Bytes(),
		"bmp":        bmpBuf.Bytes(),
		"tiff-o3":    writeTIFF(4, 2, 4, 2, make([]byte, 32), 3),
		"webp":       webpTwoTone(4, 4, [4]uint8{1, 2, 3, 0}, [4]uint8{9, 8, 7, 255}, func(x, y int) bool { return x == y }),
		"cmyk-jpeg":  cmykJPEG(1, 1, func(int, int) [4]uint8 { return [4]uint8{10, 20, 30, 40} }),
		"heic":       []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
		"bomb-png":   bombPNG(60000, 60000),
		"truncated":  jpg[:len(jpg)/2],
	} {
		seeds[k] = v
	}
	return seeds
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateFuzz {
		t.Skip("run with -update-fuzz-seeds to rewrite testdata/fuzz")
	}
	for _, target := range []string{"FuzzProbe", "FuzzDecode"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range fuzzSeeds(t) {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func FuzzProbe(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Probe(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if h.Width <= 0 || h.Height <= 0 || h.Orientation < 1 || h.Orientation > 8 {
			t.Fatalf("bad header %+v", h)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(bytes.NewReader(data), DecodeOptions{MaxPixels: 1 << 20})
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrUnsupported) &&
				!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			if strings.Contains(err.Error(), "decoder panic") {
				t.Logf("recovered: %v", err)
			}
			return
		}
		b := img.Pixels.Bounds()
		if b.Min != (image.Point{}) || b.Dx()*b.Dy() > 1<<20 {
			t.Fatalf("bounds %v", b)
		}
		w, h := img.StoredWidth, img.StoredHeight
		if img.Orientation >= 5 {
			w, h = h, w
		}
		if b.Dx() != w || b.Dy() != h {
			t.Fatalf("size %v for stored %dx%d orientation %d", b, img.StoredWidth, img.StoredHeight, img.Orientation)
		}
		if !img.HasAlpha {
			for i := 3; i < len(img.Pixels.Pix); i += 4 {
				if img.Pixels.Pix[i] != 255 {
					t.Fatal("HasAlpha false but a pixel is translucent")
				}
			}
		}
		// Resizing and encoding any decoded image must work.
		small := Resize(img.Pixels, 7, 5)
		var buf bytes.Buffer
		if err := Encode(&buf, small, PNG, 0); err != nil {
			t.Fatal(err)
		}
	})
}
