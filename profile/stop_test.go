package profile

import (
	"strings"
	"testing"

	"animegan/convert"
)

func TestEndOfSweep(t *testing.T) {
	// unstable gives a measured level whose windows disagreed by ±spread.
	unstable := func(jobs int, ips, spread float64) Level {
		l := lv(jobs, ips, false, gib)
		l.Spread = spread
		return l
	}
	at := func(jobs int, ips, spread float64) Level {
		l := lv(jobs, ips, true, gib)
		l.Spread = spread
		return l
	}
	held := func(l Level, admissible int) Level {
		l.Workers, l.Admissible = convert.Jobs{Decode: 1, Infer: l.Jobs, Encode: 1}, admissible
		return l
	}
	tests := []struct {
		name   string
		levels []Level
		want   string // a part of the reason; "" = go on
	}{
		{"nothing yet", nil, ""},
		{
			// README's unloaded `--sweep 1..8 testdata/photos`, as recorded:
			// -j 4, 6 and 7 are unstable with a best window above 95% of
			// the best, so they are passed over, and the sweep ends at -j 8.
			name: "README's recorded sweep",
			levels: []Level{unstable(1, 2.82, 0.63), at(2, 5.09, 0.09), at(3, 4.51, 0.22), unstable(4, 4.80, 0.40),
				at(5, 4.51, 0.17), unstable(6, 3.98, 0.98), unstable(7, 3.99, 1.44), at(8, 4.30, 0.18)},
			want: "throughput has peaked: -j 3, 5, 8 were each at least 5% below the best (5.09 img/s at -j 2)",
		},
		{
			name: "README's recorded sweep up to -j 7 goes on",
			levels: []Level{unstable(1, 2.82, 0.63), at(2, 5.09, 0.09), at(3, 4.51, 0.22), unstable(4, 4.80, 0.40),
				at(5, 4.51, 0.17), unstable(6, 3.98, 0.98), unstable(7, 3.99, 1.44)},
		},
		{"still rising", []Level{lv(1, 1, true, gib), lv(2, 1.9, true, gib), lv(3, 2.0, true, gib)}, ""},
		{
			// The built-in model on 2 cores: best at 2, then three below 95%.
			name:   "three stable levels below",
			levels: []Level{lv(1, 1.47, true, gib), lv(2, 1.93, true, gib), lv(3, 1.80, true, gib), lv(4, 1.79, true, gib), lv(5, 1.70, true, gib)},
			want:   "throughput has peaked: -j 3, 4, 5 were each at least 5% below the best (1.93 img/s at -j 2)",
		},
		{
			name:   "two below are not enough",
			levels: []Level{lv(1, 1.47, true, gib), lv(2, 1.93, true, gib), lv(3, 1.80, true, gib), lv(4, 1.79, true, gib)},
		},
		{
			name:   "within 5% of the best: a plateau, not a decline",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.95, true, gib), lv(4, 1.92, true, gib), lv(5, 1.91, true, gib)},
		},
		{
			name:   "exactly 95% counts as 5% below",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.9, true, gib), lv(4, 1.9, true, gib), lv(5, 1.9, true, gib)},
			want:   "-j 3, 4, 5 were",
		},
		{
			name: "a level near the best starts the count again",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.8, true, gib), lv(4, 1.8, true, gib), lv(5, 1.97, true, gib),
				lv(6, 1.8, true, gib), lv(7, 1.8, true, gib)},
		},
		{
			name: "after a reset, three more",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.8, true, gib), lv(4, 1.8, true, gib), lv(5, 1.97, true, gib),
				lv(6, 1.8, true, gib), lv(7, 1.8, true, gib), lv(8, 1.5, true, gib)},
			want: "-j 6, 7, 8 were",
		},
		{
			name:   "an unstable level whose best window reaches the best's 95% is not clearly below: passed over",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.8, true, gib), unstable(4, 1.8, 0.2), lv(5, 1.8, true, gib)},
		},
		{
			name:   "passed over, not reset",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.8, true, gib), unstable(4, 1.8, 0.2), lv(5, 1.8, true, gib), lv(6, 1.7, true, gib)},
			want:   "-j 3, 5, 6 were",
		},
		{
			name:   "an unstable level whose mean reaches 95% resets",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.8, true, gib), unstable(4, 1.92, 0.5), lv(5, 1.8, true, gib), lv(6, 1.7, true, gib)},
		},
		{
			name:   "an unstable level wholly below counts",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.8, true, gib), unstable(4, 1.5, 0.2), lv(5, 1.8, true, gib)},
			want:   "-j 3, 4, 5 were",
		},
		{
			name: "levels that measured nothing count as below",
			levels: []Level{lv(2, 2.0, true, gib), lv(3, 1.8, true, gib), {Jobs: 4, Status: StatusTimeout},
				{Jobs: 5, Status: StatusFailed}},
			want: "-j 3, 4, 5 were",
		},
		{
			name:   "a new best restarts: the levels before it do not count",
			levels: []Level{lv(1, 1.0, true, gib), lv(2, 0.8, true, gib), lv(3, 0.8, true, gib), lv(4, 0.8, true, gib), lv(5, 1.2, true, gib)},
		},
		{
			name:   "nothing measured: go on",
			levels: []Level{{Jobs: 1, Status: StatusFailed}, {Jobs: 2, Status: StatusFailed}, {Jobs: 3, Status: StatusFailed}},
		},
		{
			name:   "the budget holds the last level's workers back",
			levels: []Level{held(lv(1, 0.3, true, gib), 1), held(lv(2, 0.5, true, gib), 2), held(lv(3, 0.5, true, gib), 2)},
			want:   "the memory budget lets 2 inferences run at once: at -j 3 and beyond, the other workers only wait",
		},
		{
			name:   "every worker admitted: go on",
			levels: []Level{held(lv(1, 0.3, true, gib), 1), held(lv(2, 0.5, true, gib), 2)},
		},
	}
	for _, tc := range tests {
		got := EndOfSweep(tc.levels, DefaultThresholds)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
