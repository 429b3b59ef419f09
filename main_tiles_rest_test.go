package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"animegan/convert"
	"animegan/internal/ortest"
	"animegan/modelgen"
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

// journalRecords reads an output folder's journal by output name (the last
// record of each wins, as a re-run reads it).
func journalRecords(t *testing.T, out string) map[string]convert.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, convert.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	recs := make(map[string]convert.Record)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r convert.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		recs[r.Output] = r
	}
	return recs
}

// TestTileResumeAcrossSettings: the journal records how each output was
// made (whole, or as tiles with which --tile settings and tiles), and a
// re-run compares that with its own --tile flags. Under --tile auto, a
// photo the first run's budget could not hold whole was made as tiles: a
// re-run with a larger budget keeps it and says how it was made; --tile
// off remakes that one alone (the photo made whole stays done); an output
// made whole is never remade for --tile N (tiles would only approximate
// it); another --tile-overlap remakes an output made as tiles.
func TestTileResumeAcrossSettings(t *testing.T) {
	ortest.Init(t)
	in := filepath.Join(t.TempDir(), "in")
	big, small := filepath.Join(in, "big.png"), filepath.Join(in, "small.png")
	scenePNG(t, big, 12, 1200, 800)
	scenePNG(t, small, 13, 200, 150)
	out := filepath.Join(t.TempDir(), "out")
	type planEntry struct {
		Input, Action, Reason string
		Tiled                 *struct{ Tile, Tiles int }
	}
	run := func(args ...string) (tileSummary, map[string]planEntry, string) {
		t.Helper()
		r := animegan(t, nil, append([]string{"convert", in, "-o", out, "--max-size", "0", "--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		plan := make(map[string]planEntry)
		for _, e := range parseJSON[struct{ Plan []planEntry }](t, r.stdout).Plan {
			plan[filepath.Base(e.Input)] = e
		}
		return parseJSON[tileSummary](t, r.stdout), plan, r.stderr
	}
	check := func(step string, sum tileSummary, converted, skipped int, stderr string) {
		t.Helper()
		if sum.Converted != converted || sum.Skipped != skipped || sum.Failed != 0 {
			t.Fatalf("%s: %+v; want converted %d, skipped %d\n%s", step, sum.jsonSummary, converted, skipped, stderr)
		}
	}

	// 256 MiB cannot hold the whole 1200x800 inference (about 0.5 GB): auto tiles it.
	sum, _, stderr := run("--mem-budget", "256MiB")
	check("auto, 256 MiB", sum, 2, 0, stderr)
	if len(sum.Tiled) != 1 || sum.Tiled[0].Input != big {
		t.Fatalf("tiled %+v: want the big photo alone as tiles", sum.Tiled)
	}
	recs := journalRecords(t, out)
	if r := recs["big.png"]; r.Tiling != "tile=auto|overlap=model" || r.Tiled == nil || r.Tiled.Tiles != sum.Tiled[0].Tiles || r.Tiled.Input != big {
		t.Fatalf("journal record of the tiled photo %+v: want its tiling and tiles", r)
	}
	if r := recs["small.png"]; r.Tiling != convert.TilingWhole || r.Tiled != nil {
		t.Fatalf("journal record of the photo made whole %+v", r)
	}

	// A budget that holds it whole: the output made as tiles is still
	// --tile auto's, and the plan says how it was made.
	_, plan, stderr := run("--mem-budget", "4GiB", "--dry-run")
	if e := plan["big.png"]; e.Action != "skip" || e.Tiled == nil || e.Tiled.Tiles != sum.Tiled[0].Tiles || !strings.Contains(e.Reason, "made as ") {
		t.Fatalf("dry run, auto, 4 GiB: big photo %+v: want skipped, saying it was made as tiles\n%s", e, stderr)
	}
	sum, _, stderr = run("--mem-budget", "4GiB")
	check("auto, 4 GiB", sum, 0, 2, stderr)

	// --tile off remakes the output made as tiles, and only that one.
	_, plan, stderr = run("--tile", "off", "--dry-run")
	if e := plan["big.png"]; e.Action != "convert" || !regexp.MustCompile(`^made as \d+ tiles of \d+ px \(overlap \d+\) with --tile auto, not with --tile off$`).MatchString(e.Reason) {
		t.Fatalf("dry run, --tile off: big photo %+v: want converted, naming the tiles\n%s", e, stderr)
	}
	if e := plan["small.png"]; e.Action != "skip" {
		t.Fatalf("dry run, --tile off: small photo %+v: want skipped (made whole)\n%s", e, stderr)
	}
	sum, _, stderr = run("--tile", "off")
	check("--tile off", sum, 1, 1, stderr)
	if r := journalRecords(t, out)["big.png"]; r.Tiling != convert.TilingWhole || r.Tiled != nil {
		t.Fatalf("journal record of the photo remade whole %+v", r)
	}

	// Outputs made whole stay done under --tile N, and say why.
	_, plan, stderr = run("--tile", "256", "--dry-run")
	if e := plan["big.png"]; e.Action != "skip" || !strings.Contains(e.Reason, "made whole") {
		t.Fatalf("dry run, --tile 256: big photo %+v: want skipped as made whole\n%s", e, stderr)
	}

	// Made as tiles with --tile 256: another overlap remakes it.
	sum, _, stderr = run("--tile", "256", "--overwrite")
	check("--tile 256 --overwrite", sum, 2, 0, stderr)
	sum, _, stderr = run("--tile", "256")
	check("--tile 256 again", sum, 0, 2, stderr)
	sum, _, stderr = run("--tile", "256", "--tile-overlap", "16")
	check("--tile 256 --tile-overlap 16", sum, 1, 1, stderr)
	if r := journalRecords(t, out)["big.png"]; r.Tiling != "tile=256|overlap=16" || r.Tiled == nil || r.Tiled.Overlap != 16 {
		t.Fatalf("journal record %+v: want --tile 256 --tile-overlap 16's tiles", r)
	}
}

// TestTileDryRunRunsNoModel: a dry run under --tile auto, where the run
// would calibrate the model's memory (two inferences of the AnimeGANv2
// architecture, a few hundred MB), runs no model: the child's peak RSS
// stays that of a process that read the model (about 50 MB here; 255 MB
// when it calibrated; measurePeak), the plan still says which photo would run as
// tiles, and each such line and the --json plan say it is an estimate.
func TestTileDryRunRunsNoModel(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	mdl := v2Model(t, dir)
	in := filepath.Join(dir, "in")
	big, small := filepath.Join(in, "big.png"), filepath.Join(in, "small.png")
	pngFile(t, big, 3000, 2000)
	pngFile(t, small, 200, 150)
	out := filepath.Join(dir, "out")
	args := []string{"convert", in, "-o", out, "-m", mdl, "--max-size", "0", "--mem-budget", "1GiB", "--dry-run", "-v"}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(cleanEnv(), "ONNXRUNTIME_LIB="+ortest.LibraryPath(), "XDG_CACHE_HOME="+t.TempDir())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	peakOf := measurePeak(t, cmd)
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	const limit = 150 << 20
	peak := peakOf()
	t.Logf("dry run peak RSS %.0f MB", float64(peak)/1e6)
	if peak > limit {
		t.Errorf("dry run peak RSS %.0f MB, want under %d MB: it ran the model\n%s", float64(peak)/1e6, limit>>20, stderr.String())
	}
	if !strings.Contains(stderr.String(), "dry run: memory per inference assumed at") {
		t.Errorf("--verbose does not say the memory is assumed:\n%s", stderr.String())
	}
	if !regexp.MustCompile(`(?m)^convert ` + regexp.QuoteMeta(big) + ` → .*as \d+ tiles of .*\(estimated: a dry run does not calibrate`).MatchString(stdout.String()) {
		t.Errorf("the big photo's plan line does not give estimated tiles:\n%s", stdout.String())
	}
	if !regexp.MustCompile(`(?m)^convert ` + regexp.QuoteMeta(small) + ` → .*\(no earlier output\)$`).MatchString(stdout.String()) {
		t.Errorf("the small photo should run whole:\n%s", stdout.String())
	}
	r := animegan(t, nil, append(args[:len(args)-1], "--json")...)
	plan := parseJSON[struct {
		Plan []struct {
			Input     string
			Estimated bool
			Tiled     *struct{ Tiles int }
		}
	}](t, r.stdout).Plan
	if len(plan) != 2 || plan[0].Input != big || plan[0].Tiled == nil || !plan[0].Estimated || plan[1].Tiled != nil || plan[1].Estimated {
		t.Errorf("--json plan %+v: want the big photo's tiles marked estimated, the small one whole", plan)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a dry run made the output folder")
	}
}

// TestProfileTileFlags: profile checks --tile and --tile-overlap against
// the model as convert does, before any level runs: exit 2 naming the
// reason, no level measured, nothing saved for convert -j auto (each
// level would otherwise fail alike and the sweep end with exit 0 and
// nothing measured).
func TestProfileTileFlags(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	scenePNG(t, filepath.Join(in, "a.png"), 4, 320, 240)
	fixed := writeModel(t, dir, modelgen.FixtureSpec{Kind: modelgen.SwapInvert, Height: 64, Width: 64})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not a multiple", []string{"--tile", "100"}, "--tile 100: must be a multiple of the model's 8"},
		{"a fixed-size model", []string{"--tile", "64", "-m", fixed}, "--tile 64: the model takes only 64x64 images, it cannot be tiled"},
		{"a model that cannot be tiled", []string{"--tile", "256", "-m", gapModel(t, dir)}, "GlobalAveragePool"},
		{"tile within the model's overlap", []string{"--tile", "64", "-m", v2Model(t, dir)}, "--tile 64: the model's tiles overlap by 48 px"},
		{"overlap of half the tile", []string{"--tile", "64", "--tile-overlap", "32"}, "--tile-overlap 32: must be less than half the tile (64)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			args := append([]string{"profile", in, "--sweep", "1", "--max-size", "0", "--window", "100ms", "--max-windows", "3"}, tc.args...)
			r := animegan(t, []string{"XDG_CACHE_HOME=" + cache}, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 2 and %q\nstdout %s\nstderr %s", r.code, tc.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "profiling ") || r.stdout != "" {
				t.Errorf("the sweep started:\nstdout %s\nstderr %s", r.stdout, r.stderr)
			}
			if saved, _ := filepath.Glob(filepath.Join(cache, "animegan", "*")); len(saved) != 0 {
				t.Errorf("saved %v for convert -j auto", saved)
			}
		})
	}
}
