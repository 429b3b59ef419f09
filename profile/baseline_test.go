package profile

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	// at builds a measured level: img/s ± spread and peak RSS in MiB.
	at := func(jobs int, ips, spread float64, rssMiB uint64) Level {
		l := lv(jobs, ips, true, rssMiB<<20)
		l.Spread = spread
		return l
	}
	tests := []struct {
		name      string
		base, cur []Level
		regressed []int
		onlyBase  []int
		onlyRun   []int
		finding   string // in the first level's findings
	}{
		{
			name: "same figures",
			base: []Level{at(1, 1.0, 0.05, 600), at(2, 1.9, 0.05, 1000)},
			cur:  []Level{at(1, 1.0, 0.05, 600), at(2, 1.9, 0.05, 1000)},
		},
		{
			name: "a 30% fall is a regression",
			base: []Level{at(1, 1.0, 0.02, 600)}, cur: []Level{at(1, 0.7, 0.02, 600)},
			regressed: []int{1}, finding: "throughput fell 30%",
		},
		{
			// 1.0 ± 0.05 against 0.8 ± 0.1: the current best window (0.9) is
			// above 90% of the baseline's worst (0.95 × 0.9 = 0.855).
			name: "a fall within the spreads is not",
			base: []Level{at(1, 1.0, 0.05, 600)}, cur: []Level{at(1, 0.8, 0.1, 600)},
			finding: "within",
		},
		{
			// 0.84 + 0.01 = 0.85 < 0.855: just beyond.
			name: "just beyond the spreads",
			base: []Level{at(1, 1.0, 0.05, 600)}, cur: []Level{at(1, 0.84, 0.01, 600)},
			regressed: []int{1},
		},
		{
			name: "faster is fine",
			base: []Level{at(1, 1.0, 0.05, 600)}, cur: []Level{at(1, 2.0, 0.05, 600)},
		},
		{
			name: "peak RSS up 20%",
			base: []Level{at(1, 1.0, 0.05, 1000)}, cur: []Level{at(1, 1.0, 0.05, 1200)},
			regressed: []int{1}, finding: "peak RSS rose 20%",
		},
		{
			name: "peak RSS up 8%: within",
			base: []Level{at(1, 1.0, 0.05, 1000)}, cur: []Level{at(1, 1.0, 0.05, 1080)},
		},
		{
			name: "measured before, nothing now",
			base: []Level{at(1, 1.0, 0.05, 600)}, cur: []Level{{Jobs: 1, Status: StatusOOMKilled}},
			regressed: []int{1}, finding: "measured nothing (oom-killed)",
		},
		{
			name: "nothing measured in the baseline: not compared",
			base: []Level{{Jobs: 1, Status: StatusTimeout}}, cur: []Level{at(1, 0.1, 0, 600)},
			finding: "the baseline level measured nothing",
		},
		{
			name:      "levels in one run only are listed, not failed",
			base:      []Level{at(1, 1.0, 0.05, 600), at(2, 1.9, 0.05, 1000), at(8, 1.5, 0.05, 3000)},
			cur:       []Level{at(2, 1.0, 0.05, 1000), at(1, 1.0, 0.05, 600), at(4, 1.8, 0.1, 2000)},
			regressed: []int{2}, onlyBase: []int{8}, onlyRun: []int{4},
		},
		{
			name:      "every regressed level is named",
			base:      []Level{at(1, 1.0, 0.05, 600), at(2, 1.9, 0.05, 1000), at(3, 1.9, 0.05, 1400)},
			cur:       []Level{at(1, 0.5, 0.05, 600), at(2, 1.9, 0.05, 1000), at(3, 1.9, 0.05, 2000)},
			regressed: []int{1, 3},
		},
	}
	for _, tc := range tests {
		b := Compare(&Result{Levels: tc.base}, &Result{Levels: tc.cur}, 0.10)
		if !slices.Equal(b.Regressed, tc.regressed) || !slices.Equal(b.OnlyBaseline, tc.onlyBase) || !slices.Equal(b.OnlyRun, tc.onlyRun) {
			t.Errorf("%s: regressed %v, only baseline %v, only run %v; want %v, %v, %v",
				tc.name, b.Regressed, b.OnlyBaseline, b.OnlyRun, tc.regressed, tc.onlyBase, tc.onlyRun)
		}
		if tc.finding != "" && (len(b.Levels) == 0 || !strings.Contains(strings.Join(b.Levels[0].Findings, "; "), tc.finding)) {
			t.Errorf("%s: findings %v lack %q", tc.name, b.Levels, tc.finding)
		}
		var out bytes.Buffer
		if err := WriteBaseline(&out, b); err != nil {
			t.Fatal(err)
		}
		if len(tc.regressed) > 0 != strings.Contains(out.String(), "REGRESSED") {
			t.Errorf("%s: report\n%s", tc.name, out.String())
		}
	}
}

func TestCheckComparable(t *testing.T) {
	base := &Result{Cores: 2, CPUModel: "Xeon", Memory: Memory{Limit: 4 << 30},
		Settings: Settings{ModelSHA256: "aa", MaxSide: 512, Format: "keep", Quality: 92, Photos: 30}, Levels: []Level{lv(1, 1, true, gib)}}
	m := Machine{CPUModel: "Xeon", Cores: 2}
	same := base.Settings
	tests := []struct {
		name    string
		mod     func(*Settings, *Machine)
		limit   uint64
		refuse  string
		warning string
	}{
		{name: "same", mod: func(*Settings, *Machine) {}, limit: 4 << 30},
		{name: "another model", mod: func(s *Settings, _ *Machine) { s.ModelSHA256 = "bb" }, limit: 4 << 30, refuse: "model SHA-256 aa, now bb"},
		{name: "another size", mod: func(s *Settings, _ *Machine) { s.MaxSide = 1024 }, limit: 4 << 30, refuse: "--max-size 512, now 1024"},
		{name: "another budget", mod: func(s *Settings, _ *Machine) { s.MemBudget = -1 }, limit: 4 << 30, refuse: "--mem-budget default, now off"},
		{name: "another threads", mod: func(s *Settings, _ *Machine) { s.Threads = 1 }, limit: 4 << 30, refuse: "--threads 0, now 1"},
		{name: "another CPU", mod: func(_ *Settings, m *Machine) { m.CPUModel = "EPYC" }, limit: 4 << 30, refuse: `CPU "Xeon", now "EPYC"`},
		{name: "more cores", mod: func(_ *Settings, m *Machine) { m.Cores = 4 }, limit: 4 << 30, refuse: "cores 2, now 4"},
		{name: "another memory limit: a warning", mod: func(*Settings, *Machine) {}, limit: 8 << 30, warning: "the memory limit differs"},
		{name: "fewer photos: a warning", mod: func(s *Settings, _ *Machine) { s.Photos = 3 }, limit: 4 << 30, warning: "the number of photos differs"},
	}
	for _, tc := range tests {
		s, mm := same, m
		tc.mod(&s, &mm)
		warnings, err := CheckComparable(base, s, mm, tc.limit)
		if (err != nil) != (tc.refuse != "") || (err != nil && !strings.Contains(err.Error(), tc.refuse)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.refuse)
		}
		if got := strings.Join(warnings, "; "); (tc.warning == "") != (got == "") || !strings.Contains(got, tc.warning) {
			t.Errorf("%s: warnings %q, want %q", tc.name, got, tc.warning)
		}
	}
	old := *base
	old.Settings.ModelSHA256 = ""
	if _, err := CheckComparable(&old, same, m, 4<<30); err == nil {
		t.Error("a baseline without a model SHA-256 was accepted")
	}
}

func TestParseRegressionAndReadResult(t *testing.T) {
	for in, want := range map[string]float64{"10%": 0.10, "10": 0.10, "0.05": 0.05, "2.5%": 0.025, "0": 0} {
		if got, err := ParseRegression(in); err != nil || abs(got-want) > 1e-12 {
			t.Errorf("ParseRegression(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ten", "-5%", "100%", "150"} {
		if _, err := ParseRegression(in); err == nil {
			t.Errorf("ParseRegression(%q) accepted", in)
		}
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	f, _ := os.Create(good)
	if err := WriteJSON(f, recorded()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.WriteFile(bad, []byte(`{"levels": []}`), 0o644)
	if r, err := ReadResult(good); err != nil || len(r.Levels) != 4 {
		t.Errorf("ReadResult: %v, %v", r, err)
	}
	for _, p := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := ReadResult(p); err == nil {
			t.Errorf("ReadResult(%s) accepted", p)
		}
	}
}
