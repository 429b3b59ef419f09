package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"animegan/internal/ortest"
	"animegan/optimize"
	"animegan/synth"
)

// TestTilesInt8: the int8 models `animegan optimize` writes run as tiles
// end to end through the built binary: their QDQ pairs are per element, so
// the tile rewrite keeps them, and the tiled result is the same model's
// untiled one up to the tiles' own error. Two models: the built-in one
// (no global operation: exact tiles) and the AnimeGANv2 architecture (its
// GroupNorms take a thumbnail's statistics, here the whole image's).
func TestTilesInt8(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	must(t, os.Mkdir(photos, 0o755))
	for i := range 3 {
		b, err := synth.EncodeJPEG(synth.Scene(int64(20+i), 96, 72), 90, 0)
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.WriteFile(filepath.Join(photos, string(rune('a'+i))+".jpg"), b, 0o644))
	}
	builtin, err := os.ReadFile(filepath.Join("model", "builtin", "cartoon.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "cartoon.onnx"), builtin, 0o644))
	v2 := v2Model(t, dir)

	for _, tc := range []struct {
		name      string
		model     string
		w, h      int
		tile      string
		mode      string
		minPSNR   float64
		thumbnail string
	}{
		{"built-in", filepath.Join(dir, "cartoon.onnx"), 640, 480, "256", "exact", 60, ""},
		{"AnimeGANv2", v2, 256, 192, "160", "thumbnail statistics", 38, "256x192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := animegan(t, nil, "optimize", tc.model, "--calibrate", photos, "--samples", "2", "--max-size", "64")
			int8Path := strings.TrimSuffix(tc.model, ".onnx") + ".int8.onnx"
			if r.code != 0 || !strings.Contains(r.stdout, "wrote "+int8Path) {
				t.Fatalf("optimize: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			src := filepath.Join(t.TempDir(), "in", "photo.png")
			scenePNG(t, src, 9, tc.w, tc.h)
			ref := filepath.Join(t.TempDir(), "ref")
			if r := animegan(t, nil, "convert", src, "-o", ref, "-m", int8Path, "--max-size", "0", "--tile", "off", "--mem-budget", "off", "-q"); r.code != 0 {
				t.Fatalf("untiled int8: exit %d\n%s", r.code, r.stderr)
			}
			out := filepath.Join(t.TempDir(), "out")
			r = animegan(t, nil, "convert", src, "-o", out, "-m", int8Path, "--max-size", "0", "--tile", tc.tile, "--json", "--verbose")
			if r.code != 0 {
				t.Fatalf("tiled int8: exit %d\n%s", r.code, r.stderr)
			}
			sum := parseJSON[tileSummary](t, r.stdout)
			if sum.Converted != 1 || len(sum.Tiled) != 1 {
				t.Fatalf("summary %+v, tiled %+v: want one photo converted as tiles\n%s", sum.jsonSummary, sum.Tiled, r.stderr)
			}
			ti := sum.Tiled[0]
			if ti.Tiles < 2 || ti.Mode != tc.mode || ti.Thumbnail != tc.thumbnail || ti.Width != tc.w || ti.Height != tc.h {
				t.Fatalf("tiling record %+v: want %s tiles over %dx%d", ti, tc.mode, tc.w, tc.h)
			}
			if !strings.Contains(r.stderr, "tiled "+src+": ") {
				t.Errorf("--verbose does not say the image was tiled:\n%s", r.stderr)
			}
			whole := readNRGBA(t, filepath.Join(ref, "photo.png"))
			got := readNRGBA(t, filepath.Join(out, "photo.png"))
			if got.Rect != whole.Rect {
				t.Fatalf("output %v, want %v", got.Rect, whole.Rect)
			}
			p := optimize.PSNR(got, whole)
			t.Logf("int8 %s: %d tiles of %d px, PSNR from the untiled int8 result %.1f dB", tc.name, ti.Tiles, ti.Tile, p)
			if p < tc.minPSNR {
				t.Fatalf("PSNR %.1f dB from the untiled int8 result, want at least %.0f", p, tc.minPSNR)
			}
		})
	}
}
