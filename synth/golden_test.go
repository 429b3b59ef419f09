package synth

import (
	"bytes"
	"flag"
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the demo photos in ../testdata/photos")

const photoDir = "../testdata/photos"

// TestDemoPhotos regenerates every demo photo in memory and compares it with
// the committed file byte for byte (-update rewrites them). Rendering uses
// floating point; on amd64 (without FMA fusion) the bytes are exact. On other
// architectures the compiler may fuse multiply-adds, so there the decoded
// pixels are compared with a small tolerance instead.
func TestDemoPhotos(t *testing.T) {
	photos := DemoPhotos
	if raceEnabled && !*update {
		photos = []Photo{DemoPhotos[4], DemoPhotos[7]} // smallest ones
	}
	total := 0
	for _, p := range photos {
		t.Run(p.Name, func(t *testing.T) {
			got, err := p.Render()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(photoDir, p.Name)
			if *update {
				if err := os.MkdirAll(photoDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d bytes)", path, len(got))
				total += len(got)
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./synth -update to create it)", err)
			}
			if bytes.Equal(got, want) {
				return
			}
			if runtime.GOARCH == "amd64" && !fmaAllowed {
				t.Fatalf("%s differs from the regenerated photo (%d vs %d bytes); run go test ./synth -update if the change is intended", path, len(want), len(got))
			}
			if d := pixelDiff(t, got, want); d > 3 {
				t.Fatalf("%s: mean pixel difference %.2f", path, d)
			}
		})
	}
	if *update {
		t.Logf("total %d bytes", total)
	}
}

func pixelDiff(t *testing.T, a, b []byte) float64 {
	t.Helper()
	ia, _, err := image.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	ib, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if ia.Bounds() != ib.Bounds() {
		t.Fatalf("sizes differ: %v %v", ia.Bounds(), ib.Bounds())
	}
	na, nb := image.NewNRGBA(ia.Bounds()), image.NewNRGBA(ib.Bounds())
	draw.Draw(na, na.Rect, ia, ia.Bounds().Min, draw.Src)
	draw.Draw(nb, nb.Rect, ib, ib.Bounds().Min, draw.Src)
	sum := 0
	for i := range na.Pix {
		d := int(na.Pix[i]) - int(nb.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(na.Pix))
}
