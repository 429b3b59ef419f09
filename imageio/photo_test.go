package imageio

import (
	"bytes"
	"image"
	"sync"
	"testing"

	"animegan/synth"
)

// The JPEG tests run on a photo-like picture the tests render themselves
// (package synth), not on photographs: every file in the repository is the
// project's own. synth does not import imageio, so this is no import cycle.
const (
	// Seed 22 is a lakeside village: sky and clouds, mountains, houses with
	// windows, trees, people and grass, so there are hard edges and texture
	// at every scale the tests decode to.
	testPhotoSeed = 22
	// Neither side a multiple of 8 or 16: the last block column and row,
	// and the last 4:2:0 MCU, are partial.
	testPhotoW, testPhotoH = 501, 333
	testPhotoQuality       = 90
)

// photoFixture is one encoding of the test picture.
type photoFixture struct {
	name        string
	progressive bool                   // SOF2, written by libjpeg-turbo; else SOF0 by image/jpeg
	encode      func() ([]byte, error) // once per test binary
}

var testScene = sync.OnceValue(func() *image.NRGBA {
	return synth.Scene(testPhotoSeed, testPhotoW, testPhotoH)
})

// testPhotos are the same picture as a baseline and a progressive 4:2:0
// JPEG. The progressive one exists only where libjpeg-turbo is linked in
// (progressiveAvailable): image/jpeg cannot write one.
var testPhotos = []photoFixture{
	{"scene-501x333.jpg", false, sync.OnceValues(func() ([]byte, error) {
		return synth.EncodeJPEG(testScene(), testPhotoQuality, 0)
	})},
	{"scene-501x333-progressive.jpg", true, sync.OnceValues(func() ([]byte, error) {
		return encodeProgressive(testScene(), testPhotoQuality)
	})},
}

// available says whether this build can make p.
func (p photoFixture) available() bool { return !p.progressive || progressiveAvailable }

// testPhoto is the content of the JPEG file p, a copy the caller may keep
// and change. It skips the test for a progressive fixture in builds without
// libjpeg-turbo.
func testPhoto(t testing.TB, p photoFixture) []byte {
	t.Helper()
	if !p.available() {
		t.Skipf("%s: progressive JPEGs are written with libjpeg-turbo, which this build (no cgo or nolibjpeg) lacks", p.name)
	}
	data, err := p.encode()
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	return bytes.Clone(data)
}

// TestPhotoFixtures checks that the fixtures are what the JPEG tests rely
// on: the right size and coding, the same picture, and enough detail for a
// misalignment of one pixel to show in their PSNR comparisons.
func TestPhotoFixtures(t *testing.T) {
	for _, photo := range testPhotos {
		t.Run(photo.name, func(t *testing.T) {
			data := testPhoto(t, photo)
			sof, samp := jpegFrame(t, data)
			wantSOF := byte(0xC0)
			if photo.progressive {
				wantSOF = 0xC2
			}
			if sof != wantSOF || !bytes.Equal(samp, []byte{0x22, 0x11, 0x11}) {
				t.Errorf("frame SOF%d sampling % x, want SOF%d 4:2:0", sof-0xC0, samp, wantSOF-0xC0)
			}
			img := stdDecode(t, data)
			if img.Rect != image.Rect(0, 0, testPhotoW, testPhotoH) {
				t.Fatalf("decoded %v, want %dx%d", img.Rect, testPhotoW, testPhotoH)
			}
			// Measured 34.5 dB for both: the scene's sensor noise is what
			// quality 90 keeps least of.
			if p := psnr(t, testScene(), img); p < 33 {
				t.Errorf("PSNR %.1f dB against the rendered scene", p)
			}
			// Measured 27.6 dB shifted by a pixel across, 28.2 down: well
			// under the floors of the aligned comparisons (37 dB and up).
			// A smoother picture would let misaligned decodes pass.
			w, h := testPhotoW-1, testPhotoH-1
			a := img.SubImage(image.Rect(0, 0, w, h)).(*image.NRGBA)
			for _, d := range []image.Point{{1, 0}, {0, 1}} {
				b := img.SubImage(image.Rect(d.X, d.Y, d.X+w, d.Y+h)).(*image.NRGBA)
				if p := psnr(t, a, b); p > 31 {
					t.Errorf("shifted by %v: PSNR %.1f dB, too smooth a picture to catch misalignment", d, p)
				}
			}
		})
	}
}
