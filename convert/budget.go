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

// upperCost bounds what the image models we know take (the AnimeGANv2
// generator, the costliest, measures 3.1-3.5 KB per pixel with the arena):
// when the budget holds every worker at this cost, there is no need to
// calibrate.
var upperCost = CostModel{Base: 256 << 20, PerPixel: 8 * 1024, Source: "upper bound, not calibrated: the budget holds every worker even at this cost"}

// assumedCost is used where the peak RSS cannot be measured: what the
// AnimeGANv2 generator needs, the costliest model family we know of.
var assumedCost = CostModel{Base: 64 << 20, PerPixel: 3.5 * 1024, Source: "assumed"}

// calibrate measures the model's memory cost on this machine, as convert
// runs it: a fresh session (ONNX Runtime's CPU arena on) and one inference,
// at two sizes; the peak RSS each adds, from before its session was made,
// is fitted to Base + PerPixel x pixels. Base thus includes what a session
// costs by itself. Calibration runs before any other work, so the
// process's peak belongs to the measured run alone. The arena grows in
// powers of two, so at sizes well above the calibration's it reserves up to
// twice what the run needs: PerPixel gets a 1.5x margin (for the
// AnimeGANv2 generator, this estimates 0.95 GB at 512x512 and 3.7 GB at
// 1024x1024 against 0.8 and 3.6 GB measured), Base 10%.
func calibrate(spec *model.Spec, data []byte, worstPixels int64) (CostModel, error) {
	if !sysmem.ResetPeak() {
		return assumedCost, nil
	}
	// Measure near the sizes the run will see, up to 512: the arena's
	// growth makes small sizes underestimate large ones.
	top := min(512, int(math.Sqrt(float64(worstPixels))))
	sides := []int{max(16, top/2), max(32, top)}
	if !spec.Dynamic() {
		sides = []int{0}
	}
	var px, peaks []int64
	for _, side := range sides {
		w, h := spec.FixedW, spec.FixedH
		if spec.Dynamic() {
			m := max(1, spec.Multiple)
			w, h = max(m, side/m*m), max(m, side/m*m)
		}
		peak, err := measureRun(spec, data, w, h)
		if err != nil {
			return CostModel{}, err
		}
		px = append(px, int64(w*h))
		peaks = append(peaks, peak)
	}
	c := CostModel{Source: "calibrated"}
	if len(px) == 1 {
		c.PerPixel = float64(peaks[0]) / float64(px[0])
	} else {
		c.PerPixel = max(0, float64(peaks[1]-peaks[0])/float64(px[1]-px[0]))
		c.Base = max(0, peaks[0]-int64(c.PerPixel*float64(px[0])))
	}
	c.Base = c.Base*110/100 + 8<<20
	c.PerPixel *= 1.5
	return c, nil
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
// An inference larger than the whole budget is admitted alone rather than
// never: it is what the user asked for, and nothing else runs beside it.
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

// Acquire waits until px pixels' inference fits.
func (b *Budget) Acquire(ctx context.Context, px int64) (release func(), err error) {
	n := min(b.Cost.Bytes(px), b.Limit)
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

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
