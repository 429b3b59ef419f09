package imageio

import (
	"bytes"
	"image"
	"image/jpeg"
	"io"
	"math/rand"
	"os"
	"testing"
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
