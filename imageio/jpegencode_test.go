package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"testing"
)

// jpegFrame reads the frame header of a JPEG: its SOF marker (0xC0 for
// baseline) and each component's sampling factors (0x22 is 2x2).
func jpegFrame(t testing.TB, data []byte) (sof byte, sampling []byte) {
	t.Helper()
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		m := data[i+1]
		n := int(data[i+2])<<8 | int(data[i+3])
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			seg := data[i+4 : i+2+n]
			for c := 0; c < int(seg[5]); c++ {
				sampling = append(sampling, seg[6+3*c+1])
			}
			return m, sampling
		}
		i += 2 + n
	}
	t.Fatal("no frame header")
	return 0, nil
}

// encodeSources are the pictures the JPEG encoder tests run on.
func encodeSources(t testing.TB) []struct {
	name string
	img  *image.NRGBA
} {
	photo := stdDecode(t, testPhoto(t, testPhotos[0]))
	return []struct {
		name string
		img  *image.NRGBA
	}{
		{"photo", photo},
		// Not at the origin, rows longer than the picture.
		{"photo crop", photo.SubImage(image.Rect(13, 7, 13+301, 7+201)).(*image.NRGBA)},
		{"gradient", gradient(257, 129)},
		{"noise", noisyImage(128, 96, 4)},
		{"odd 17x9", noisyImage(17, 9, 5)},
		{"1x1", uniform(1, 1, color.NRGBA{10, 200, 90, 255})},
	}
}

// TestEncodeJPEGLikeStdlib checks the JPEG Encode writes (libjpeg-turbo
// when linked in) against image/jpeg's at the same quality: baseline 4:2:0,
// readable by image/jpeg, as close to the source, about as big.
func TestEncodeJPEGLikeStdlib(t *testing.T) {
	for _, src := range encodeSources(t) {
		for _, q := range []int{1, 25, 50, 75, 90, 100} {
			t.Run(fmt.Sprintf("%s/q%d", src.name, q), func(t *testing.T) {
				t.Parallel() // encoders running at once share no state
				var got, std bytes.Buffer
				if err := Encode(&got, src.img, JPEG, q); err != nil {
					t.Fatal(err)
				}
				if err := writeJPEGStd(&std, src.img, q); err != nil {
					t.Fatal(err)
				}
				if sof, samp := jpegFrame(t, got.Bytes()); sof != 0xC0 || !bytes.Equal(samp, []byte{0x22, 0x11, 0x11}) {
					t.Errorf("frame SOF%d sampling % x, want baseline 4:2:0", sof-0xC0, samp)
				}
				back := stdDecode(t, got.Bytes())
				if back.Rect.Size() != src.img.Rect.Size() {
					t.Fatalf("decoded %v, want %v", back.Rect, src.img.Rect)
				}
				// Measured: within 0.4 dB of image/jpeg either way (the
				// photo at q90, -0.36), and 29-59 dB from quality 75 up.
				p, ps := psnr(t, src.img, back), psnr(t, src.img, stdDecode(t, std.Bytes()))
				if p < ps-0.5 || q >= 75 && p < 28 {
					t.Errorf("PSNR %.2f dB, image/jpeg's %.2f dB", p, ps)
				}
				// Measured: -2% to +6%; libjpeg adds a 34-byte JFIF header
				// and the like, which counts on tiny pictures.
				if d := got.Len() - std.Len(); d > std.Len()/10+64 || -d > std.Len()/10 {
					t.Errorf("%d bytes, image/jpeg writes %d", got.Len(), std.Len())
				}
			})
		}
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestEncodeJPEGWriteError(t *testing.T) {
	diskErr := errors.New("disk full")
	err := Encode(failingWriter{diskErr}, gradient(40, 30), JPEG, 90)
	if !errors.Is(err, diskErr) {
		t.Fatalf("error %v, want one wrapping %v", err, diskErr)
	}
}

// TestEncodeJPEGPastLibjpegLimit: libjpeg refuses sides over 65500 that
// image/jpeg still writes; Encode then uses image/jpeg.
func TestEncodeJPEGPastLibjpegLimit(t *testing.T) {
	img := uniform(65501, 1, color.NRGBA{50, 100, 150, 255})
	var buf bytes.Buffer
	if err := Encode(&buf, img, JPEG, 90); err != nil {
		t.Fatal(err)
	}
	if back := stdDecode(t, buf.Bytes()); back.Rect.Size() != image.Pt(65501, 1) {
		t.Fatalf("decoded %v", back.Rect)
	}
}
