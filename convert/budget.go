package convert

import (
	"context"
	"fmt"
	"image"
	"math"
	"sync"

	"golang.org/x/sync/semaphore"

	"animegan/internal/sysmem"
	"animegan/model"
)

// CostModel estimates the memory one inference takes, from the model
// input's pixel count: activations grow with pixels (an AnimeGANv2-sized
// model needs ~0.8 GB at 512x512 and ~3.6 GB at 1024x1024), on top of a
// fixed part (weights, kernels' scratch).
type CostModel struct {
	Base     int64   // bytes
	PerPixel float64 // bytes per model input pixel
	Source   string  // "calibrated" or "assumed"
}

// Bytes is the estimate for one inference on px pixels.
func (c CostModel) Bytes(px int64) int64 { return c.Base + int64(c.PerPixel*float64(px)) }

func (c CostModel) String() string {
	return fmt.Sprintf("%s + %.1f KB/pixel (%s)", formatBytes(c.Base), c.PerPixel/1024, c.Source)
}

// upperCost bounds what the image models we know take, with room to
// spare: the AnimeGANv2 generator, the costliest, added 2.1-2.2 KB per
// pixel to the peak RSS at 512-1024 px here (one session of two threads),
// 3.1-3.5 KB with a session per core. The fixed part is a session's own
// overhead plus
// the model's weights three times over: ONNX Runtime holds the
// initializers as loaded, a pre-packed copy for its convolution kernels and
// the copies its graph optimiser makes (NCHWc reordering), so a model with
// large weights costs that much before its first pixel. When the budget
// holds every worker at this cost, there is no need to calibrate.
func upperCost(spec *model.Spec) CostModel {
	return CostModel{Base: 256<<20 + 3*spec.WeightBytes, PerPixel: 8 * 1024,
		Source: "upper bound, not calibrated: the budget holds every worker even at this cost"}
}

// assumedCost is used where the peak RSS cannot be measured: what the
// AnimeGANv2 generator needs, the costliest model family we know of, plus
// the model's weights as upperCost counts them.
func assumedCost(spec *model.Spec) CostModel {
	return CostModel{Base: 64<<20 + 3*spec.WeightBytes, PerPixel: 3.5 * 1024, Source: "assumed"}
}

// PlanCostSource is the CostModel.Source of a dry run's estimate, where a
// real run would calibrate: the dry run runs no model, so its memory
// figures and tiles are estimates the run may revise.
const PlanCostSource = "assumed, not calibrated: a dry run runs no model"

// needsCalibration says whether the budget may have to hold back or refuse
// some inference: it may when the upper bound on the largest inference the
// run can see, times the workers that could run it at once, does not fit.
// Only then is the cost worth measuring; otherwise every inference is
// admitted whatever the model really takes.
func needsCalibration(upper CostModel, workers int, worstPixels, limit int64) bool {
	return int64(max(1, workers))*upper.Bytes(worstPixels) > limit
}

// calPoint is one calibration run: the model input's pixels and the peak
// RSS that making a session and running it once added.
type calPoint struct{ Pixels, Peak int64 }

// calibrationSizes are the square sides calibration runs at: two
// different multiples of the model (the fit needs two distinct pixel
// counts), near the largest size the run will see but at most 512 (the
// arena's growth makes small sizes underestimate large ones), and no
// larger than the upper bound says the budget holds, so that calibrating
// cannot itself take more than the budget; at least 64 px. A fixed-size
// model has one size (0: its own).
func calibrationSizes(spec *model.Spec, upper CostModel, worstPixels, limit int64) []int {
	if !spec.Dynamic() {
		return []int{0}
	}
	m := max(1, spec.Multiple)
	top := min(512, int(math.Sqrt(float64(worstPixels))))
	// A budget below the bound's base holds only small inferences, if any:
	// calibrate at the smallest sizes.
	room := max(0, float64(limit-upper.Base)/upper.PerPixel)
	top = min(top, int(math.Sqrt(room)))
	hi := max(2*m, top/m*m, 64/m*m) // smaller runs measure page-sized noise
	lo := max(m, min(hi/2/m*m, hi-m))
	return []int{lo, hi}
}

// calibrate measures the model's memory cost on this machine, as convert
// runs it: a fresh session (ONNX Runtime's CPU arena on) and one inference,
// at the calibrationSizes; the peak RSS each adds, from before its session
// was made, is fitted to Base + PerPixel x pixels (fitCost). Base thus
// includes what a session costs by itself, weights included. Calibration
// runs before any other work, so the process's peak belongs to the
// measured run alone.
func calibrate(spec *model.Spec, data []byte, worstPixels, limit int64) (CostModel, error) {
	if !sysmem.ResetPeak() {
		return assumedCost(spec), nil
	}
	var pts []calPoint
	for _, side := range calibrationSizes(spec, upperCost(spec), worstPixels, limit) {
		w, h := spec.FixedW, spec.FixedH
		if spec.Dynamic() {
			w, h = side, side
		}
		peak, err := measureRun(spec, data, w, h)
		if err != nil {
			return CostModel{}, err
		}
		pts = append(pts, calPoint{int64(w) * int64(h), peak})
	}
	return fitCost(pts), nil
}

// fitCost turns calibration runs into a cost model that is finite, never
// negative and never falls with pixels, whatever the measurements: two
// runs at the same pixel count count as one (no division by zero), and a
// peak that does not grow between sizes (noise, or an arena already large
// enough) is read conservatively as all per-pixel: a line through zero
// steep enough to cover every run. The arena grows in powers of two, so at
// sizes well above the calibration's it reserves up to twice what the run
// needs: PerPixel gets a 1.5x margin, Base 10% and 8 MiB. For the
// AnimeGANv2 generator calibrated at 232 and 464 px (a 2 GiB budget), this
// gave 27 MiB + 2.3 KB per pixel: 0.65 GB at 512x512 and 2.5 GB at
// 1024x1024, against 0.58 and 2.30 GB added to the peak RSS measured.
func fitCost(pts []calPoint) CostModel {
	c := CostModel{Source: "calibrated"}
	var lo, hi calPoint // the smallest and the largest pixel count
	for i, p := range pts {
		p.Pixels, p.Peak = max(1, p.Pixels), max(0, p.Peak)
		if i == 0 || p.Pixels < lo.Pixels || (p.Pixels == lo.Pixels && p.Peak > lo.Peak) {
			lo = p
		}
		if i == 0 || p.Pixels > hi.Pixels || (p.Pixels == hi.Pixels && p.Peak > hi.Peak) {
			hi = p
		}
	}
	switch {
	case len(pts) == 0:
		return CostModel{Source: "calibrated (no runs)"}
	case hi.Pixels > lo.Pixels && hi.Peak > lo.Peak:
		c.PerPixel = float64(hi.Peak-lo.Peak) / float64(hi.Pixels-lo.Pixels)
		c.Base = max(0, lo.Peak-int64(c.PerPixel*float64(lo.Pixels)))
	default:
		for _, p := range pts {
			c.PerPixel = max(c.PerPixel, float64(max(0, p.Peak))/float64(max(1, p.Pixels)))
		}
	}
	c.Base = c.Base*110/100 + 8<<20
	c.PerPixel *= 1.5
	return c
}

// measureRun is the peak RSS that making a session and running it once at
// w x h adds to the process.
func measureRun(spec *model.Spec, data []byte, w, h int) (int64, error) {
	so := model.DefaultSessionOptions(1, 0)
	before, _ := sysmem.Self()
	sysmem.ResetPeak()
	s, err := model.NewSession(spec, data, so)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if _, err := s.Run(context.Background(), image.NewNRGBA(image.Rect(0, 0, w, h))); err != nil {
		return 0, fmt.Errorf("calibrating memory use at %dx%d: %w", w, h, err)
	}
	_, peak := sysmem.Self()
	return max(0, peak-before), nil
}

// Budget admits inferences while their estimated memory fits under a limit.
// An inference larger than the whole budget is never started: Check
// refuses it with a TooLargeError before it reaches Acquire.
type Budget struct {
	Limit  int64
	Source string // where Limit came from
	Cost   CostModel
	sem    *semaphore.Weighted

	mu                 sync.Mutex
	inFlight, peak     int
	inFlightBytes      int64
	peakBytes, largest int64
}

// DefaultBudget is a safe share of the memory this process may use: 75%
// of the smallest limit on it (sysmem.Limit: its cgroup's and every
// ancestor's, memory.high, RLIMIT_AS), or of the memory available when the
// run starts when that is smaller or there is no limit. The other quarter
// is for what the budget does not count: the process itself (ONNX
// Runtime, the Go heap, decoded images waiting in the queues) and the
// estimate's error. The source names the limit, e.g. "75% of cgroup v1
// /slurm/uid_0/job_5 memory.limit_in_bytes (3.00 GiB)".
func DefaultBudget() (int64, string) { return defaultBudget(sysmem.ReadLimit()) }

func defaultBudget(l sysmem.Limit) (int64, string) {
	bound, source := l.Bound()
	if l.Available > 0 && (bound == 0 || l.Available < bound) {
		bound, source = l.Available, "available memory"
	}
	if bound == 0 {
		return 4 << 30, "4 GiB (memory size unknown)"
	}
	return max(bound/4*3, 64<<20), fmt.Sprintf("75%% of %s (%s)", source, formatBytes(bound))
}

func newBudget(limit int64, source string, cost CostModel) *Budget {
	return &Budget{Limit: limit, Source: source, Cost: cost, sem: semaphore.NewWeighted(limit)}
}

// Acquire waits until px pixels' inference fits. One that can never fit
// fails at once (Check says why, with the fix).
func (b *Budget) Acquire(ctx context.Context, px int64) (release func(), err error) {
	return b.AcquireBytes(ctx, b.Cost.Bytes(px))
}

// AcquireBytes waits until n bytes fit: a tiled image's own memory and its
// first tile's inference, or one more tile worker's.
func (b *Budget) AcquireBytes(ctx context.Context, n int64) (release func(), err error) {
	if n > b.Limit {
		return nil, fmt.Errorf("needs about %s, budget %s", aboutBytes(n), aboutBytes(b.Limit))
	}
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.inFlight++
	b.inFlightBytes += n
	b.peak = max(b.peak, b.inFlight)
	b.peakBytes = max(b.peakBytes, b.inFlightBytes)
	b.largest = max(b.largest, n)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.inFlight--
			b.inFlightBytes -= n
			b.mu.Unlock()
			b.sem.Release(n)
		})
	}, nil
}

// TooLargeError is an inference the memory budget can never hold: its
// estimate alone exceeds the whole budget. It is refused before it starts,
// instead of being run on memory the budget says is not there.
type TooLargeError struct {
	Need, Budget int64
	W, H         int  // the model input that was asked for
	Fixed        bool // the model takes one size only: --max-size cannot help
	// MaxSide is the largest --max-size (a multiple of the model's) at
	// which this image's inference fits; 0 when none does.
	MaxSide int
	// Smallest is the estimate at the smallest size the model takes, when
	// even that does not fit.
	Smallest     int64
	SmallestSide int
}

func (e *TooLargeError) Error() string {
	msg := fmt.Sprintf("needs about %s for a %dx%d inference, budget %s: ", aboutBytes(e.Need), e.W, e.H, aboutBytes(e.Budget))
	switch {
	case e.Fixed:
		return msg + "the model takes only this size; raise --mem-budget"
	case e.MaxSide > 0:
		return msg + fmt.Sprintf("use --max-size %d or less", e.MaxSide)
	}
	return msg + fmt.Sprintf("even a %dx%d inference needs about %s; raise --mem-budget", e.SmallestSide, e.SmallestSide, aboutBytes(e.Smallest))
}

// Check refuses an inference the budget can never hold: g is the
// geometry Fit chose for an image whose upright size is w x h, at
// --max-size maxSide. The fix it suggests is verified by the same
// estimate: the largest --max-size, floored to the model's multiple, at
// which this image's inference fits even with its shorter side one
// multiple longer (a JPEG decoded shrunk can round that side up), within
// 90% of the budget: the re-run calibrates again, and its per-pixel cost
// varied by about 5% from run to run here (four runs of the same command
// on a loaded machine: 2.3-2.5 KB per pixel).
func (b *Budget) Check(spec *model.Spec, g model.Geometry, w, h, maxSide int) error {
	need := b.Cost.Bytes(int64(g.ModelW) * int64(g.ModelH))
	if need <= b.Limit {
		return nil
	}
	e := &TooLargeError{Need: need, Budget: b.Limit, W: g.ModelW, H: g.ModelH, Fixed: !spec.Dynamic()}
	if e.Fixed {
		return e
	}
	m := max(1, spec.Multiple)
	e.MaxSide = largestSide(spec, w, h, maxSide, func(g model.Geometry) bool {
		return b.Cost.Bytes(int64(g.ModelW)*int64(g.ModelH)+int64(m)*int64(max(g.ModelW, g.ModelH))) <= b.Limit/10*9
	})
	if e.MaxSide == 0 {
		e.SmallestSide = m
		e.Smallest = b.Cost.Bytes(int64(m) * int64(m))
	}
	return e
}

// largestSide is the largest --max-size, a multiple of the model's and no
// larger than what the w x h image is now fed at, whose geometry fits; 0
// when none does.
func largestSide(spec *model.Spec, w, h, maxSide int, fits func(model.Geometry) bool) int {
	m := max(1, spec.Multiple)
	long := max(w, h)
	if maxSide > 0 {
		long = min(long, maxSide)
	}
	for side := long / m * m; side >= m; side -= m {
		if g, err := spec.Fit(w, h, side); err == nil && fits(g) {
			return side
		}
	}
	return 0
}

// CrashSizeError is an inference that would crash ONNX Runtime whatever
// the memory: the model's Resize output would be too large for the
// kernel's 32-bit channel offsets (model.Spec.ResizeMaxPixels).
type CrashSizeError struct {
	W, H      int
	MaxPixels int64
	MaxSide   int // the largest --max-size that stays under it; 0 none
}

func (e *CrashSizeError) Error() string {
	msg := fmt.Sprintf("a %dx%d inference would crash ONNX Runtime (its Resize kernel overflows with this model above %.1f megapixels)",
		e.W, e.H, float64(e.MaxPixels)/1e6)
	if e.MaxSide > 0 {
		return msg + fmt.Sprintf(": use --max-size %d or less", e.MaxSide)
	}
	return msg
}

// checkResize refuses an inference over the model's ResizeMaxPixels.
func checkResize(spec *model.Spec, g model.Geometry, w, h, maxSide int) error {
	limit := spec.ResizeMaxPixels
	if limit <= 0 || int64(g.ModelW)*int64(g.ModelH) <= limit {
		return nil
	}
	e := &CrashSizeError{W: g.ModelW, H: g.ModelH, MaxPixels: limit}
	if spec.Dynamic() {
		e.MaxSide = largestSide(spec, w, h, maxSide, func(g model.Geometry) bool {
			return int64(g.ModelW)*int64(g.ModelH) <= limit
		})
	}
	return e
}

// BudgetStats is what the budget did, for reports.
type BudgetStats struct {
	Limit           int64   `json:"limit_bytes"`
	Source          string  `json:"source"`
	CostBase        int64   `json:"cost_base_bytes"`
	CostPerPixel    float64 `json:"cost_per_pixel_bytes"`
	CostSource      string  `json:"cost_source"`
	PeakConcurrency int     `json:"peak_admitted"` // most inferences admitted at once
	PeakBytes       int64   `json:"peak_admitted_bytes"`
	Largest         int64   `json:"largest_inference_bytes"`
}

// Stats reports the budget's figures so far.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStats{
		Limit: b.Limit, Source: b.Source, CostBase: b.Cost.Base, CostPerPixel: b.Cost.PerPixel,
		CostSource: b.Cost.Source, PeakConcurrency: b.peak, PeakBytes: b.peakBytes, Largest: b.largest,
	}
}

// aboutBytes rounds an estimate to what is worth saying: "108 GiB",
// "2.0 GiB", "750 MiB".
func aboutBytes(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%.0f GiB", float64(n)/(1<<30))
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func formatBytes(n int64) string { return sysmem.FormatBytes(n) }
