package main

import (
	"bytes"
	"image"
	_ "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"animegan/internal/ortest"
	"animegan/synth"
)

// TestTiles48MP is issue 15's target: a 48 MP photo (8000x6000, a
// synthetic scene encoded as JPEG) converts at full resolution
// (--max-size 0) under --mem-budget 2GiB with a peak RSS under 3 GB,
// measured by the kernel for the convert process (its rusage). The
// built-in model keeps it to a few minutes; the budget cannot hold the
// whole 8000x6000 inference (about 23 GiB by the calibrated cost), so
// --tile auto tiles it. Slow, so `make test-48mp` runs it
// (ANIMEGAN_TILES48=1), not `make test`.
func TestTiles48MP(t *testing.T) {
	if os.Getenv("ANIMEGAN_TILES48") == "" {
		t.Skip("set ANIMEGAN_TILES48=1 (make test-48mp): converts a 48 MP photo")
	}
	ortest.Init(t)
	const w, h, limit = 8000, 6000, 3_000_000_000
	dir := t.TempDir()
	src := filepath.Join(dir, "photo48.jpg")
	func() {
		data, err := synth.EncodeJPEG(synth.Scene(48, w, h), 90, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}()

	out := filepath.Join(dir, "out")
	cmd := exec.Command(binary, "convert", src, "-o", out, "--max-size", "0", "--mem-budget", "2GiB", "--json", "-v")
	cmd.Env = append(cleanEnv(), "ONNXRUNTIME_LIB="+ortest.LibraryPath(), "XDG_CACHE_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	peakOf := measurePeak(t, cmd) // the child's own peak: not the scene's memory
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	took := time.Since(start)
	peak := peakOf()

	sum := parseJSON[tileSummary](t, stdout.String())
	if sum.Converted != 1 || len(sum.Tiled) != 1 || sum.Tiled[0].Width != w || sum.Tiled[0].Height != h {
		t.Fatalf("summary %+v, tiled %+v: want the photo converted as tiles at 8000x6000\n%s", sum.jsonSummary, sum.Tiled, stderr.String())
	}
	f, err := os.Open(filepath.Join(out, "photo48.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != w || cfg.Height != h {
		t.Fatalf("output %dx%d, want the full resolution %dx%d", cfg.Width, cfg.Height, w, h)
	}
	ti := sum.Tiled[0]
	t.Logf("48 MP at --max-size 0 --mem-budget 2GiB: %d tiles of %d px (overlap %d, %d at once), %s, peak RSS %.2f GB (limit %.0f GB)",
		ti.Tiles, ti.Tile, ti.Overlap, ti.Workers, took.Round(time.Second), float64(peak)/1e9, float64(limit)/1e9)
	if peak >= limit {
		t.Fatalf("peak RSS %.2f GB, want under %.0f GB\n%s", float64(peak)/1e9, float64(limit)/1e9, stderr.String())
	}
}
