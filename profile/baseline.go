package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxRegression is --max-regression's default: a level fails the
// gate when its throughput fell, or its peak RSS rose, by more than 10%
// (beyond the spreads, for throughput). Smaller drops are within what a
// shared CI machine varies by between runs.
const DefaultMaxRegression = 0.10

// Baseline is a sweep compared with an earlier one (--baseline).
type Baseline struct {
	File          string            `json:"file"`
	Started       time.Time         `json:"started"`        // when the baseline sweep ran
	MaxRegression float64           `json:"max_regression"` // a fraction: 0.1 = 10%
	Levels        []LevelComparison `json:"levels"`
	Regressed     []int             `json:"regressed_jobs"`   // the levels that fail the gate
	OnlyBaseline  []int             `json:"only_in_baseline"` // reported, never failed
	OnlyRun       []int             `json:"only_in_run"`
	Warnings      []string          `json:"warnings"`
}

// LevelComparison is one level present in both sweeps.
type LevelComparison struct {
	Jobs       int     `json:"jobs"`
	BaseIPS    float64 `json:"baseline_images_per_second"`
	BaseSpread float64 `json:"baseline_images_per_second_spread"`
	IPS        float64 `json:"images_per_second"`
	Spread     float64 `json:"images_per_second_spread"`
	BaseRSS    uint64  `json:"baseline_rss_peak_bytes"`
	RSS        uint64  `json:"rss_peak_bytes"`
	Compared   bool    `json:"compared"` // false: the baseline level measured nothing
	Regressed  bool    `json:"regressed"`
	// Findings say what was found, regressions first ("throughput fell
	// 21%: 1.40 ± 0.05 img/s against 1.77 ± 0.08, beyond the 10% and both
	// spreads").
	Findings []string `json:"findings"`
}

// ParseRegression reads --max-regression: "10%", "10" (percent) or
// "0.1" (a fraction, below 1).
func ParseRegression(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
	if err != nil {
		return 0, fmt.Errorf("--max-regression %q: want a percentage such as 10%%", s)
	}
	if pct || v >= 1 {
		v /= 100
	}
	if v < 0 || v >= 1 {
		return 0, fmt.Errorf("--max-regression %q: want 0%% to 99%%", s)
	}
	return v, nil
}

// ReadResult reads a sweep written by --json.
func ReadResult(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r Result
	if err := json.NewDecoder(io.LimitReader(f, 256<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: not a profile --json result: %w", path, err)
	}
	if len(r.Levels) == 0 {
		return nil, fmt.Errorf("%s: not a profile --json result: no levels", path)
	}
	return &r, nil
}

// CheckComparable says whether a sweep with settings s on machine m can be
// compared with base. It refuses (an error) when the two measure
// different work or run on different CPUs: the model (by SHA-256), the
// size, format, quality, threads and memory-budget settings, the CPU model
// and the core count must match, or a "regression" would only be the
// difference. Differences that change a level's memory story but not its
// work (the memory limit, the number of photos, windows and timeouts) are
// returned as warnings.
func CheckComparable(base *Result, s Settings, m Machine, memLimit uint64) (warnings []string, err error) {
	b := base.Settings
	var diffs []string
	differs := func(what string, was, now any) {
		if fmt.Sprint(was) != fmt.Sprint(now) {
			diffs = append(diffs, fmt.Sprintf("%s %v, now %v", what, was, now))
		}
	}
	if b.ModelSHA256 == "" {
		return nil, errors.New("the baseline has no model SHA-256 (written by an older animegan): make a new one with profile --json")
	}
	differs("model SHA-256", short(b.ModelSHA256), short(s.ModelSHA256))
	differs("--max-size", b.MaxSide, s.MaxSide)
	differs("--keep-size", b.KeepSize, s.KeepSize)
	differs("--format", b.Format, s.Format)
	differs("--quality", b.Quality, s.Quality)
	differs("--threads", b.Threads, s.Threads)
	differs("--tile", TileName(b.Tile), TileName(s.Tile))
	differs("--tile-overlap", TileOverlapName(b.TileOverlap), TileOverlapName(s.TileOverlap))
	differs("--mem-budget", budgetName(b.MemBudget), budgetName(s.MemBudget))
	differs("CPU", quoted(base.CPUModel), quoted(m.CPUModel))
	differs("cores", base.Cores, m.Cores)
	if len(diffs) > 0 {
		return nil, fmt.Errorf("the baseline measured something else: %s; compare like with like (make a new baseline with profile --json)", strings.Join(diffs, "; "))
	}
	warn := func(what string, was, now any) {
		if fmt.Sprint(was) != fmt.Sprint(now) {
			warnings = append(warnings, fmt.Sprintf("%s differs: %v in the baseline, %v now", what, was, now))
		}
	}
	warn("the memory limit", Bytes(base.Memory.Limit), Bytes(memLimit))
	if b.Metadata != "" { // older baselines did not record them
		warn("--metadata", b.Metadata, s.Metadata)
	}
	if b.Colour != "" {
		warn("--color", b.Colour, s.Colour)
	}
	warn("the number of photos", b.Photos, s.Photos)
	warn("--window", b.WindowSecs, s.WindowSecs)
	warn("--level-timeout", b.LevelTimeout, s.LevelTimeout)
	return warnings, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func quoted(s string) string { return strconv.Quote(s) }

func budgetName(n int64) string {
	switch {
	case n == 0:
		return "default"
	case n < 0:
		return "off"
	}
	return Bytes(uint64(n))
}

// Compare holds each level of cur against the same level of base. A level
// regressed when
//
//   - its throughput fell by more than maxReg beyond both runs' spreads:
//     even its best window (img/s + spread) is below (1 − maxReg) × the
//     baseline's worst (img/s − spread); or it measured nothing where the
//     baseline measured;
//   - or its peak RSS rose by more than maxReg.
//
// Levels in only one of the sweeps are listed, never failed: a sweep that
// ended early, or a changed --sweep, is no regression.
func Compare(base, cur *Result, maxReg float64) *Baseline {
	b := &Baseline{Started: base.Started, MaxRegression: maxReg}
	byJobs := make(map[int]Level, len(base.Levels))
	for _, l := range base.Levels {
		byJobs[l.Jobs] = l
	}
	seen := make(map[int]bool)
	for _, c := range sortedLevels(cur.Levels) {
		old, ok := byJobs[c.Jobs]
		if !ok {
			b.OnlyRun = append(b.OnlyRun, c.Jobs)
			continue
		}
		seen[c.Jobs] = true
		lc := compareLevel(old, c, maxReg)
		if lc.Regressed {
			b.Regressed = append(b.Regressed, c.Jobs)
		}
		b.Levels = append(b.Levels, lc)
	}
	for _, l := range sortedLevels(base.Levels) {
		if !seen[l.Jobs] {
			b.OnlyBaseline = append(b.OnlyBaseline, l.Jobs)
		}
	}
	return b
}

func compareLevel(old, cur Level, maxReg float64) LevelComparison {
	lc := LevelComparison{Jobs: cur.Jobs, BaseIPS: old.IPS, BaseSpread: old.Spread, IPS: cur.IPS, Spread: cur.Spread,
		BaseRSS: old.RSSPeak, RSS: cur.RSSPeak}
	if !old.Measured() {
		lc.Findings = append(lc.Findings, fmt.Sprintf("the baseline level measured nothing (%s)", old.Status))
		return lc
	}
	lc.Compared = true
	pct := 100 * maxReg
	switch floor := (old.IPS - old.Spread) * (1 - maxReg); {
	case !cur.Measured():
		lc.Regressed = true
		lc.Findings = append(lc.Findings, fmt.Sprintf("measured nothing (%s) where the baseline measured %.2f img/s", cur.Status, old.IPS))
	case cur.IPS+cur.Spread < floor:
		lc.Regressed = true
		lc.Findings = append(lc.Findings, fmt.Sprintf("throughput fell %.0f%%: %.2f ± %.2f img/s against %.2f ± %.2f, beyond the %.0f%% allowance and both spreads",
			100*(1-cur.IPS/old.IPS), cur.IPS, cur.Spread, old.IPS, old.Spread, pct))
	default:
		lc.Findings = append(lc.Findings, fmt.Sprintf("throughput %.2f ± %.2f img/s against %.2f ± %.2f (%+.0f%%): within", cur.IPS, cur.Spread, old.IPS, old.Spread, 100*(cur.IPS/old.IPS-1)))
	}
	if old.RSSPeak > 0 && cur.RSSPeak > 0 {
		change := float64(cur.RSSPeak)/float64(old.RSSPeak) - 1
		if change > maxReg {
			lc.Regressed = true
			// Regressions first.
			lc.Findings = append([]string{fmt.Sprintf("peak RSS rose %.0f%%: %s against %s, beyond the %.0f%% allowance",
				100*change, Bytes(cur.RSSPeak), Bytes(old.RSSPeak), pct)}, lc.Findings...)
		} else {
			lc.Findings = append(lc.Findings, fmt.Sprintf("peak RSS %s against %s (%+.0f%%): within", Bytes(cur.RSSPeak), Bytes(old.RSSPeak), 100*change))
		}
	}
	return lc
}

// WriteBaseline prints the comparison, regressions marked.
func WriteBaseline(w io.Writer, b *Baseline) error {
	fmt.Fprintf(w, "\nAgainst the baseline %s (of %s), allowing %.0f%%:\n", b.File, b.Started.Local().Format("2006-01-02 15:04"), 100*b.MaxRegression)
	for _, s := range b.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", s)
	}
	for _, l := range b.Levels {
		mark := "ok"
		switch {
		case l.Regressed:
			mark = "REGRESSED"
		case !l.Compared:
			mark = "not compared"
		}
		fmt.Fprintf(w, "  -j %d %s: %s\n", l.Jobs, mark, strings.Join(l.Findings, "; "))
	}
	if len(b.OnlyBaseline) > 0 {
		fmt.Fprintf(w, "  only in the baseline (not failed): -j %s\n", joinInts(b.OnlyBaseline))
	}
	if len(b.OnlyRun) > 0 {
		fmt.Fprintf(w, "  only in this run (not failed): -j %s\n", joinInts(b.OnlyRun))
	}
	var err error
	if len(b.Regressed) > 0 {
		_, err = fmt.Fprintf(w, "Regressed at -j %s.\n", joinInts(b.Regressed))
	} else {
		_, err = fmt.Fprintln(w, "No regression.")
	}
	return err
}

// RegressedLevels lists the levels that failed the gate, as "-j" values
// for a message: "4, 8".
func (b *Baseline) RegressedLevels() string { return joinInts(b.Regressed) }

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
