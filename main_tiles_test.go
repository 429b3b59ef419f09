package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"animegan/internal/ortest"
	"animegan/internal/testhook"
	"animegan/onnxgraph"
	"animegan/optimize"
	"animegan/synth"
)

// tileSummary is the part of convert's --json summary about tiles.
type tileSummary struct {
	jsonSummary
	Settings struct {
		Tile        string `json:"tile"`
		TileOverlap string `json:"tile_overlap"`
	} `json:"settings"`
	Tiled []struct {
		Input                               string
		Tile, Overlap, Tiles, Width, Height int
		Mode, Why, Thumbnail                string
		Workers                             int
	} `json:"tiled"`
}

// scenePNG writes a synthetic photo (synth.Scene: sky, ground, objects,
// texture) as a PNG, so results can be compared pixel for pixel.
func scenePNG(t *testing.T, path string, seed int64, w, h int) {
	t.Helper()
	writePNG(t, path, synth.Scene(seed, w, h))
}

func readNRGBA(t *testing.T, path string) *image.NRGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := image.NewNRGBA(img.Bounds())
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out
}

// TestTiles: images run as tiles through the built binary with the
// built-in model, which has no global operation and so tiles exactly up to
// its receptive field. Each case converts one synthetic photo and checks
// the exit status, the summary's tiling record, the output's size and its
// PSNR from the same photo converted whole (--tile off, budget off).
func TestTiles(t *testing.T) {
	ortest.Init(t)
	const w, h = 1200, 800
	src := filepath.Join(t.TempDir(), "in", "photo.png")
	scenePNG(t, src, 11, w, h)
	refDir := filepath.Join(t.TempDir(), "ref")
	if r := animegan(t, nil, "convert", src, "-o", refDir, "--max-size", "0", "--mem-budget", "off", "--tile", "off", "-q"); r.code != 0 {
		t.Fatalf("untiled reference: exit %d\n%s", r.code, r.stderr)
	}
	ref := readNRGBA(t, filepath.Join(refDir, "photo.png"))

	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantTiled bool
		wantTile  int     // 0: any
		minPSNR   float64 // from the untiled result
		maxPSNR   float64 // 0: no upper bound
		workers   int     // tile sessions at once; 0: any
		stderr    string  // a regexp stderr must match
	}{
		// The whole inference needs about 0.5 GB with the built-in model
		// (calibrated); 256 MiB cannot hold it, so auto tiles it.
		{name: "over the budget: auto tiles it", args: []string{"--mem-budget", "256MiB"}, wantTiled: true, minPSNR: 60},
		{name: "over the budget, --tile off: refused as before", args: []string{"--mem-budget", "256MiB", "--tile", "off"},
			wantCode: 1, stderr: `FAIL .*photo\.png: needs about .* for a 1200x800 inference, budget 256 MiB: use --max-size \d+ or less`},
		{name: "fits: auto runs it whole", args: []string{"--mem-budget", "4GiB"}, minPSNR: 99},
		{name: "--tile 256 on an image that fits", args: []string{"--tile", "256", "-j", "1"}, wantTiled: true, wantTile: 256, minPSNR: 60, workers: 1},
		{name: "--tile 256, -j 2: tiles on two sessions", args: []string{"--tile", "256", "-j", "2"}, wantTiled: true, wantTile: 256, minPSNR: 60, workers: 2},
		// 400 px tiles cover 1200x800 with no overlap at all: the model's
		// receptive field is cut at every tile edge, and the tiles differ
		// from the whole run along them.
		{name: "--tile-overlap 0: naive tiles, worse", args: []string{"--tile", "400", "--tile-overlap", "0"}, wantTiled: true, wantTile: 400, minPSNR: 30, maxPSNR: 55},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"convert", src, "-o", out, "--max-size", "0", "--json", "-v"}, tc.args...)
			r := animegan(t, nil, args...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.wantCode, r.stderr)
			}
			if tc.stderr != "" && !regexp.MustCompile(tc.stderr).MatchString(r.stderr) {
				t.Fatalf("stderr does not match %q:\n%s", tc.stderr, r.stderr)
			}
			sum := parseJSON[tileSummary](t, r.stdout)
			if tiled := len(sum.Tiled) == 1; tiled != tc.wantTiled {
				t.Fatalf("tiled %+v, want tiled %t\n%s", sum.Tiled, tc.wantTiled, r.stderr)
			}
			if tc.wantTiled {
				ti := sum.Tiled[0]
				if ti.Input != src || ti.Tiles < 2 || ti.Width != w || ti.Height != h || (tc.wantTile > 0 && ti.Tile != tc.wantTile) || ti.Mode != "exact" || (tc.workers > 0 && ti.Workers != tc.workers) {
					t.Fatalf("tiling record %+v", ti)
				}
				if !strings.Contains(r.stderr, "tiled "+src+": ") {
					t.Errorf("--verbose does not say the image was tiled:\n%s", r.stderr)
				}
			}
			if tc.wantCode != 0 {
				if _, err := os.Stat(filepath.Join(out, "photo.png")); err == nil {
					t.Fatal("a refused image has an output")
				}
				return
			}
			got := readNRGBA(t, filepath.Join(out, "photo.png"))
			if got.Rect != ref.Rect {
				t.Fatalf("output %v, want the full resolution %v", got.Rect, ref.Rect)
			}
			p := optimize.PSNR(got, ref)
			t.Logf("PSNR from the untiled result: %.1f dB", p)
			if p < tc.minPSNR || (tc.maxPSNR > 0 && p > tc.maxPSNR) {
				t.Fatalf("PSNR %.1f dB from the untiled result, want %.0f to %.0f", p, tc.minPSNR, tc.maxPSNR)
			}
		})
	}
}

// TestTileFlags: --tile and --tile-overlap values no run can use are
// usage errors (exit 2) naming the flag, before anything is written.
func TestTileFlags(t *testing.T) {
	ortest.Init(t)
	src := filepath.Join(t.TempDir(), "a.png")
	pngFile(t, src, 64, 48)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--tile", "100"}, "--tile 100: must be a multiple of the model's 8"},
		{[]string{"--tile", "big"}, `--tile "big": want auto, off (or 0), or a tile side in pixels`},
		{[]string{"--tile", "-8"}, `--tile "-8"`},
		{[]string{"--tile-overlap", "-1"}, "--tile-overlap -1: must be 0 or more pixels"},
		{[]string{"--tile", "64", "--tile-overlap", "32"}, "--tile-overlap 32: must be less than half the tile (64)"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			r := animegan(t, nil, append([]string{"convert", src, "-o", out}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", r.code, tc.want, r.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("the output folder was made")
			}
		})
	}
	// The environment sets them too.
	out := filepath.Join(t.TempDir(), "out")
	r := animegan(t, []string{"ANIMEGAN_TILE=12"}, "convert", src, "-o", out)
	if r.code != 2 || !strings.Contains(r.stderr, "--tile 12: must be a multiple") {
		t.Fatalf("ANIMEGAN_TILE=12: exit %d\n%s", r.code, r.stderr)
	}
}

// TestTileTimeout: --timeout is per image and covers all its tiles: each
// 64 px tile takes milliseconds, the hundreds of them far longer than the
// timeout, so the image fails naming the timeout and how many tiles were
// done, and leaves no output.
func TestTileTimeout(t *testing.T) {
	ortest.Init(t)
	src := filepath.Join(t.TempDir(), "big.png")
	scenePNG(t, src, 3, 2048, 1536)
	out := filepath.Join(t.TempDir(), "out")
	r := animegan(t, nil, "convert", src, "-o", out, "--max-size", "0", "--tile", "64", "--timeout", "500ms", "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	m := regexp.MustCompile(`inference timed out after 500ms \(--timeout\) with (\d+) of (\d+) tiles done`).FindStringSubmatch(r.stderr)
	if m == nil || m[1] == m[2] {
		t.Fatalf("no timeout across tiles in:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "big.png")); err == nil {
		t.Fatal("a timed-out image has an output")
	}
}

// TestTileResume: an output made from tiles is journalled like any other,
// so a re-run with the same flags skips it; another --tile makes other
// pixels, so it converts again. The JSON log's done event says how the
// image was tiled.
func TestTileResume(t *testing.T) {
	ortest.Init(t)
	src := filepath.Join(t.TempDir(), "in", "photo.png")
	scenePNG(t, src, 5, 640, 480)
	out := filepath.Join(t.TempDir(), "out")
	for i, tc := range []struct {
		tile               string
		converted, skipped int
	}{{"256", 1, 0}, {"256", 0, 1}, {"320", 1, 0}} {
		r := animegan(t, nil, "convert", src, "-o", out, "--max-size", "0", "--tile", tc.tile, "--json", "--log-format", "json")
		sum := parseJSON[tileSummary](t, r.stdout)
		if r.code != 0 || sum.Converted != tc.converted || sum.Skipped != tc.skipped {
			t.Fatalf("run %d (--tile %s): exit %d, %+v; want converted %d, skipped %d\n%s", i+1, tc.tile, r.code, sum.jsonSummary, tc.converted, tc.skipped, r.stderr)
		}
		if tc.converted == 0 {
			continue
		}
		var done struct {
			Event string
			Tiled *struct{ Tile, Tiles int }
		}
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if err := json.Unmarshal([]byte(line), &done); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if done.Event == "done" {
				break
			}
		}
		if done.Event != "done" || done.Tiled == nil || fmt.Sprint(done.Tiled.Tile) != tc.tile || done.Tiled.Tiles < 2 {
			t.Fatalf("run %d: the done event %+v does not say how the image was tiled\n%s", i+1, done, r.stderr)
		}
	}
}

// gapModel is a model with a global operation no rewrite knows: the
// picture minus its GlobalAveragePool (its mean colour), so every output
// pixel depends on the whole image.
func gapModel(t *testing.T, dir string) string {
	t.Helper()
	g := onnxgraph.NewGraph("gap")
	shape := []onnxgraph.Dimension{onnxgraph.Sym("N"), onnxgraph.Dim(3), onnxgraph.Sym("H"), onnxgraph.Sym("W")}
	x := g.Input("input", onnxgraph.Float, shape...)
	mean := g.Op("GlobalAveragePool", []string{x})
	g.Output(g.Op("Sub", []string{x, mean}), "output", onnxgraph.Float, shape...)
	data, err := onnxgraph.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "gap.onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTileRefusedModel: a model the tile rewrite refuses still runs whole
// where the budget holds it; an image that would need tiles fails with the
// budget's refusal and the operation that prevents tiling; --tile N is a
// setup error naming it.
func TestTileRefusedModel(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	mdl := gapModel(t, dir)
	in := filepath.Join(dir, "in")
	big, small := filepath.Join(in, "big.png"), filepath.Join(in, "small.png")
	scenePNG(t, big, 1, 1600, 1200)
	scenePNG(t, small, 2, 64, 48)
	out := filepath.Join(dir, "out")
	r := animegan(t, nil, "convert", in, "-o", out, "-m", mdl, "--max-size", "0", "--mem-budget", "64MiB", "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	sum := parseJSON[tileSummary](t, r.stdout)
	if sum.Converted != 1 || sum.Failed != 1 || sum.Failures[0].Input != big || len(sum.Tiled) != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if e := sum.Failures[0].Error; !strings.Contains(e, "needs about") || !strings.Contains(e, "tiles cannot help") || !strings.Contains(e, "GlobalAveragePool") {
		t.Fatalf("failure %q: want the budget's refusal and the operation that prevents tiling", e)
	}
	r = animegan(t, nil, "convert", small, "-o", filepath.Join(dir, "out2"), "-m", mdl, "--tile", "256")
	if r.code != 2 || !strings.Contains(r.stderr, "GlobalAveragePool") {
		t.Fatalf("--tile 256 with a model that cannot be tiled: exit %d, want 2 naming the operation\n%s", r.code, r.stderr)
	}
}

// TestTilesThumbnailStatistics: the AnimeGANv2 architecture normalises
// over the whole image (24 GroupNorm(1)), so its tiles run the rewritten
// tile model with the statistics of a thumbnail of the whole image,
// computed first. Here the thumbnail is the image itself (it is under
// 1024 px and the budget holds it), so the statistics are exact and what
// is left between tiled and whole is the tiles' padding; the summary says
// which thumbnail was used.
func TestTilesThumbnailStatistics(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	mdl := v2Model(t, dir)
	src := filepath.Join(dir, "in", "photo.png")
	scenePNG(t, src, 8, 256, 192)
	ref := filepath.Join(dir, "ref")
	if r := animegan(t, nil, "convert", src, "-o", ref, "-m", mdl, "--max-size", "0", "--tile", "off", "-q"); r.code != 0 {
		t.Fatalf("untiled reference: exit %d\n%s", r.code, r.stderr)
	}
	whole := readNRGBA(t, filepath.Join(ref, "photo.png"))
	for _, tc := range []struct {
		name    string
		args    []string
		minPSNR float64
	}{
		// 4 tiles; the default overlap is the traced receptive field, 48 px.
		{"--tile 160", []string{"--tile", "160"}, 38},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			r := animegan(t, nil, append([]string{"convert", src, "-o", out, "-m", mdl, "--max-size", "0", "--json"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			sum := parseJSON[tileSummary](t, r.stdout)
			if len(sum.Tiled) != 1 || sum.Tiled[0].Mode != "thumbnail statistics" || sum.Tiled[0].Thumbnail != "256x192" || sum.Tiled[0].Tiles < 2 {
				t.Fatalf("tiled %+v: want thumbnail statistics from the whole 256x192 image", sum.Tiled)
			}
			p := optimize.PSNR(readNRGBA(t, filepath.Join(out, "photo.png")), whole)
			t.Logf("%s: %d tiles of %d px, PSNR from the untiled result %.1f dB", tc.name, sum.Tiled[0].Tiles, sum.Tiled[0].Tile, p)
			if p < tc.minPSNR {
				t.Fatalf("PSNR %.1f dB from the untiled result, want at least %.0f", p, tc.minPSNR)
			}
		})
	}
}

// TestTileInterrupt: SIGINT while an image runs as tiles (the process is
// held just after its first tile was blended) stops the run with 130 and
// leaves nothing of that image: no output, no temporary file, no journal
// record; a re-run converts it.
func TestTileInterrupt(t *testing.T) {
	ortest.Init(t)
	src := filepath.Join(t.TempDir(), "photo.png")
	pngFile(t, src, 640, 480)
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"convert", src, "-o", out, "--max-size", "0", "--tile", "128", "--json"}
	p := startHeld(t, "convert", []string{testhook.TileBlended}, args...)
	p.waitAt(t, testhook.TileBlended)
	must(t, p.cmd.Process.Signal(syscall.SIGINT))
	if !waitFor(func() bool { return strings.Contains(p.stderr.String(), "stopping") }, p.exited) {
		t.Fatalf("the signal was not handled:\n%s", p.stderr)
	}
	p.release(t, testhook.TileBlended)
	<-p.exited
	sum := parseSummary(t, p.stdout.String())
	if code := exitCodeOf(t, p.err); code != exitSIGINT || !sum.Interrupted || sum.Converted != 0 {
		t.Fatalf("exit %d, %+v: want %d, interrupted, nothing converted\n%s", code, sum, exitSIGINT, p.stderr)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if e.Name() != ".animegan-manifest.jsonl" {
			t.Fatalf("the output folder holds %s after the interrupted tiles", e.Name())
		}
	}
	if got := journalOutputs(t, filepath.Join(out, ".animegan-manifest.jsonl"), false); len(got) != 0 {
		t.Fatalf("journal records %v for an interrupted image", got)
	}
	if r := animegan(t, nil, args...); r.code != 0 || parseSummary(t, r.stdout).Converted != 1 {
		t.Fatalf("re-run: exit %d\n%s", r.code, r.stderr)
	}
}

// TestProfileTiles: profile's levels run convert's engine, so --tile makes
// them run their images as tiles, as convert would: the level says how
// many of its measured inferences were tiled, the settings record --tile,
// and the recommended command carries it.
func TestProfileTiles(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	scenePNG(t, filepath.Join(in, "a.png"), 4, 320, 240)
	js := filepath.Join(t.TempDir(), "p.json")
	r := animegan(t, nil, "profile", in, "--sweep", "1", "--max-size", "0", "--tile", "128", "--window", "100ms",
		"--max-windows", "3", "--json", js)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "--tile 128") {
		t.Errorf("the recommended command lacks --tile 128:\n%s", r.stdout)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	res := parseJSON[struct {
		Settings struct{ Tile, TileOverlap string } `json:"settings"`
		Levels   []struct {
			Status string
			Images int `json:"images"`
			Tiled  int `json:"tiled_images"`
		} `json:"levels"`
	}](t, string(data))
	if res.Settings.Tile != "128" || len(res.Levels) != 1 || res.Levels[0].Images == 0 || res.Levels[0].Tiled == 0 {
		t.Fatalf("settings %+v, levels %+v: want --tile 128 recorded and a level whose images ran as tiles", res.Settings, res.Levels)
	}
}

// TestTileDryRun: --dry-run says which photos would run as tiles and
// with what tile, from their headers, writing nothing: --tile N tiles the
// photo larger than the tile; auto tiles the one the budget cannot hold
// whole (by an assumed memory cost: TestTileDryRunRunsNoModel) and
// leaves the small one whole.
func TestTileDryRun(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	big, small := filepath.Join(in, "big.png"), filepath.Join(in, "small.png")
	pngFile(t, big, 3000, 2000)
	pngFile(t, small, 200, 150)
	for _, tc := range []struct {
		name string
		args []string
		line string // the big photo's plan line must match
	}{
		{"--tile 256", []string{"--tile", "256"}, `as \d+ tiles of 256 px \(overlap \d+\) over 3000x2000, exact; --tile 256\)`},
		// The whole 3000x2000 inference needs about 1.5-3 GB (0.25-0.5 KB a pixel, calibrated).
		{"auto over the budget", []string{"--mem-budget", "1GiB"}, `as \d+ tiles of \d+ px \(overlap \d+\) over 3000x2000, exact; --tile auto: needs about`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			r := animegan(t, nil, append([]string{"convert", in, "-o", out, "--max-size", "0", "--dry-run"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if !regexp.MustCompile(`(?m)^convert ` + regexp.QuoteMeta(big) + ` → .*` + tc.line).MatchString(r.stdout) {
				t.Errorf("plan lacks the big photo's tiles (%s):\n%s", tc.line, r.stdout)
			}
			if !regexp.MustCompile(`(?m)^convert ` + regexp.QuoteMeta(small) + ` → .*\(no earlier output\)$`).MatchString(r.stdout) {
				t.Errorf("the small photo should run whole:\n%s", r.stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a dry run made the output folder")
			}
		})
	}
}
