package profile

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/process"
)

// DefaultInterval is how often the parent samples a child: often enough to
// catch a peak of an inference that lasts a fraction of a second, rarely
// enough that reading /proc costs nothing measurable.
const DefaultInterval = 200 * time.Millisecond

// Sample is what the sampler saw at one instant. Memory is in bytes.
type Sample struct {
	At          time.Duration `json:"t"`           // since the sampler started
	CPUPercent  float64       `json:"cpu_percent"` // of all cores, since the previous sample
	RSS         uint64        `json:"rss"`
	Available   uint64        `json:"available"` // system available memory
	SwapUsed    uint64        `json:"swap_used"`
	MajorFaults uint64        `json:"major_faults"`   // the child's, cumulative
	PSISome     float64       `json:"psi_some_avg10"` // -1: no /proc/pressure/memory
	PSIFull     float64       `json:"psi_full_avg10"`
	CgroupMem   uint64        `json:"cgroup_current,omitempty"`
	OOMKills    uint64        `json:"oom_kills,omitempty"` // the cgroup's, cumulative
}

// Sampler watches one process from outside. It runs in the parent, so it
// can never slow the measured pipeline beyond the cost of reading /proc.
type Sampler struct {
	Pid      int
	Interval time.Duration
	Cores    int
	Cgroup   *Cgroup      // the child's cgroup, when it has one; else nil
	OnSample func(Sample) // optional, called on the sampler's goroutine
}

// Run samples until ctx ends or the process is gone, and returns the
// samples in order.
func (s *Sampler) Run(ctx context.Context) []Sample {
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	cores := float64(max(1, s.Cores))
	p, err := process.NewProcessWithContext(ctx, int32(s.Pid))
	if err != nil {
		return nil
	}
	start := time.Now()
	var (
		out      []Sample
		lastCPU  float64
		lastWall time.Time
	)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		now := time.Now()
		smp := Sample{At: now.Sub(start), PSISome: -1, PSIFull: -1}
		mi, err := p.MemoryInfoWithContext(ctx)
		if err != nil {
			return out // exited (or ctx ended)
		}
		smp.RSS = mi.RSS
		if ct, err := p.TimesWithContext(ctx); err == nil {
			cpu := ct.User + ct.System
			if !lastWall.IsZero() {
				if dt := now.Sub(lastWall).Seconds(); dt > 0 {
					smp.CPUPercent = max(0, (cpu-lastCPU)/dt/cores*100)
				}
			}
			lastCPU, lastWall = cpu, now
		}
		if pf, err := p.PageFaultsWithContext(ctx); err == nil {
			smp.MajorFaults = pf.MajorFaults
		}
		if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
			smp.Available = vm.Available
		}
		if sw, err := mem.SwapMemoryWithContext(ctx); err == nil {
			smp.SwapUsed = sw.Used
		}
		smp.PSISome, smp.PSIFull = readPSI("/proc/pressure/memory")
		if s.Cgroup != nil {
			smp.CgroupMem, smp.OOMKills = s.Cgroup.Usage()
		}
		out = append(out, smp)
		if s.OnSample != nil {
			s.OnSample(smp)
		}
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

// readPSI reads the avg10 of the "some" and "full" lines of a pressure
// file, in percent; -1 when the kernel has no PSI.
func readPSI(path string) (some, full float64) {
	some, full = -1, -1
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		for _, f := range strings.Fields(rest) {
			v, ok := strings.CutPrefix(f, "avg10=")
			if !ok {
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			switch kind {
			case "some":
				some = x
			case "full":
				full = x
			}
		}
	}
	return
}

// Usage sums up samples. From is when measurement began (the child's
// warm-up done), for the CPU mean; memory peaks count the whole life.
type Usage struct {
	Samples        int     `json:"samples"`
	CPUPercent     float64 `json:"cpu_percent"` // mean over the measurement, of all cores
	RSSPeak        uint64  `json:"rss_peak_bytes"`
	RSSMean        uint64  `json:"rss_mean_bytes"`
	AvailableMin   uint64  `json:"mem_available_min_bytes"`
	SwapRise       uint64  `json:"swap_rise_bytes"`
	MajorFaults    uint64  `json:"major_faults"` // the child's, over the measurement
	PSISomeMax     float64 `json:"psi_some_avg10_max"`
	PSIFullMax     float64 `json:"psi_full_avg10_max"`
	CgroupPeak     uint64  `json:"cgroup_peak_bytes,omitempty"`
	OOMKills       uint64  `json:"oom_kills"`
	MeasuredSecond float64 `json:"measured_s"`
}

// Summarize reduces samples to a level's usage; from is the sampler time
// at which measurement began (0: from the first sample).
func Summarize(ss []Sample, from time.Duration) Usage {
	u := Usage{Samples: len(ss), PSISomeMax: -1, PSIFullMax: -1}
	if len(ss) == 0 {
		return u
	}
	var (
		rssSum        float64
		cpuSum        float64
		cpuN          int
		firstMeasured = -1
	)
	u.AvailableMin = ss[0].Available
	for i, s := range ss {
		u.RSSPeak = max(u.RSSPeak, s.RSS)
		rssSum += float64(s.RSS)
		if s.Available > 0 {
			u.AvailableMin = min(u.AvailableMin, s.Available)
		}
		if s.SwapUsed > ss[0].SwapUsed {
			u.SwapRise = max(u.SwapRise, s.SwapUsed-ss[0].SwapUsed)
		}
		u.PSISomeMax = max(u.PSISomeMax, s.PSISome)
		u.PSIFullMax = max(u.PSIFullMax, s.PSIFull)
		u.CgroupPeak = max(u.CgroupPeak, s.CgroupMem)
		if s.OOMKills > ss[0].OOMKills {
			u.OOMKills = s.OOMKills - ss[0].OOMKills
		}
		if s.At >= from && i > 0 {
			if firstMeasured < 0 {
				firstMeasured = i
			}
			cpuSum += s.CPUPercent
			cpuN++
		}
	}
	u.RSSMean = uint64(rssSum / float64(len(ss)))
	if cpuN > 0 {
		u.CPUPercent = cpuSum / float64(cpuN)
	}
	if firstMeasured >= 0 {
		last := ss[len(ss)-1]
		base := ss[max(0, firstMeasured-1)]
		if last.MajorFaults > base.MajorFaults {
			u.MajorFaults = last.MajorFaults - base.MajorFaults
		}
		u.MeasuredSecond = (last.At - base.At).Seconds()
	}
	return u
}
