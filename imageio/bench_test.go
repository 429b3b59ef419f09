package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchJPEG returns an ~8 MP JPEG: a real photo from $ANIMEGAN_BENCH_JPEG
// when set (never committed), else a synthetic noisy gradient.
func benchJPEG(b *testing.B) []byte {
	if p := os.Getenv("ANIMEGAN_BENCH_JPEG"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	img := noisyImage(3840, 2160, 1)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func noisyImage(w, h int, seed int64) *image.NRGBA {
	rng := rand.New(rand.NewSource(seed))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			n := rng.Intn(32)
			img.Pix[i] = uint8(x*200/w + n)
			img.Pix[i+1] = uint8(y*200/h + n)
			img.Pix[i+2] = uint8((x+y)*100/(w+h) + n)
			img.Pix[i+3] = 255
		}
	}
	return img
}

func BenchmarkDecodeJPEG8MP(b *testing.B) {
	data := benchJPEG(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data), DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdlibJPEG8MP is the image/jpeg decode alone, for comparison.
func BenchmarkStdlibJPEG8MP(b *testing.B) {
	data := benchJPEG(b)
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResize4000x3000To512(b *testing.B) {
	src := noisyImage(4000, 3000, 2)
	for b.Loop() {
		Resize(src, 512, 384)
	}
}

func BenchmarkResize4000x3000To512Alpha(b *testing.B) {
	src := noisyImage(4000, 3000, 2)
	src.Pix[3] = 0
	for b.Loop() {
		Resize(src, 512, 384)
	}
}

func BenchmarkEncodeJPEG512(b *testing.B) {
	src := Resize(noisyImage(2048, 1536, 3), 512, 384)
	for b.Loop() {
		if err := Encode(io.Discard, src, JPEG, 90); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePNG512(b *testing.B) {
	src := Resize(noisyImage(2048, 1536, 3), 512, 384)
	for b.Loop() {
		if err := Encode(io.Discard, src, PNG, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPhotos returns the JPEGs of the photo benchmarks: every *.jpg in the
// directory $ANIMEGAN_BENCH_PHOTOS when set (real camera files, never
// committed), else the generated test photos this build can make.
func benchPhotos(b *testing.B) [][]byte {
	dir := os.Getenv("ANIMEGAN_BENCH_PHOTOS")
	if dir == "" {
		var photos [][]byte
		for _, p := range testPhotos {
			if p.available() {
				photos = append(photos, testPhoto(b, p))
			}
		}
		return photos
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(names) == 0 {
		b.Fatalf("no *.jpg in %s (%v)", dir, err)
	}
	photos := make([][]byte, len(names))
	for i, n := range names {
		if photos[i], err = os.ReadFile(n); err != nil {
			b.Fatal(err)
		}
	}
	return photos
}

// fitLongSide is the size convert asks Shrink for (model.Spec.Fit): the
// long side brought down to maxSide, aspect ratio kept, never enlarged.
func fitLongSide(w, h, maxSide int) (int, int) {
	long := max(w, h)
	if long <= maxSide {
		return w, h
	}
	s := float64(maxSide) / float64(long)
	return max(1, int(float64(w)*s+0.5)), max(1, int(float64(h)*s+0.5))
}

// cpuMeter reports the CPU time of a benchmark's loop per op, next to its
// wall time.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	t, ok := processCPU()
	return cpuMeter{t, ok}
}

// report adds cpu-ms/op, and cpu-ms/photo when perOp photos are done in
// every op. Call it right after the loop.
func (m cpuMeter) report(b *testing.B, perOp int) {
	end, ok := processCPU()
	if !m.ok || !ok || b.N == 0 {
		return
	}
	ms := float64(end-m.start) / float64(time.Millisecond) / float64(b.N)
	b.ReportMetric(ms, "cpu-ms/op")
	if perOp > 1 {
		b.ReportMetric(ms/float64(perOp), "cpu-ms/photo")
	}
}

// BenchmarkDecodeResizePhotos is what convert does before inference: decode
// every photo, shrunk as far as the long-side target allows, then resize to
// the target. One op is the whole set.
func BenchmarkDecodeResizePhotos(b *testing.B) {
	photos := benchPhotos(b)
	for _, maxSide := range []int{512, 256} {
		b.Run(fmt.Sprintf("max%d", maxSide), func(b *testing.B) {
			shrink := DecodeOptions{Shrink: func(w, h int) (int, int) { return fitLongSide(w, h, maxSide) }}
			cpu := startCPU()
			for b.Loop() {
				for _, data := range photos {
					img, err := Decode(bytes.NewReader(data), shrink)
					if err != nil {
						b.Fatal(err)
					}
					w, h := img.Size()
					w, h = fitLongSide(w, h, maxSide)
					Resize(img.Pixels, w, h)
				}
			}
			cpu.report(b, len(photos))
		})
	}
}

// benchResult is one of benchPhotos resized to w x h, the size of a converted
// result: the first photo at least that big, else the biggest one.
func benchResult(b *testing.B, w, h int) *image.NRGBA {
	var best *image.NRGBA
	for _, data := range benchPhotos(b) {
		img, err := Decode(bytes.NewReader(data), DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		r := img.Pixels.Rect
		if r.Dx() >= w && r.Dy() >= h {
			best = img.Pixels
			break
		}
		if best == nil || r.Dx()*r.Dy() > best.Rect.Dx()*best.Rect.Dy() {
			best = img.Pixels
		}
	}
	return Resize(best, w, h)
}

// BenchmarkEncodeResultJPEG encodes results of the sizes convert writes at
// --max-size 512 and 256, at the default quality, with each JPEG encoder
// this build has.
func BenchmarkEncodeResultJPEG(b *testing.B) {
	encoders := []struct {
		name  string
		write func(io.Writer, *image.NRGBA, int) error
	}{{"stdlib", writeJPEGStd}}
	if libjpegEncoder {
		encoders = append(encoders, struct {
			name  string
			write func(io.Writer, *image.NRGBA, int) error
		}{"libjpeg", writeJPEG})
	}
	for _, sz := range []image.Point{{512, 341}, {256, 171}} {
		src := benchResult(b, sz.X, sz.Y)
		for _, enc := range encoders {
			b.Run(fmt.Sprintf("%dx%d/%s", sz.X, sz.Y, enc.name), func(b *testing.B) {
				cpu := startCPU()
				for b.Loop() {
					if err := enc.write(io.Discard, src, DefaultJPEGQuality); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b, 1)
			})
		}
	}
}

// BenchmarkDecodeJPEGScale decodes one JPEG (benchJPEG) with image/jpeg,
// and with libjpeg-turbo at every scale M/8.
func BenchmarkDecodeJPEGScale(b *testing.B) {
	data := benchJPEG(b)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stdlib", func(b *testing.B) {
		cpu := startCPU()
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b, 1)
	})
	if !scaledJPEGAvailable {
		return
	}
	for num := 1; num <= 8; num++ {
		b.Run(fmt.Sprintf("libjpeg-%d-8", num), func(b *testing.B) {
			cpu := startCPU()
			for b.Loop() {
				if _, ok := decodeJPEGScaled(data, image.Pt(cfg.Width, cfg.Height), num); !ok {
					b.Fatal("libjpeg refused the file")
				}
			}
			cpu.report(b, 1)
		})
	}
}
