package main

import (
	"os"
	"path/filepath"
	"testing"

	"animegan/internal/ortest"
)

// TestProfileLevelTimeout: a level that --level-timeout cuts off before
// three measurement windows (here at most two fit: windows last at least
// 1 s and the 2.5 s include start-up) is reported as a timeout, with no
// throughput, and the sweep still exits 0.
func TestProfileLevelTimeout(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	js := filepath.Join(t.TempDir(), "p.json")
	r := animegan(t, nil, "profile", in, "--sweep", "1", "--max-size", "32", "--window", "1s",
		"--level-timeout", "2500ms", "--json", js)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	res := parseJSON[struct {
		Levels []struct {
			Status  string  `json:"status"`
			Error   string  `json:"error"`
			IPS     float64 `json:"images_per_second"`
			Windows []any   `json:"windows"`
		} `json:"levels"`
		Recommended int `json:"recommended_jobs"`
	}](t, string(data))
	if len(res.Levels) != 1 {
		t.Fatalf("levels: %s", data)
	}
	l := res.Levels[0]
	if l.Status != "timeout" || l.IPS != 0 || len(l.Windows) >= 3 || l.Error == "" || res.Recommended != 0 {
		t.Errorf("level cut off after %d windows: status %q, %v img/s, error %q, recommended -j %d; want a timeout with no throughput",
			len(l.Windows), l.Status, l.IPS, l.Error, res.Recommended)
	}
}
