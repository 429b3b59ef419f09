package convert

import (
	"context"
	"fmt"
	"image"
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

// assumedCost is used where the peak RSS cannot be measured: what the
// AnimeGANv2 generator needs, the costliest model family we know of.
var assumedCost = CostModel{Base: 64 << 20, PerPixel: 3.5 * 1024, Source: "assumed"}

// calibrate measures the model's memory cost on this machine: the peak RSS
// inferences reach at two sizes above the RSS before the first run, fitted
// to Base + PerPixel x pixels. It runs before any other work, so the
// process's peak belongs to the measured runs alone. The session has ONNX
// Runtime's arena off, so that a run's memory is its own; what the C
// allocator keeps from an earlier, smaller run is reused by the next and
// does not count twice, since peaks are taken against the same baseline.
// A 15% margin covers allocator slack.
func calibrate(spec *model.Spec, data []byte) (CostModel, error) {
	if !sysmem.ResetPeak() {
		return assumedCost, nil
	}
	s, err := model.NewSession(spec, data, model.SessionOptions{InterOpThreads: 1})
	if err != nil {
		return CostModel{}, err
	}
	defer s.Close()
	sides := []int{64, 128, 256}
	if !spec.Dynamic() {
		sides = []int{0, 0} // warm-up and one measurement at the fixed size
	}
	baseline, _ := sysmem.Self()
	var px, peaks []int64
	for i, side := range sides {
		w, h := spec.FixedW, spec.FixedH
		if spec.Dynamic() {
			m := max(1, spec.Multiple)
			w, h = max(m, side/m*m), max(m, side/m*m)
		}
		sysmem.ResetPeak()
		if _, err := s.Run(context.Background(), image.NewNRGBA(image.Rect(0, 0, w, h))); err != nil {
			return CostModel{}, fmt.Errorf("calibrating memory use at %dx%d: %w", w, h, err)
		}
		_, peak := sysmem.Self()
		if i == 0 {
			continue // the first run pays one-time set-up costs
		}
		px = append(px, int64(w*h))
		peaks = append(peaks, max(0, peak-baseline))
	}
	c := CostModel{Source: "calibrated"}
	if len(px) == 1 {
		c.PerPixel = float64(peaks[0]) / float64(px[0])
	} else {
		c.PerPixel = max(0, float64(peaks[1]-peaks[0])/float64(px[1]-px[0]))
		c.Base = max(0, peaks[0]-int64(c.PerPixel*float64(px[0])))
	}
	c.Base = c.Base*115/100 + 16<<20
	c.PerPixel *= 1.15
	return c, nil
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

// DefaultBudget is a safe share of the memory this process may use: three
// quarters of its cgroup's limit when it has one (a container), else of the
// memory available when the run starts.
func DefaultBudget() (int64, string) {
	rss, _ := sysmem.Self()
	if limit := sysmem.CgroupLimit(); limit > 0 {
		return max(limit*3/4-rss, 64<<20), "75% of the cgroup memory limit"
	}
	if avail, _ := sysmem.Available(); avail > 0 {
		return max(avail*3/4, 64<<20), "75% of available memory"
	}
	return 4 << 30, "4 GiB (memory size unknown)"
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
