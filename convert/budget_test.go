package convert

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"animegan/model"
)

func TestBudgetAdmits(t *testing.T) {
	cost := CostModel{Base: 100, PerPixel: 1}
	cases := []struct {
		name     string
		limit    int64
		pixels   []int64
		wantPeak int // most admitted at once when all ask together
	}{
		{"all fit", 10_000, []int64{900, 900, 900, 900}, 4},
		{"two at a time", 2_000, []int64{900, 900, 900, 900}, 2},
		{"one at a time", 1_500, []int64{900, 900, 900}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBudget(tc.limit, "test", cost)
			var inFlight, peak atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, px := range tc.pixels {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					release, err := b.Acquire(context.Background(), px)
					if err != nil {
						t.Error(err)
						return
					}
					n := inFlight.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(20 * time.Millisecond) // hold it so others must wait or join
					inFlight.Add(-1)
					release()
					release() // a second release is harmless
				}()
			}
			close(start)
			wg.Wait()
			if int(peak.Load()) > tc.wantPeak {
				t.Fatalf("peak %d admitted at once, want at most %d", peak.Load(), tc.wantPeak)
			}
			st := b.Stats()
			if st.PeakConcurrency > tc.wantPeak || st.PeakBytes > tc.limit {
				t.Fatalf("stats %+v exceed the budget", st)
			}
		})
	}
}

func TestBudgetCancel(t *testing.T) {
	b := newBudget(1000, "test", CostModel{PerPixel: 1})
	release, err := b.Acquire(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Acquire(ctx, 10); err == nil {
		t.Fatal("a cancelled wait must fail")
	}
	release()
	if _, err := b.Acquire(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
}

// TestBudgetRefusesTooLarge: an inference over the whole budget is never
// admitted, not even alone.
func TestBudgetRefusesTooLarge(t *testing.T) {
	b := newBudget(1000, "test", CostModel{Base: 100, PerPixel: 1})
	if _, err := b.Acquire(context.Background(), 901); err == nil {
		t.Fatal("an inference over the whole budget was admitted")
	}
	release, err := b.Acquire(context.Background(), 900)
	if err != nil {
		t.Fatalf("an inference of exactly the budget must fit: %v", err)
	}
	release()
}

// TestFitCost: whatever calibration measures, the cost model is finite,
// never negative, and never falls with pixels.
func TestFitCost(t *testing.T) {
	const margin = 1.5
	tests := []struct {
		name         string
		pts          []calPoint
		wantPerPixel float64 // before the margin
		wantBase     int64   // before the margin
	}{
		{"a line", []calPoint{{100_000, 300 << 20}, {400_000, 900 << 20}}, float64(600<<20) / 300_000, 100 << 20},
		{"a line, measured in the other order", []calPoint{{400_000, 900 << 20}, {100_000, 300 << 20}}, float64(600<<20) / 300_000, 100 << 20},
		{"both sizes rounded to one multiple", []calPoint{{4096, 50 << 20}, {4096, 60 << 20}}, float64(60<<20) / 4096, 0},
		{"peak fell at the larger size", []calPoint{{100_000, 300 << 20}, {400_000, 200 << 20}}, float64(300<<20) / 100_000, 0},
		{"peak did not grow", []calPoint{{100_000, 300 << 20}, {400_000, 300 << 20}}, float64(300<<20) / 100_000, 0},
		{"steep line through a negative base", []calPoint{{100_000, 10 << 20}, {200_000, 500 << 20}}, float64(490<<20) / 100_000, 0},
		{"fixed-size model, one run", []calPoint{{512 * 512, 800 << 20}}, float64(800<<20) / (512 * 512), 0},
		{"zero pixels and a negative peak", []calPoint{{0, -5}, {0, -7}}, 0, 0},
		{"no runs", nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fitCost(tc.pts)
			if math.IsNaN(c.PerPixel) || math.IsInf(c.PerPixel, 0) || c.PerPixel < 0 || c.Base < 0 {
				t.Fatalf("cost %+v: want finite and non-negative", c)
			}
			if got, want := c.PerPixel, tc.wantPerPixel*margin; math.Abs(got-want) > 1e-6*max(1, want) {
				t.Errorf("per pixel %.3f, want %.3f", got, want)
			}
			if len(tc.pts) > 0 {
				if want := tc.wantBase*110/100 + 8<<20; c.Base != want {
					t.Errorf("base %d, want %d", c.Base, want)
				}
			}
			// Never below what was measured, at any measured size.
			for _, p := range tc.pts {
				if p.Pixels > 0 && c.Bytes(p.Pixels) < p.Peak {
					t.Errorf("estimate %d at %d pixels is below the %d measured", c.Bytes(p.Pixels), p.Pixels, p.Peak)
				}
			}
		})
	}
}

// TestCalibrationSizes: two distinct multiples of the model, within what
// the upper bound says the budget holds, between 64 and 512; one run for a
// fixed model.
func TestCalibrationSizes(t *testing.T) {
	upper := upperCost(&model.Spec{})
	tests := []struct {
		name     string
		multiple int
		fixed    bool
		worst    int64 // largest inference, in pixels
		limit    int64
		want     []int
	}{
		{"large budget, large images", 8, false, 1024 * 1024, 64 << 30, []int{256, 512}},
		{"small --max-size", 8, false, 40 * 40, 64 << 30, []int{32, 64}},
		{"multiple larger than the size", 64, false, 40 * 40, 64 << 30, []int{64, 128}},
		{"multiple 32 at 48 px, which rounds both halves to 32", 32, false, 48 * 48, 64 << 30, []int{32, 64}},
		{"budget caps the size", 8, false, 6000 * 4000, 1 << 30, []int{152, 312}},
		{"budget below the upper bound's base", 8, false, 1024 * 1024, 128 << 20, []int{32, 64}},
		{"fixed-size model", 8, true, 512 * 512, 1 << 30, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := &model.Spec{Multiple: tc.multiple}
			if tc.fixed {
				spec.FixedW, spec.FixedH = 512, 512
			}
			got := calibrationSizes(spec, upper, tc.worst, tc.limit)
			if !slicesEqual(got, tc.want) {
				t.Fatalf("sizes %v, want %v", got, tc.want)
			}
			if len(got) == 2 {
				if got[0] >= got[1] || got[0]%tc.multiple != 0 || got[1]%tc.multiple != 0 {
					t.Fatalf("sizes %v: want two distinct multiples of %d, smaller first", got, tc.multiple)
				}
			}
		})
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestUpperCostCountsWeights: the uncalibrated bound grows with the
// model's weights, and calibration is skipped only when that bound on the
// largest inference fits every worker.
func TestUpperCostCountsWeights(t *testing.T) {
	small := upperCost(&model.Spec{WeightBytes: 8 << 20})
	big := upperCost(&model.Spec{WeightBytes: 2 << 30})
	if big.Base-small.Base != 3*((2<<30)-(8<<20)) {
		t.Fatalf("bases %d and %d: want 3x the weights' difference", small.Base, big.Base)
	}
	const px = 1024 * 1024
	limit := 4 * small.Bytes(px)
	if needsCalibration(small, 4, px, limit) {
		t.Error("four workers of a small model fit the budget at the upper bound: no calibration needed")
	}
	if !needsCalibration(big, 4, px, limit) {
		t.Error("a model with 2 GiB of weights must be calibrated where the small one is not")
	}
	if !needsCalibration(small, 5, px, limit) {
		t.Error("a fifth worker does not fit: calibration needed")
	}
	if !needsCalibration(small, 1, 2*px, small.Bytes(px)) {
		t.Error("the largest inference, not a typical one, decides")
	}
}

// TestBudgetCheck: the refusal names the need, the budget and a
// --max-size that really fits by the same estimate; a fixed-size model
// costs the same for every image; a dynamic one grows with pixels.
func TestBudgetCheck(t *testing.T) {
	cost := CostModel{Base: 100 << 20, PerPixel: 4.5 * 1024}
	dynamic := &model.Spec{Multiple: 8}
	fixed := &model.Spec{Multiple: 8, FixedW: 512, FixedH: 512}
	tests := []struct {
		name      string
		spec      *model.Spec
		limit     int64
		w, h, max int
		want      string // "" fits; else a substring of the error
		wantSide  int    // the suggested --max-size, when one
	}{
		{"fits", dynamic, 2 << 30, 640, 480, 1024, "", 0},
		{"6000x4000 in 2 GiB", dynamic, 2 << 30, 6000, 4000, 6000, "needs about 103 GiB for a 6000x4000 inference, budget 2.0 GiB: use --max-size 760 or less", 760},
		{"same photo, no --max-size", dynamic, 2 << 30, 6000, 4000, 0, "use --max-size 760 or less", 760},
		{"portrait", dynamic, 2 << 30, 4000, 6000, 6000, "for a 4000x6000 inference", 760},
		{"square", dynamic, 2 << 30, 4000, 4000, 4000, "use --max-size 624 or less", 624},
		{"nothing fits", dynamic, 64 << 20, 640, 480, 1024, "even a 8x8 inference needs about 100 MiB; raise --mem-budget", 0},
		{"fixed size fits whatever the photo", fixed, 4 << 30, 6000, 4000, 6000, "", 0},
		{"fixed size too large for every photo", fixed, 1 << 30, 16, 16, 1024, "needs about 1.2 GiB for a 512x512 inference, budget 1.0 GiB: the model takes only this size; raise --mem-budget", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBudget(tc.limit, "test", cost)
			g, err := tc.spec.Fit(tc.w, tc.h, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			err = b.Check(tc.spec, g, tc.w, tc.h, tc.max)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var tl *TooLargeError
			if !errors.As(err, &tl) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a TooLargeError saying %q", err, tc.want)
			}
			if tl.MaxSide != tc.wantSide {
				t.Fatalf("suggested --max-size %d, want %d", tl.MaxSide, tc.wantSide)
			}
			if tl.MaxSide > 0 {
				// The suggestion fits by the same estimate, with the
				// shorter side one multiple longer, in 90% of the budget;
				// one multiple more would not.
				at, _ := tc.spec.Fit(tc.w, tc.h, tl.MaxSide)
				if err := b.Check(tc.spec, at, tc.w, tc.h, tl.MaxSide); err != nil || tl.MaxSide%8 != 0 {
					t.Fatalf("--max-size %d does not fit: %v", tl.MaxSide, err)
				}
				spared := func(side int) int64 {
					g, _ := tc.spec.Fit(tc.w, tc.h, side)
					return cost.Bytes(int64(g.ModelW*g.ModelH + 8*max(g.ModelW, g.ModelH)))
				}
				if spared(tl.MaxSide) > tc.limit/10*9 || spared(tl.MaxSide+8) <= tc.limit/10*9 {
					t.Fatalf("--max-size %d is not the largest that fits 90%% of the budget", tl.MaxSide)
				}
			}
		})
	}
	// With a fixed-size model every photo costs the same; with a dynamic
	// one, the cost grows with pixels.
	b := newBudget(1<<40, "test", cost)
	need := func(spec *model.Spec, w, h int) int64 {
		g, _ := spec.Fit(w, h, 0)
		return b.Cost.Bytes(int64(g.ModelW) * int64(g.ModelH))
	}
	if need(fixed, 64, 64) != need(fixed, 6000, 4000) {
		t.Error("a fixed-size model's photos must all cost the same")
	}
	if need(dynamic, 64, 64) >= need(dynamic, 6000, 4000) {
		t.Error("a dynamic model's cost must grow with pixels")
	}
}

// TestCheckResize: an inference whose Resize output ONNX Runtime's kernel
// would overflow is refused whatever the budget, with the largest
// --max-size under the model's limit; below it, and for models without a
// traced Resize, nothing is refused.
func TestCheckResize(t *testing.T) {
	const limit = (1<<31 - 1) / 127 // the AnimeGANv2 architecture's
	v2 := &model.Spec{Multiple: 8, ResizeMaxPixels: limit}
	tests := []struct {
		name      string
		spec      *model.Spec
		w, h, max int
		wantSide  int // -1: not refused
	}{
		{"6000x4000 at full size", v2, 6000, 4000, 0, 5032},
		{"6000x4000 at --max-size 6000", v2, 6000, 4000, 6000, 5032},
		{"4096x4096 is under the limit", v2, 4096, 4096, 0, -1},
		{"4112x4112 is just under it", v2, 4112, 4112, 0, -1},
		{"4120x4120 is over it", v2, 4120, 4120, 0, 4112},
		{"scaled down by --max-size", v2, 6000, 4000, 4096, -1},
		{"no Resize traced", &model.Spec{Multiple: 8}, 8000, 8000, 0, -1},
		{"fixed size over the limit", &model.Spec{Multiple: 8, FixedW: 5000, FixedH: 5000, ResizeMaxPixels: limit}, 64, 64, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := tc.spec.Fit(tc.w, tc.h, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			err = checkResize(tc.spec, g, tc.w, tc.h, tc.max)
			if tc.wantSide < 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *CrashSizeError
			if !errors.As(err, &ce) || ce.MaxSide != tc.wantSide || !strings.Contains(err.Error(), "would crash ONNX Runtime") {
				t.Fatalf("error %v, want a CrashSizeError suggesting --max-size %d", err, tc.wantSide)
			}
			if ce.MaxSide > 0 {
				at, _ := tc.spec.Fit(tc.w, tc.h, ce.MaxSide)
				over, _ := tc.spec.Fit(tc.w, tc.h, ce.MaxSide+8)
				if int64(at.ModelW*at.ModelH) > limit || int64(over.ModelW*over.ModelH) <= limit {
					t.Fatalf("--max-size %d is not the largest under %d pixels", ce.MaxSide, limit)
				}
			}
		})
	}
}
