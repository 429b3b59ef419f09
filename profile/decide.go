package profile

import (
	"fmt"
	"slices"

	"animegan/convert"
	"animegan/pipeline"
)

// Level statuses.
const (
	StatusOK        = "ok"              // windows agreed: a stable measurement
	StatusUnstable  = "unstable"        // measured, but windows never agreed before the limit
	StatusTimeout   = "timeout"         // fewer than StableWindows windows before --level-timeout
	StatusFailed    = "failed"          // the child failed, or every image did
	StatusOOMKilled = "oom-killed"      // killed by the kernel (SIGKILL we did not send, or a cgroup OOM kill)
	StatusStopped   = "stopped: memory" // we killed it: its memory passed the limit
)

// Pressure signals, in the order they are checked and named.
const (
	SignalOOMKill   = "oom-kill"
	SignalStopped   = "stopped: memory"
	SignalRSS       = "rss"
	SignalAvailable = "available"
	SignalPSI       = "psi"
	SignalSwap      = "swap"
	SignalFaults    = "major-faults"
)

// Thresholds are the decision rules' numbers. DefaultThresholds explains each.
type Thresholds struct {
	PlateauFraction   float64 `json:"plateau_fraction"`
	RSSFraction       float64 `json:"rss_fraction"`
	AvailableFraction float64 `json:"available_fraction"`
	PSISome           float64 `json:"psi_some_avg10"`
	SwapRise          uint64  `json:"swap_rise_bytes"`
	MajorFaultsPerSec float64 `json:"major_faults_per_second"`
	GuardFraction     float64 `json:"guard_fraction"`
	StopAfter         int     `json:"stop_after_levels"`
}

// DefaultThresholds:
//   - plateau at 95% of the best throughput: Triton model_analyzer stops
//     searching once a step gains 5% or less, and on a shared machine the
//     windows' own spread is of that order, so 5% is "within noise";
//   - peak RSS over 80% of the memory limit leaves too little headroom for
//     a larger photo than the corpus holds, or for the rest of the machine;
//   - available memory under 10%: the kernel is already reclaiming caches;
//   - PSI memory "some" avg10 over 10%: tasks stalled on memory a tenth of
//     the time (the kernel's own measure of thrashing);
//   - swap use rising by 64 MiB, or over 10 major faults a second during
//     measurement: pages are going to disk and coming back;
//   - the guard kills a child whose RSS passes 100% of the limit, or when
//     available memory falls under 5%, so a sweep never thrashes;
//   - a sweep ends once 3 levels in a row past the best were below the
//     plateau fraction of it (EndOfSweep): one such level can be a burst of
//     other load, three in a row are a trend.
var DefaultThresholds = Thresholds{
	PlateauFraction:   0.95,
	RSSFraction:       0.80,
	AvailableFraction: 0.10,
	PSISome:           10,
	SwapRise:          64 << 20,
	MajorFaultsPerSec: 10,
	GuardFraction:     1.0,
	StopAfter:         3,
}

// Level is one measured level as reported: the child's figures and what
// the parent sampled.
type Level struct {
	Jobs          int                            `json:"jobs"`
	Workers       convert.Jobs                   `json:"workers"`
	Session       string                         `json:"session,omitempty"`
	Status        string                         `json:"status"`
	Error         string                         `json:"error,omitempty"`
	IPS           float64                        `json:"images_per_second"`
	Spread        float64                        `json:"images_per_second_spread"`
	Stable        bool                           `json:"stable"`
	Windows       []Window                       `json:"windows"`
	Images        int                            `json:"images"`
	Failed        int                            `json:"failed"`
	LatencyP50    float64                        `json:"latency_p50_ms"`
	LatencyP95    float64                        `json:"latency_p95_ms"`
	LatencyMax    float64                        `json:"latency_max_ms"`
	CPUPercent    float64                        `json:"cpu_percent"`
	RSSPeak       uint64                         `json:"rss_peak_bytes"`
	RSSMean       uint64                         `json:"rss_mean_bytes"`
	AvailableMin  uint64                         `json:"mem_available_min_bytes"`
	PSISomeMax    float64                        `json:"psi_some_avg10_max"` // -1: no PSI
	PSIFullMax    float64                        `json:"psi_full_avg10_max"`
	SwapRise      uint64                         `json:"swap_rise_bytes"`
	MajorFaults   uint64                         `json:"major_faults"`
	OOMKills      uint64                         `json:"oom_kills"`
	CgroupPeak    uint64                         `json:"cgroup_peak_bytes,omitempty"`
	WarmupSeconds float64                        `json:"warmup_s"`
	Seconds       float64                        `json:"seconds"` // the child's whole life
	MeasuredSecs  float64                        `json:"measured_s"`
	Bottleneck    pipeline.Stage                 `json:"bottleneck"`
	Stages        map[pipeline.Stage]StageResult `json:"stages,omitempty"`
	Signals       []string                       `json:"pressure_signals"` // every signal that fired
	Budget        *convert.BudgetStats           `json:"memory_budget,omitempty"`
	// Admissible is how many inferences the engine could run at once:
	// the inference workers, or fewer when the memory budget holds some
	// back (0: not known).
	Admissible int      `json:"admissible_workers,omitempty"`
	Tiled      int      `json:"tiled_images,omitempty"` // measured inferences that ran as tiles
	Samples    []Sample `json:"-"`
}

// Measured reports whether the level produced a throughput to compare.
func (l *Level) Measured() bool {
	return (l.Status == StatusOK || l.Status == StatusUnstable) && l.Images > 0
}

// Memory is what pressure is judged against.
type Memory struct {
	Total       uint64 `json:"total_bytes"`
	Limit       uint64 `json:"limit_bytes"`
	LimitSource string `json:"limit_source"` // --mem-limit, cgroup, total RAM
}

// Signals lists the pressure signals that fired for l, in check order.
func Signals(l *Level, m Memory, th Thresholds) []string {
	var out []string
	if l.Status == StatusOOMKilled || l.OOMKills > 0 {
		out = append(out, SignalOOMKill)
	}
	if l.Status == StatusStopped {
		out = append(out, SignalStopped)
	}
	if m.Limit > 0 && float64(max(l.RSSPeak, l.CgroupPeak)) > th.RSSFraction*float64(m.Limit) {
		out = append(out, SignalRSS)
	}
	if m.Total > 0 && l.AvailableMin > 0 && float64(l.AvailableMin) < th.AvailableFraction*float64(m.Total) {
		out = append(out, SignalAvailable)
	}
	if l.PSISomeMax > th.PSISome {
		out = append(out, SignalPSI)
	}
	if l.SwapRise > th.SwapRise {
		out = append(out, SignalSwap)
	}
	if l.MeasuredSecs > 0 && float64(l.MajorFaults)/l.MeasuredSecs > th.MajorFaultsPerSec {
		out = append(out, SignalFaults)
	}
	return out
}

// Decision is what the sweep concludes.
type Decision struct {
	BestJobs        int    `json:"best_jobs"`
	PlateauJobs     int    `json:"plateau_jobs"` // 0: nothing measured
	PressureJobs    *int   `json:"pressure_jobs"`
	PressureSignal  string `json:"pressure_signal"`
	RecommendedJobs int    `json:"recommended_jobs"` // 0: none
}

// Decide applies the rules to levels sorted by jobs, whose Signals are
// filled:
//
//   - pressure onset: the first level where any signal fired (the first
//     signal named);
//   - best: the measured level with the highest throughput;
//   - plateau: the smallest stable level (or, when none is, measured
//     level) with at least PlateauFraction of the best throughput;
//   - recommendation: the plateau when it is below the onset; otherwise
//     the plateau of the levels below the onset; none when the very first
//     level is under pressure.
func Decide(levels []Level, th Thresholds) Decision {
	var d Decision
	onset := len(levels)
	for i, l := range levels {
		if len(l.Signals) > 0 {
			onset = i
			j := l.Jobs
			d.PressureJobs, d.PressureSignal = &j, l.Signals[0]
			break
		}
	}
	d.BestJobs, d.PlateauJobs = plateau(levels, th)
	d.RecommendedJobs = d.PlateauJobs
	if d.PressureJobs != nil && (d.PlateauJobs == 0 || d.PlateauJobs >= *d.PressureJobs) {
		_, d.RecommendedJobs = plateau(levels[:onset], th)
	}
	return d
}

func plateau(levels []Level, th Thresholds) (best, plateau int) {
	var top float64
	for _, l := range levels {
		if l.Measured() && l.IPS > top {
			best, top = l.Jobs, l.IPS
		}
	}
	if best == 0 {
		return 0, 0
	}
	for _, stableOnly := range []bool{true, false} {
		for _, l := range levels {
			if l.Measured() && (l.Stable || !stableOnly) && l.IPS >= th.PlateauFraction*top {
				return best, l.Jobs
			}
		}
	}
	return best, best
}

// Verdict says in a few sentences what the sweep found.
func Verdict(levels []Level, d Decision, m Memory) []string {
	var out []string
	byJobs := func(j int) *Level {
		i := slices.IndexFunc(levels, func(l Level) bool { return l.Jobs == j })
		if i < 0 {
			return nil
		}
		return &levels[i]
	}
	if d.PlateauJobs == 0 {
		out = append(out, "No level finished a measurement: nothing to recommend.")
	} else {
		p, b := byJobs(d.PlateauJobs), byJobs(d.BestJobs)
		out = append(out, fmt.Sprintf("Throughput plateaus at -j %d: %.2f img/s, %.0f%% of the best (%.2f img/s at -j %d); more workers add nothing that is not noise.",
			p.Jobs, p.IPS, 100*p.IPS/b.IPS, b.IPS, b.Jobs))
		if last := lastMeasured(levels); last != nil && last.Jobs > b.Jobs && last.IPS < 0.9*b.IPS {
			out = append(out, fmt.Sprintf("Past the best it falls: %.2f img/s at -j %d (%.0f%% of the best).", last.IPS, last.Jobs, 100*last.IPS/b.IPS))
		}
	}
	if d.PressureJobs != nil {
		l := byJobs(*d.PressureJobs)
		out = append(out, fmt.Sprintf("Memory pressure from -j %d: %s (peak RSS %s of a %s limit from %s).",
			l.Jobs, describeSignal(d.PressureSignal), Bytes(max(l.RSSPeak, l.CgroupPeak)), Bytes(m.Limit), m.LimitSource))
	} else {
		out = append(out, fmt.Sprintf("No memory pressure up to -j %d (limit %s from %s).", levels[len(levels)-1].Jobs, Bytes(m.Limit), m.LimitSource))
	}
	switch {
	case d.RecommendedJobs > 0:
		out = append(out, fmt.Sprintf("Use -j %d.", d.RecommendedJobs))
	case d.PressureJobs != nil:
		out = append(out, "Even the first level is under memory pressure: lower --max-size or use a machine with more memory.")
	}
	return out
}

func lastMeasured(levels []Level) *Level {
	for i := len(levels) - 1; i >= 0; i-- {
		if levels[i].Measured() {
			return &levels[i]
		}
	}
	return nil
}

func describeSignal(s string) string {
	switch s {
	case SignalOOMKill:
		return "the level was OOM-killed"
	case SignalStopped:
		return "the level was stopped: its memory passed the limit"
	case SignalRSS:
		return "peak RSS over 80% of the memory limit"
	case SignalAvailable:
		return "system available memory under 10%"
	case SignalPSI:
		return "memory pressure stall (PSI some avg10) over 10%"
	case SignalSwap:
		return "swap use rising"
	case SignalFaults:
		return "major page faults rising"
	}
	return s
}

// Bytes formats a size in binary units.
func Bytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
