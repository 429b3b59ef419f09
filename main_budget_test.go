package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
)

// v2Model writes the AnimeGANv2 architecture (seeded weights) made by
// modelgen: a model whose memory grows with pixels as a real one's does.
func v2Model(t *testing.T, dir string) string {
	t.Helper()
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "animeganv2.onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBudgetRefusesTooLarge: with --tile off, an image whose inference the
// whole budget cannot hold is never started (--tile auto tiles it instead:
// TestTiles). It fails with one line naming the need,
// the budget and a --max-size that fits by the run's own cost model; the
// small image beside it converts; exit 1; the failure is in --json.
func TestBudgetRefusesTooLarge(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	mdl := v2Model(t, dir)
	in := filepath.Join(dir, "in")
	big, small := filepath.Join(in, "big.png"), filepath.Join(in, "small.png")
	pngFile(t, big, 3000, 2000)
	pngFile(t, small, 64, 48)
	out := filepath.Join(dir, "out")
	const budget = 512 << 20
	r := animegan(t, nil, "convert", in, "-o", out, "-m", mdl, "--max-size", "0", "--mem-budget", "512MiB", "--tile", "off", "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	line := regexp.MustCompile(`(?m)^FAIL ` + regexp.QuoteMeta(big) + `: needs about ([0-9.]+) GiB for a 3000x2000 inference, budget 512 MiB: use --max-size (\d+) or less$`)
	m := line.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no refusal line for %s:\n%s", big, r.stderr)
	}
	var sum struct {
		jsonSummary
		Budget struct {
			Limit     int64   `json:"limit_bytes"`
			Base      int64   `json:"cost_base_bytes"`
			PerPixel  float64 `json:"cost_per_pixel_bytes"`
			Source    string  `json:"cost_source"`
			PeakCount int     `json:"peak_admitted"`
		} `json:"memory_budget"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if sum.Converted != 1 || sum.Failed != 1 || len(sum.Failures) != 1 || sum.Failures[0].Input != big ||
		!strings.HasPrefix(sum.Failures[0].Error, "needs about ") {
		t.Fatalf("summary %+v", sum.jsonSummary)
	}
	if _, err := os.Stat(filepath.Join(out, "small.png")); err != nil {
		t.Fatal("the small image was not converted:", err)
	}
	if _, err := os.Stat(filepath.Join(out, "big.png")); err == nil {
		t.Fatal("the refused image has an output")
	}
	b := sum.Budget
	if b.Limit != budget || b.Source != "calibrated" || b.PerPixel <= 0 || b.PeakCount != 1 {
		t.Fatalf("budget %+v: want the 512 MiB budget, a calibrated cost, one inference admitted (the small one)", b)
	}
	cost := func(w, h int) int64 { return b.Base + int64(b.PerPixel*float64(w*h)) }
	gib := float64(cost(3000, 2000)) / (1 << 30)
	want := fmt.Sprintf("%.1f", gib)
	if gib >= 10 {
		want = fmt.Sprintf("%.0f", gib)
	}
	if want != m[1] {
		t.Errorf("says %s GiB, the cost model gives %.2f GiB", m[1], gib)
	}
	// The suggestion fits by the same estimate, on the size convert would
	// feed the model at that --max-size.
	side, _ := strconv.Atoi(m[2])
	spec := &model.Spec{Multiple: model.DefaultMultiple}
	g, err := spec.Fit(3000, 2000, side)
	if err != nil {
		t.Fatal(err)
	}
	if side%model.DefaultMultiple != 0 || side < 64 || cost(g.ModelW, g.ModelH) > budget {
		t.Fatalf("--max-size %d (%dx%d, about %d MiB) does not fit the %d MiB budget", side, g.ModelW, g.ModelH, cost(g.ModelW, g.ModelH)>>20, budget>>20)
	}
}

// TestProfileRefusesTooLarge: profile drives convert's engine, so a level
// whose images the budget cannot hold reports them failed, with the
// reason, instead of running (or crashing) them.
func TestProfileRefusesTooLarge(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	js := filepath.Join(t.TempDir(), "p.json")
	r := animegan(t, nil, "profile", in, "--sweep", "1", "--max-size", "32", "--window", "100ms",
		"--max-windows", "3", "--mem-budget", "1MiB", "--json", js)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Levels []struct {
			Status, Error string
			Images        int `json:"images"`
		} `json:"levels"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Levels) != 1 || res.Levels[0].Status != "failed" || res.Levels[0].Images != 0 ||
		!strings.Contains(res.Levels[0].Error, "needs about") || !strings.Contains(res.Levels[0].Error, "raise --mem-budget") {
		t.Fatalf("levels %+v: want a failed level naming the budget's refusal", res.Levels)
	}
}

// TestAllocationFailure: when ONNX Runtime cannot get memory for an
// inference (here: the address space is capped with RLIMIT_AS, as
// `ulimit -v` does, and the budget is off), that image fails with ONNX
// Runtime's error, the batch goes on, and the process ends with its
// summary and exit 1, not a signal. The cap is raised from 2 GiB until the
// process can start at all (ONNX Runtime's and Go's start-up address space
// varies with the machine), never past 4 GiB; the 3000x2000 inference
// needs far more.
func TestAllocationFailure(t *testing.T) {
	ortest.Init(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set the limit with")
	}
	dir := t.TempDir()
	mdl := v2Model(t, dir)
	in := filepath.Join(dir, "in")
	big, small := filepath.Join(in, "b-big.png"), filepath.Join(in, "a-small.png")
	pngFile(t, big, 3000, 2000)
	pngFile(t, small, 64, 48)
	for limit := 2 << 20; limit <= 4<<20; limit += 512 << 10 { // KiB, as ulimit -v counts
		out := filepath.Join(dir, fmt.Sprint("out-", limit))
		cmd, stdout, stderr := child(t, dir, "convert", in, "-o", out, "-m", mdl, "-j", "1:1:1", "--threads", "1",
			"--max-size", "0", "--mem-budget", "off", "--json")
		cmd.Args = append([]string{"sh", "-c", fmt.Sprintf(`ulimit -v %d && exec "$0" "$@"`, limit), cmd.Path}, cmd.Args[1:]...)
		cmd.Path = sh
		code := exitCodeOf(t, cmd.Run())
		if code == 2 && (strings.Contains(stderr.String(), "pthread_create failed") || strings.Contains(stderr.String(), "out of memory")) {
			t.Logf("ulimit -v %d: too little to start (%s)", limit, firstLine(stderr.String()))
			continue // too little for start-up or for Go's own buffers: more
		}
		if code != 1 {
			t.Fatalf("ulimit -v %d: exit %d, want 1\n%s", limit, code, stderr)
		}
		sum := parseSummary(t, stdout.String())
		if sum.Converted != 1 || sum.Failed != 1 || sum.Failures[0].Input != big ||
			!strings.Contains(stderr.String(), "FAIL "+big+": inference at 3000x2000 failed: ") ||
			!strings.Contains(stderr.String(), "converted 1, skipped 0, failed 1") {
			t.Fatalf("ulimit -v %d: summary %+v\n%s", limit, sum, stderr)
		}
		t.Logf("ulimit -v %d: %s", limit, sum.Failures[0].Error)
		return
	}
	t.Skip("the process could not start under 4 GiB of address space here")
}

// TestResizeCrashRefused: an inference over the size at which ONNX
// Runtime's Resize kernel would crash (the 6000x4000 SIGSEGV of issue 11)
// is refused before it starts with --tile off, even with the budget off,
// and the batch goes on. 4160x4100 is 17.1 megapixels, just over the AnimeGANv2
// architecture's 16.9.
func TestResizeCrashRefused(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	mdl := v2Model(t, dir)
	in := filepath.Join(dir, "in")
	big, small := filepath.Join(in, "big.png"), filepath.Join(in, "small.png")
	pngFile(t, big, 4160, 4100)
	pngFile(t, small, 64, 48)
	r := animegan(t, nil, "convert", in, "-o", filepath.Join(dir, "out"), "-m", mdl, "--max-size", "0", "--mem-budget", "off", "--tile", "off", "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	want := "FAIL " + big + ": a 4160x4096 inference would crash ONNX Runtime (its Resize kernel overflows with this model above 16.9 megapixels): use --max-size 4144 or less"
	if !strings.Contains(r.stderr, want+"\n") {
		t.Fatalf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if sum := parseSummary(t, r.stdout); sum.Converted != 1 || sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	// inspect says where the limit is.
	r = animegan(t, nil, "inspect", mdl)
	if want := "16,909,320 pixels per inference"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("inspect (exit %d) lacks %q:\n%s", r.code, want, r.stdout)
	}
}
