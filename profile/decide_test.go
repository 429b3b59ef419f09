package profile

import (
	"testing"
)

const gib = 1 << 30

// lv builds a measured level from recorded figures.
func lv(jobs int, ips float64, stable bool, rss uint64) Level {
	st := StatusOK
	if !stable {
		st = StatusUnstable
	}
	return Level{Jobs: jobs, IPS: ips, Stable: stable, Status: st, Images: 10, RSSPeak: rss,
		AvailableMin: 20 * gib, PSISomeMax: 0}
}

func TestSignals(t *testing.T) {
	m := Memory{Total: 24 * gib, Limit: 4 * gib, LimitSource: "--mem-limit"}
	tests := []struct {
		name string
		mod  func(*Level)
		want []string
	}{
		{"calm", func(*Level) {}, nil},
		{"rss just under 80%", func(l *Level) { l.RSSPeak = 3*gib + 200<<20 }, nil},
		{"rss over 80%", func(l *Level) { l.RSSPeak = 3*gib + 300<<20 }, []string{SignalRSS}},
		{"cgroup peak counts", func(l *Level) { l.CgroupPeak = 3*gib + 300<<20 }, []string{SignalRSS}},
		{"available under 10%", func(l *Level) { l.AvailableMin = 2 * gib }, []string{SignalAvailable}},
		{"psi", func(l *Level) { l.PSISomeMax = 12.5 }, []string{SignalPSI}},
		{"no psi file", func(l *Level) { l.PSISomeMax = -1 }, nil},
		{"swap", func(l *Level) { l.SwapRise = 100 << 20 }, []string{SignalSwap}},
		{"faults", func(l *Level) { l.MajorFaults, l.MeasuredSecs = 500, 10 }, []string{SignalFaults}},
		{"few faults", func(l *Level) { l.MajorFaults, l.MeasuredSecs = 50, 10 }, nil},
		{"oom and rss: oom first", func(l *Level) { l.Status, l.RSSPeak = StatusOOMKilled, 4*gib }, []string{SignalOOMKill, SignalRSS}},
		{"stopped", func(l *Level) { l.Status, l.RSSPeak = StatusStopped, 4*gib+1 }, []string{SignalStopped, SignalRSS}},
	}
	for _, tc := range tests {
		l := lv(4, 1, true, 1*gib)
		tc.mod(&l)
		got := Signals(&l, m, DefaultThresholds)
		if len(got) != len(tc.want) {
			t.Errorf("%s: signals %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: signals %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}

func TestDecide(t *testing.T) {
	m := Memory{Total: 24 * gib, Limit: 4 * gib}
	withSignals := func(ls []Level) []Level {
		for i := range ls {
			ls[i].Signals = Signals(&ls[i], m, DefaultThresholds)
		}
		return ls
	}
	ptr := func(n int) *int { return &n }
	tests := []struct {
		name     string
		levels   []Level
		plateau  int
		best     int
		pressure *int
		signal   string
		rec      int
	}{
		{
			// This machine, built-in model, 2 cores: two workers fill them.
			name: "builtin 1..4",
			levels: []Level{lv(1, 1.47, true, 544<<20), lv(2, 1.93, true, 929<<20),
				lv(3, 1.90, true, 1200<<20), lv(4, 1.86, true, 1470<<20)},
			plateau: 2, best: 2, rec: 2,
		},
		{
			// The seed scenario's shape: rises to 30, collapses past 40, OOM near 50.
			name: "seed shape",
			levels: []Level{lv(10, 40, true, gib), lv(20, 70, true, gib), lv(30, 88, true, 2*gib),
				lv(40, 90, true, 3*gib), {Jobs: 50, Status: StatusOOMKilled, RSSPeak: 4 * gib}},
			plateau: 30, best: 40, pressure: ptr(50), signal: SignalOOMKill, rec: 30,
		},
		{
			name: "unstable best level is not the plateau when a stable one qualifies",
			levels: []Level{lv(1, 1.0, true, gib), lv(2, 1.9, false, gib), lv(3, 1.92, true, gib),
				lv(4, 2.0, true, gib)},
			plateau: 3, best: 4, rec: 3,
		},
		{
			name:    "nothing stable: fall back to measured",
			levels:  []Level{lv(1, 1.0, false, gib), lv(2, 1.96, false, gib), lv(3, 2.0, false, gib)},
			plateau: 2, best: 3, rec: 2,
		},
		{
			// AnimeGANv2 at 512 px under 4 GiB: pressure before the plateau,
			// so the recommendation stays below the onset.
			name: "pressure before plateau",
			levels: []Level{lv(1, 0.27, true, 900<<20), lv(2, 0.29, true, 1300<<20),
				lv(3, 0.33, true, 3400<<20)},
			plateau: 3, best: 3, pressure: ptr(3), signal: SignalRSS, rec: 2,
		},
		{
			name:    "pressure at the first level",
			levels:  []Level{lv(1, 0.2, true, 3500<<20), lv(2, 0.3, true, 3900<<20)},
			plateau: 2, best: 2, pressure: ptr(1), signal: SignalRSS, rec: 0,
		},
		{
			name:    "all failed",
			levels:  []Level{{Jobs: 1, Status: StatusFailed}, {Jobs: 2, Status: StatusFailed}},
			plateau: 0, best: 0, rec: 0,
		},
	}
	for _, tc := range tests {
		d := Decide(withSignals(tc.levels), DefaultThresholds)
		if d.PlateauJobs != tc.plateau || d.BestJobs != tc.best || d.RecommendedJobs != tc.rec || d.PressureSignal != tc.signal {
			t.Errorf("%s: %+v; want plateau %d best %d recommended %d signal %q", tc.name, d, tc.plateau, tc.best, tc.rec, tc.signal)
		}
		if (d.PressureJobs == nil) != (tc.pressure == nil) || (d.PressureJobs != nil && *d.PressureJobs != *tc.pressure) {
			t.Errorf("%s: pressure %v, want %v", tc.name, d.PressureJobs, tc.pressure)
		}
		if v := Verdict(tc.levels, d, m); len(v) == 0 {
			t.Errorf("%s: empty verdict", tc.name)
		}
	}
}

func TestStableAndThroughput(t *testing.T) {
	w := func(ips ...float64) []Window {
		var ws []Window
		for _, x := range ips {
			ws = append(ws, Window{IPS: x, Images: int(x * 10), Seconds: 10})
		}
		return ws
	}
	tests := []struct {
		ws     []Window
		stable bool
		ips    float64
		spread float64
	}{
		{w(1, 1), false, 1, 0},
		{w(5, 1, 1.1, 1), true, 1.0333333333333333, 0.05},
		{w(1, 1.2, 1), false, 1.0666666666666667, 0.1},
		{w(3, 1, 1.5, 1), false, 1.625, 1},
		{w(2, 2.05, 1.95), true, 2, 0.05},
		{w(0, 0, 0), true, 0, 0},
		{nil, false, 0, 0},
	}
	for _, tc := range tests {
		st := Stable(tc.ws)
		ips, sp := Throughput(tc.ws, st)
		if st != tc.stable || abs(ips-tc.ips) > 1e-9 || abs(sp-tc.spread) > 1e-9 {
			t.Errorf("%v: stable %v, %v ± %v; want %v, %v ± %v", tc.ws, st, ips, sp, tc.stable, tc.ips, tc.spread)
		}
	}
}

func abs(x float64) float64 { return max(x, -x) }
