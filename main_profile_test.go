package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"animegan/internal/ortest"
)

// TestProfileSweep runs `animegan profile --sweep 1,2` through the built
// binary on two tiny photos: each level in its own child process, the
// report on stdout, the JSON file read back.
func TestProfileSweep(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	pngFile(t, filepath.Join(in, "b.png"), 24, 32)
	out := t.TempDir()
	js, csvPath, svg := filepath.Join(out, "p.json"), filepath.Join(out, "p.csv"), filepath.Join(out, "p.svg")

	r := animegan(t, nil, "profile", in, "--sweep", "1,2", "--max-size", "32", "--window", "100ms",
		"--max-windows", "4", "--json", js, "--csv", csvPath, "--plot", svg, "--metadata", "strip")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"jobs", "← plateau", "animegan convert " + in + " -j ", "--max-size 32", "--metadata strip"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Levels []struct {
			Jobs   int     `json:"jobs"`
			IPS    float64 `json:"images_per_second"`
			RSS    uint64  `json:"rss_peak_bytes"`
			Status string  `json:"status"`
			Failed int     `json:"failed"`
		} `json:"levels"`
		Plateau     int  `json:"plateau_jobs"`
		Pressure    *int `json:"pressure_jobs"`
		Recommended int  `json:"recommended_jobs"`
		Settings    struct {
			Metadata string `json:"metadata"`
			Colour   string `json:"color"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Levels) != 2 || res.Levels[0].Jobs != 1 || res.Levels[1].Jobs != 2 {
		t.Fatalf("levels %+v", res.Levels)
	}
	// convert's flags reach profile through the shared group.
	if res.Settings.Metadata != "strip" || res.Settings.Colour != "srgb" {
		t.Errorf("settings metadata %q, color %q; want strip, srgb", res.Settings.Metadata, res.Settings.Colour)
	}
	for _, l := range res.Levels {
		if l.IPS <= 0 || l.RSS == 0 || l.Failed != 0 || (l.Status != "ok" && l.Status != "unstable") {
			t.Errorf("level %+v", l)
		}
	}
	if res.Plateau < 1 || res.Recommended < 1 {
		t.Errorf("plateau %d, recommended %d", res.Plateau, res.Recommended)
	}
	for _, p := range []string{csvPath, svg} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestProfileUsageErrors(t *testing.T) {
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 8, 8)
	for _, args := range [][]string{
		{"profile", in, "--sweep", "0..4"},
		{"profile", in, "--mem-limit", "lots"},
		{"profile", in, "--plot", "x.pdf"},
		{"profile", in, "--metadata", "bogus"}, // convert's flags, read as convert reads them
		{"profile", in, "--color", "bogus"},
		{"profile"},
		{"profile", t.TempDir()}, // no photos
	} {
		if r := animegan(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}

// sweepJSON is the part of a profile --json result the tests read.
type sweepJSON struct {
	Levels []struct {
		Jobs   int     `json:"jobs"`
		IPS    float64 `json:"images_per_second"`
		Spread float64 `json:"images_per_second_spread"`
		RSS    uint64  `json:"rss_peak_bytes"`
		Status string  `json:"status"`
	} `json:"levels"`
	Stopped     string `json:"stopped"`
	Recommended int    `json:"recommended_jobs"`
	Baseline    *struct {
		Regressed    []int `json:"regressed_jobs"`
		OnlyBaseline []int `json:"only_in_baseline"`
	} `json:"baseline"`
}

// jobsSummary is the part of convert's --json summary -j auto fills.
type jobsSummary struct {
	Settings struct {
		Jobs     struct{ Infer int } `json:"jobs"`
		JobsFrom string              `json:"jobs_from"`
	} `json:"settings"`
}

func readSweep(t *testing.T, path string) (sweepJSON, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s sweepJSON
	var raw map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return s, raw
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProfileBaselineAndJobsAuto runs one small sweep through the built
// binary and builds on it: --baseline against edited copies of its --json
// (a regression named and exit 1, levels only in one run reported, an
// incomparable baseline refused with exit 2), and convert -j auto, which
// finds the sweep in the cache folder only for the same settings.
func TestProfileBaselineAndJobsAuto(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	pngFile(t, filepath.Join(in, "b.png"), 24, 32)
	dir, cache := t.TempDir(), t.TempDir()
	env := []string{"XDG_CACHE_HOME=" + cache}
	sweep := []string{"profile", in, "--sweep", "1,2", "--max-size", "32", "--window", "100ms", "--max-windows", "4"}
	run := func(extra ...string) result {
		return animegan(t, env, append(slices.Clone(sweep), extra...)...)
	}

	// convert -j auto before any profile: the core-count default, and why.
	r := animegan(t, env, "convert", in, "-o", filepath.Join(dir, "out0"), "-j", "auto", "--max-size", "32", "--json")
	if r.code != 0 {
		t.Fatalf("convert -j auto: exit %d\n%s", r.code, r.stderr)
	}
	sum := parseJSON[jobsSummary](t, r.stdout)
	if !strings.Contains(sum.Settings.JobsFrom, "no profile for this model and settings") || !strings.Contains(sum.Settings.JobsFrom, "core-count default") {
		t.Errorf("jobs_from without a profile: %q", sum.Settings.JobsFrom)
	}

	base := filepath.Join(dir, "base.json")
	if r := run("--json", base); r.code != 0 {
		t.Fatalf("profile: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s, raw := readSweep(t, base)
	if len(s.Levels) != 2 || s.Recommended < 1 {
		t.Fatalf("sweep %+v", s)
	}
	saved, _ := filepath.Glob(filepath.Join(cache, "animegan", "profile-*.json"))
	if len(saved) != 1 {
		t.Fatalf("cache holds %v, want one result", saved)
	}

	t.Run("jobs auto", func(t *testing.T) {
		r := animegan(t, env, "convert", in, "-o", filepath.Join(dir, "out1"), "-j", "auto", "--max-size", "32", "--json", "--verbose")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		sum = parseJSON[jobsSummary](t, r.stdout)
		if sum.Settings.Jobs.Infer != s.Recommended || !strings.Contains(sum.Settings.JobsFrom, "matched") {
			t.Errorf("-j auto used %d workers (%q); the profile recommends %d", sum.Settings.Jobs.Infer, sum.Settings.JobsFrom, s.Recommended)
		}
		if !strings.Contains(r.stderr, "workers from: profile of ") {
			t.Errorf("--verbose does not say where the workers came from:\n%s", r.stderr)
		}
		// Another --max-size costs something else: the profile does not hold.
		r = animegan(t, env, "convert", in, "-o", filepath.Join(dir, "out2"), "-j", "auto", "--max-size", "64", "--json")
		sum = parseJSON[jobsSummary](t, r.stdout)
		if r.code != 0 || !strings.Contains(sum.Settings.JobsFrom, "no profile for this model and settings") {
			t.Errorf("--max-size 64: exit %d, jobs_from %q", r.code, sum.Settings.JobsFrom)
		}
	})

	t.Run("baseline", func(t *testing.T) {
		// An edited baseline: -j 1 was 100x faster (now a regression),
		// -j 2 100x slower with 10x the RSS (now fine), and a level 8 this
		// run does not have.
		levels := raw["levels"].([]any)
		l1, l2 := levels[0].(map[string]any), levels[1].(map[string]any)
		l1["images_per_second"] = l1["images_per_second"].(float64) * 100
		l2["images_per_second"] = l2["images_per_second"].(float64) / 100
		l2["rss_peak_bytes"] = l2["rss_peak_bytes"].(float64) * 10
		l8 := maps.Clone(l2)
		l8["jobs"] = 8
		raw["levels"] = append(levels, l8)
		edited, out := filepath.Join(dir, "edited.json"), filepath.Join(dir, "now.json")
		writeJSONFile(t, edited, raw)
		r := run("--baseline", edited, "--max-regression", "10%", "--json", out)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"-j 1 REGRESSED: throughput fell", "-j 2 ok: throughput", "only in the baseline (not failed): -j 8", "Regressed at -j 1."} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("report lacks %q:\n%s", want, r.stdout)
			}
		}
		if !strings.Contains(r.stderr, "regressed against "+edited+" at -j 1") {
			t.Errorf("stderr: %s", r.stderr)
		}
		now, _ := readSweep(t, out)
		if now.Baseline == nil || !slices.Equal(now.Baseline.Regressed, []int{1}) || !slices.Equal(now.Baseline.OnlyBaseline, []int{8}) {
			t.Errorf("--json baseline %+v", now.Baseline)
		}

		// Another model's baseline is refused before any level runs.
		settings := raw["settings"].(map[string]any)
		settings["model_sha256"] = strings.Repeat("0", 64)
		writeJSONFile(t, edited, raw)
		r = run("--baseline", edited)
		if r.code != 2 || !strings.Contains(r.stderr, "the baseline measured something else: model SHA-256") || strings.Contains(r.stdout, "jobs") {
			t.Errorf("another model: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if r := run("--max-regression", "5%"); r.code != 2 {
			t.Errorf("--max-regression without --baseline: exit %d", r.code)
		}
	})
}

// TestProfileSweepEnds: a memory budget that admits one inference at a
// time holds every worker past the first back, so `--sweep 1..4` ends
// after -j 2 and says why; --full runs every level.
func TestProfileSweepEnds(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	out := t.TempDir()
	args := []string{"profile", in, "--sweep", "1..3", "--max-size", "1024", "--mem-budget", "64MiB", "--window", "100ms", "--max-windows", "3"}
	for _, tc := range []struct {
		full   bool
		levels int
	}{{false, 2}, {true, 3}} {
		js := filepath.Join(out, fmt.Sprintf("full-%t.json", tc.full))
		a := append(slices.Clone(args), "--json", js)
		if tc.full {
			a = append(a, "--full")
		}
		r := animegan(t, nil, a...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		s, _ := readSweep(t, js)
		if len(s.Levels) != tc.levels {
			t.Errorf("--full=%t: %d levels, want %d (stopped: %q)", tc.full, len(s.Levels), tc.levels, s.Stopped)
		}
		if !tc.full && (!strings.Contains(s.Stopped, "the memory budget lets 1 inferences run at once") || !strings.Contains(r.stdout, "Sweep stopped: the memory budget")) {
			t.Errorf("stopped %q\n%s", s.Stopped, r.stdout)
		}
	}
}

// TestHelpShowsNewFlags: the flags of the gate, the sweep's end and -j auto
// are in --help.
func TestHelpShowsNewFlags(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"profile": {"--baseline PREV.json", "--max-regression", "--full", "--mem-budget", "--threads"},
		"convert": {"or auto: the -j the latest matching animegan profile recommends", "--mem-budget", "--max-size"},
	} {
		r := animegan(t, nil, cmd, "--help")
		for _, f := range flags {
			if !strings.Contains(r.stdout, f) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, f, r.stdout)
			}
		}
	}
}
