package profile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"animegan/convert"
	"animegan/model"
	"animegan/pipeline"
)

// Stability rule, after Triton perf_analyzer: a level is measured once the
// throughputs of its last StableWindows windows agree within
// StableTolerance (max − min ≤ 10% of their mean).
const (
	StableWindows   = 3
	StableTolerance = 0.10
)

// LevelConfig is one level of a sweep, as the parent hands it to a child.
// Engine is what convert.Options.EngineOptions gives for the level's -j and
// the sweep's flags, and Format convert's --format: the child runs
// convert's own stages on that engine, so it measures exactly what
// `animegan convert` with these flags would run.
type LevelConfig struct {
	Jobs      convert.Jobs          `json:"jobs"`
	Engine    convert.EngineOptions `json:"engine"`
	Format    convert.OutputFormat  `json:"format"`
	ModelName string                `json:"model_name"`
	ModelPath string                `json:"model_path"` // "" = the built-in model
	Overrides model.Overrides       `json:"overrides"`
	ORTLib    string                `json:"ort_lib"`
	Inputs    []string              `json:"inputs"` // photos, cycled

	Window     time.Duration `json:"window"`      // shortest measurement window
	MaxWindows int           `json:"max_windows"` // give up on stability after this many
	Limit      time.Duration `json:"limit"`       // the whole level, warm-up included
}

// Event is one line a child writes on stdout: progress ("warm", "window")
// and, last, the "result".
type Event struct {
	Type    string       `json:"type"`
	Elapsed float64      `json:"elapsed_s"`
	Window  *Window      `json:"window,omitempty"`
	Result  *LevelResult `json:"result,omitempty"`
}

// Window is one measurement window.
type Window struct {
	Seconds float64 `json:"seconds"`
	Images  int     `json:"images"` // succeeded in the window
	Failed  int     `json:"failed"`
	IPS     float64 `json:"images_per_second"`
}

// StageResult is one pipeline stage's share of the measured run.
type StageResult struct {
	Workers        int     `json:"workers"`
	BusySeconds    float64 `json:"busy_s"`
	QueueWaitS     float64 `json:"queue_wait_s"`
	AdmitWaitS     float64 `json:"admit_wait_s,omitempty"`
	Utilization    float64 `json:"utilization"`
	MeanBusyPerImg float64 `json:"busy_per_image_ms"`
}

// LevelResult is what a child measured. The parent adds what it sampled
// from outside (see Level).
type LevelResult struct {
	Jobs           convert.Jobs `json:"workers"`
	Session        string       `json:"session"`
	IntraOpThreads int          `json:"intra_op_threads"`
	WarmupSeconds  float64      `json:"warmup_s"`
	Windows        []Window     `json:"windows"`
	Stable         bool         `json:"stable"`
	TimedOut       bool         `json:"timed_out"`
	IPS            float64      `json:"images_per_second"`
	Spread         float64      `json:"images_per_second_spread"` // half the range of the windows used
	Images         int          `json:"images"`                   // measured successes
	Failed         int          `json:"failed"`
	FirstError     string       `json:"first_error,omitempty"`
	LatencyP50     float64      `json:"latency_p50_ms"`
	LatencyP95     float64      `json:"latency_p95_ms"`
	LatencyMax     float64      `json:"latency_max_ms"`
	// Stages by name (decode, infer, encode), over the measured run.
	Stages     map[pipeline.Stage]StageResult `json:"stages"`
	Bottleneck pipeline.Stage                 `json:"bottleneck"`
	// From getrusage in the child: major page faults during measurement
	// and the peak RSS the kernel recorded (a cross-check of the sampler).
	MajorFaults int64 `json:"major_faults"`
	MaxRSSBytes int64 `json:"child_max_rss_bytes"`
	// Budget is what convert's memory budget admitted (nil when off).
	Budget *convert.BudgetStats `json:"memory_budget,omitempty"`
	// Admissible is how many inferences the engine can run at once (its
	// sessions): the inference workers, or fewer under the budget.
	Admissible int `json:"admissible_workers"`
	// Tiled counts the inferences of the measured run that ran as tiles
	// (--tile), as convert runs them.
	Tiled int `json:"tiled_images,omitempty"`
}

// MeasureLevel is the child's side of one level: it opens convert's Engine
// with cfg's settings, as convert does, warms it up (one image per inference
// worker), then runs the pipeline over the cycled inputs, closing a window
// whenever at least cfg.Window has passed and every worker could finish an
// image (as many images as inference workers), until the last
// StableWindows windows agree, cfg.MaxWindows were measured or cfg.Limit
// ran out. emit receives progress; it runs on the pipeline's collector.
func MeasureLevel(ctx context.Context, cfg LevelConfig, modelData []byte, emit func(Event)) (result *LevelResult, err error) {
	start := time.Now()
	if emit == nil {
		emit = func(Event) {}
	}
	if len(cfg.Inputs) == 0 {
		return nil, errors.New("no input photos")
	}
	if cfg.Limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Limit)
		defer cancel()
	}
	if _, err := model.Load(cfg.ORTLib); err != nil {
		return nil, err
	}
	spec, err := model.Inspect(cfg.ModelName, modelData, cfg.Overrides)
	if err != nil {
		return nil, err
	}
	eng, err := convert.OpenEngine(spec, modelData, cfg.Engine)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	if b := eng.Budget(); b != nil {
		// Read when the level ends: the peak admitted is what it did.
		defer func(res **LevelResult) {
			if *res != nil {
				st := b.Stats()
				(*res).Budget = &st
			}
		}(&result)
	}

	res := &LevelResult{
		Jobs: cfg.Jobs, Session: cfg.Engine.Session.String(), IntraOpThreads: cfg.Engine.Session.IntraOpThreads,
		Stages: map[pipeline.Stage]StageResult{}, Admissible: eng.MaxSessions(),
	}
	pcfg := pipeline.Config{Decoders: cfg.Jobs.Decode, Inferers: cfg.Jobs.Infer, Encoders: cfg.Jobs.Encode}
	var tiled atomic.Int64
	// convert's stages, encoding into io.Discard: the file write and fsync
	// are left out of the measurement. The run is open-ended (Total 0), so
	// no photo takes the last photo's wide session.
	st := convert.Stages(eng, convert.StageHooks[string]{
		Photo: func(path string) (string, convert.OutputFormat) {
			return path, convert.OutputFormatFor(path, cfg.Format)
		},
		Store: func(_ string, encode func(io.Writer) error) error { return encode(io.Discard) },
		Tiled: func(string, convert.TileInfo) { tiled.Add(1) },
	})

	// Warm-up: sessions are open; one image per inference worker lets ONNX
	// Runtime plan its kernels and grow its arenas before anything counts.
	warm := cycle(cfg.Inputs, cfg.Jobs.Infer)
	_, err = pipeline.Run(ctx, pcfg, warm, st, func(r pipeline.Result[string]) error {
		res.noteFailure(r)
		return nil
	})
	if ctx.Err() != nil {
		res.TimedOut = true
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	res.WarmupSeconds = time.Since(start).Seconds()
	tiled.Store(0)
	emit(Event{Type: "warm", Elapsed: res.WarmupSeconds})
	faults0 := majorFaults()

	// Measurement: one run over the endless cycle, cut by cancelling it
	// once the windows are stable (items in flight are then dropped and
	// not counted).
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		lat      []time.Duration
		win      Window
		winStart = time.Now()
		finished bool
	)
	stats, err := pipeline.Run(mctx, pcfg, cycle(cfg.Inputs, -1), st, func(r pipeline.Result[string]) error {
		if r.Canceled() || finished {
			return nil
		}
		now := time.Now()
		if r.Err != nil {
			res.noteFailure(r)
			win.Failed++
		} else {
			res.Images++
			win.Images++
			lat = append(lat, r.Timings.Latency)
		}
		el := now.Sub(winStart)
		if el < cfg.Window || win.Images+win.Failed < cfg.Jobs.Infer {
			return nil
		}
		win.Seconds = el.Seconds()
		win.IPS = float64(win.Images) / win.Seconds
		res.Windows = append(res.Windows, win)
		emit(Event{Type: "window", Elapsed: time.Since(start).Seconds(), Window: &win})
		win, winStart = Window{}, now
		if Stable(res.Windows) || (cfg.MaxWindows > 0 && len(res.Windows) >= cfg.MaxWindows) {
			finished = true
			stop()
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	res.TimedOut = !finished
	res.MajorFaults = majorFaults() - faults0
	res.MaxRSSBytes = maxRSS()
	res.Stable = Stable(res.Windows)
	res.IPS, res.Spread = Throughput(res.Windows, res.Stable)
	if len(res.Windows) == 0 && stats.Wall > 0 {
		// Not one full window before the limit: the best estimate left is
		// the whole measured run.
		res.IPS = float64(res.Images) / stats.Wall.Seconds()
	}
	res.LatencyP50 = ms(Percentile(lat, 0.50))
	res.LatencyP95 = ms(Percentile(lat, 0.95))
	res.LatencyMax = ms(Percentile(lat, 1))
	for _, s := range []pipeline.Stage{pipeline.StageDecode, pipeline.StageInfer, pipeline.StageEncode} {
		ss := stats.Stage(s)
		sr := StageResult{
			Workers: ss.Workers, BusySeconds: ss.Busy.Seconds(), QueueWaitS: ss.QueueWait.Seconds(),
			AdmitWaitS: ss.AdmitWait.Seconds(), Utilization: stats.Utilization(s),
		}
		if ss.Items > 0 {
			sr.MeanBusyPerImg = ms(ss.Busy / time.Duration(ss.Items))
		}
		res.Stages[s] = sr
	}
	res.Bottleneck = stats.Bottleneck()
	res.Tiled = int(tiled.Load())
	return res, nil
}

func (r *LevelResult) noteFailure(p pipeline.Result[string]) {
	if p.Err == nil || p.Canceled() {
		return
	}
	r.Failed++
	if r.FirstError == "" {
		r.FirstError = fmt.Sprintf("%s: %v", p.Item, p.Err)
	}
}

// cycle yields the photos round and round, n in all (n < 0: forever).
func cycle(paths []string, n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; n < 0 || i < n; i++ {
			if !yield(paths[i%len(paths)]) {
				return
			}
		}
	}
}

// Stable reports whether the last StableWindows windows agree within
// StableTolerance of their mean.
func Stable(ws []Window) bool {
	if len(ws) < StableWindows {
		return false
	}
	lo, hi, mean := spread(ws[len(ws)-StableWindows:])
	if mean == 0 {
		return hi == 0
	}
	return hi-lo <= StableTolerance*mean
}

// Throughput is the level's images per second. Stable: the mean of the
// last StableWindows windows, ± half their range. Unstable: every window
// counts (all images over all the time), ± half the range of all windows,
// since a lucky run of three would say more than the data does.
func Throughput(ws []Window, stable bool) (ips, pm float64) {
	if len(ws) == 0 {
		return 0, 0
	}
	if stable {
		ws = ws[len(ws)-StableWindows:]
		lo, hi, mean := spread(ws)
		return mean, (hi - lo) / 2
	}
	var n, secs float64
	for _, w := range ws {
		n += float64(w.Images)
		secs += w.Seconds
	}
	lo, hi, _ := spread(ws)
	if secs > 0 {
		ips = n / secs
	}
	return ips, (hi - lo) / 2
}

func spread(ws []Window) (lo, hi, mean float64) {
	lo = ws[0].IPS
	for _, w := range ws {
		lo, hi = min(lo, w.IPS), max(hi, w.IPS)
		mean += w.IPS
	}
	return lo, hi, mean / float64(len(ws))
}

// Percentile is the nearest-rank percentile (q in 0..1) of ds.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func majorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return int64(ru.Majflt)
}

// maxRSS is the process's peak resident set (Linux reports kilobytes).
func maxRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}
