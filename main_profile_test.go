package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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
		"--max-windows", "4", "--json", js, "--csv", csvPath, "--plot", svg)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"jobs", "← plateau", "animegan convert " + in + " -j ", "--max-size 32"} {
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
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Levels) != 2 || res.Levels[0].Jobs != 1 || res.Levels[1].Jobs != 2 {
		t.Fatalf("levels %+v", res.Levels)
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
		{"profile"},
		{"profile", t.TempDir()}, // no photos
	} {
		if r := animegan(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}
