package profile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"animegan/convert"
	"animegan/internal/sysmem"
)

// Defaults the command and the docs share.
const (
	// DefaultWindow is the shortest measurement window: long enough to
	// hold a few images of the built-in model, short enough that three
	// agreeing windows take seconds. Windows also last until every worker
	// could finish an image, so slow models get longer windows by themselves.
	DefaultWindow = 4 * time.Second
	// DefaultLevelTimeout bounds one level, start-up and warm-up included:
	// an AnimeGANv2-sized model at 512 px needs ~3.5 s per image per core,
	// so eight workers' windows take half a minute each.
	DefaultLevelTimeout = 3 * time.Minute
	// DefaultMaxWindows gives up on stability after this many windows (the
	// level is reported "unstable", measured from its last three).
	DefaultMaxWindows = 6
	// killGrace is how long past its limit a child may take to report
	// before it is killed.
	killGrace = 30 * time.Second
)

// Options is one sweep.
type Options struct {
	Levels []int
	// Convert is the convert run every level measures: its flags, model and
	// cores (ApplyDefaults done). Jobs is set per level; ModelData stays in
	// the parent (the child reads Level.ModelPath).
	Convert convert.Options
	// Level is the measurement's template: Inputs, ModelPath, Window,
	// MaxWindows and Limit. Jobs, Engine, Format and the model's fields are
	// set per level from Convert.
	Level          LevelConfig
	MemLimit       uint64 // --mem-limit; 0 = the cgroup's limit or total RAM
	StopOnPressure bool
	// Full runs every level: no end past the best (see EndOfSweep).
	Full       bool
	Interval   time.Duration
	Thresholds Thresholds

	// Child is how a level's process is started: Child[0] is the
	// executable, the rest its arguments; it reads a LevelConfig as JSON
	// on stdin and writes Events as JSON lines on stdout.
	Child []string
	Env   []string // added to the environment of each child

	Observer Observer // optional
}

// Observer is told about the sweep's progress. The package never prints.
type Observer interface {
	LevelStart(i, n, jobs int)
	LevelEvent(jobs int, e Event)
	LevelDone(l *Level)
}

// Result is a whole sweep.
type Result struct {
	Started     time.Time  `json:"started"`
	Seconds     float64    `json:"seconds"`
	Cores       int        `json:"cores"`
	CPUModel    string     `json:"cpu_model"`
	Memory      Memory     `json:"memory"`
	Cgroup      string     `json:"cgroup"` // how --mem-limit was enforced, or why not
	Settings    Settings   `json:"settings"`
	Thresholds  Thresholds `json:"thresholds"`
	Sweep       []int      `json:"sweep"`
	Levels      []Level    `json:"levels"`
	StoppedAt   string     `json:"stopped,omitempty"` // why the sweep ended early
	Interrupted bool       `json:"interrupted"`
	Baseline    *Baseline  `json:"baseline,omitempty"` // the comparison with --baseline
	Decision
	Verdict []string `json:"verdict"`
}

// Settings are the convert settings every level ran with.
type Settings struct {
	Model       string `json:"model"`
	ModelSHA256 string `json:"model_sha256"`
	MaxSide     int    `json:"max_size"`
	KeepSize    bool   `json:"keep_size"`
	Format      string `json:"format"`
	Quality     int    `json:"quality"`
	Metadata    string `json:"metadata,omitempty"` // --metadata keep|strip
	Colour      string `json:"color,omitempty"`    // --color srgb|input
	Threads     int    `json:"threads"`
	MemBudget   int64  `json:"mem_budget"` // --mem-budget: 0 convert's default, -1 off, else bytes
	// Tile and TileOverlap are --tile (auto, off or the side) and
	// --tile-overlap (pixels, or "model"); "" in profiles written before
	// tiling existed (TileName).
	Tile         string  `json:"tile,omitempty"`
	TileOverlap  string  `json:"tile_overlap,omitempty"`
	Photos       int     `json:"photos"`
	WindowSecs   float64 `json:"window_s"`
	LevelTimeout float64 `json:"level_timeout_s"`
	Encode       string  `json:"encode"`
}

// Run sweeps the levels, one child process each, and decides.
func Run(ctx context.Context, o Options) (*Result, error) {
	if len(o.Levels) == 0 || len(o.Child) == 0 {
		return nil, errors.New("profile: no levels or no child command")
	}
	if o.Thresholds == (Thresholds{}) {
		o.Thresholds = DefaultThresholds
	}
	start := time.Now()
	res := &Result{
		Started: start, Cores: o.Convert.Cores, Thresholds: o.Thresholds, Sweep: o.Levels,
		Settings: SettingsOf(o),
	}
	res.Memory = memoryFor(o.MemLimit)
	res.CPUModel = CPUModel()
	useCgroup := o.MemLimit > 0
	if !useCgroup {
		res.Cgroup = "not used (no --mem-limit)"
	}
	for i, n := range o.Levels {
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		cfg, err := levelConfig(o, n)
		if err != nil {
			return nil, err
		}
		var cg *Cgroup
		if useCgroup {
			cg, err = NewLimitedCgroup(fmt.Sprintf("animegan-profile-%d-%d", os.Getpid(), n), o.MemLimit)
			if err != nil {
				res.Cgroup = "not enforced: " + err.Error() + "; relying on the sampler and the early kill"
				useCgroup = false
			} else {
				res.Cgroup = cg.Describe
			}
		}
		if o.Observer != nil {
			o.Observer.LevelStart(i, len(o.Levels), n)
		}
		l := superviseLevel(ctx, o, cfg, cg, res.Memory)
		cg.Remove()
		l.Jobs = n
		l.Signals = Signals(&l, res.Memory, o.Thresholds)
		res.Levels = append(res.Levels, l)
		if o.Observer != nil {
			o.Observer.LevelDone(&res.Levels[len(res.Levels)-1])
		}
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		if i == len(o.Levels)-1 {
			break
		}
		if len(l.Signals) > 0 && o.StopOnPressure {
			res.StoppedAt = fmt.Sprintf("memory pressure at -j %d (%s); further levels would only thrash (--stop-on-pressure=false goes on)", n, l.Signals[0])
			break
		}
		if why := EndOfSweep(res.Levels, o.Thresholds); why != "" && !o.Full {
			res.StoppedAt = why + "; --full runs every level"
			break
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if len(res.Levels) > 0 {
		res.Decision = Decide(res.Levels, o.Thresholds)
		res.Verdict = Verdict(res.Levels, res.Decision, res.Memory)
	}
	return res, nil
}

// levelConfig is level n of the sweep: convert's -j n, with the engine
// settings convert itself derives for it.
func levelConfig(o Options, n int) (LevelConfig, error) {
	co := o.Convert
	jobs, err := convert.ParseJobs(strconv.Itoa(n), co.Cores)
	if err != nil {
		return LevelConfig{}, err
	}
	co.Jobs = jobs
	cfg := o.Level
	cfg.Jobs, cfg.Engine, cfg.Format = jobs, co.EngineOptions(), co.Format
	cfg.ModelName, cfg.Overrides, cfg.ORTLib = co.ModelName, co.Overrides, co.ORTLib
	return cfg, nil
}

// SettingsOf are the settings a sweep with o reports.
func SettingsOf(o Options) Settings {
	s := Settings{
		Model: o.Convert.ModelName, ModelSHA256: ModelSHA256(o.Convert.ModelData),
		MaxSide: o.Convert.MaxSide, KeepSize: o.Convert.KeepSize, Format: string(o.Convert.Format),
		Quality: o.Convert.Quality, Metadata: string(o.Convert.Metadata), Colour: string(o.Convert.Colour),
		Threads: o.Convert.Threads, MemBudget: o.Convert.MemBudget,
		Tile: o.Convert.Tile.String(), TileOverlap: o.Convert.Tile.OverlapString(),
		Photos:     len(o.Level.Inputs),
		WindowSecs: o.Level.Window.Seconds(), LevelTimeout: o.Level.Limit.Seconds(),
		Encode: "in memory (io.Discard); file writes not measured",
	}
	if s.Format == "" {
		s.Format = "keep"
	}
	return s
}

// MemoryLimit is the limit a sweep with --mem-limit limit judges pressure
// against (0: the cgroup's limit, else total RAM).
func MemoryLimit(limit uint64) uint64 { return memoryFor(limit).Limit }

// memoryFor is what pressure is judged against: --mem-limit, else the
// smallest limit on this process (its cgroup's or an ancestor's,
// memory.high, RLIMIT_AS: convert's budget reads the same), else total RAM.
func memoryFor(limit uint64) Memory {
	l := sysmem.ReadLimit()
	m := Memory{Total: uint64(max(0, l.Total))}
	switch {
	case limit > 0:
		m.Limit, m.LimitSource = limit, "--mem-limit"
	default:
		m.Limit, m.LimitSource = m.Total, "total RAM"
		if b, source := l.Bound(); b > 0 && (m.Total == 0 || uint64(b) < m.Total) {
			m.Limit, m.LimitSource = uint64(b), source
		}
	}
	return m
}

// superviseLevel runs one level's child process (MeasureLevel), samples
// it from outside, and turns what it said and what was sampled into a
// Level. It never fails: a child that cannot run is a failed level.
func superviseLevel(ctx context.Context, o Options, cfg LevelConfig, cg *Cgroup, m Memory) Level {
	l := Level{Workers: cfg.Jobs, Session: cfg.Engine.Session.String(), PSISomeMax: -1, PSIFullMax: -1}
	in, err := json.Marshal(cfg)
	if err != nil {
		l.Status, l.Error = StatusFailed, err.Error()
		return l
	}
	cmd := exec.Command(o.Child[0], o.Child[1:]...)
	cmd.Env = append(os.Environ(), o.Env...)
	// The level's configuration is written once the child is in its
	// cgroup: it reads it before doing anything else.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		l.Status, l.Error = StatusFailed, err.Error()
		return l
	}
	stderr := &tail{max: 8 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.Status, l.Error = StatusFailed, err.Error()
		return l
	}
	// The child dies with the sweep, whatever happens to the parent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if cg != nil && cg.V2 {
		if dir, err := os.Open(cg.Dir); err == nil {
			defer dir.Close()
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(dir.Fd())
		}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		l.Status, l.Error = StatusFailed, "starting the level: "+err.Error()
		return l
	}
	if cg != nil && !cg.V2 {
		if err := cg.Enter(cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			l.Status, l.Error = StatusFailed, err.Error()
			return l
		}
	}
	go func() {
		stdin.Write(in) // a child that died early is seen by Wait
		stdin.Close()
	}()

	var (
		mu      sync.Mutex
		killed  string // why we killed it, if we did
		warmAt  time.Duration
		result  *LevelResult
		samples []Sample
	)
	kill := func(why string) {
		mu.Lock()
		defer mu.Unlock()
		if killed == "" {
			killed = why
			cmd.Process.Kill()
		}
	}
	guard := func(s Sample) {
		th := o.Thresholds
		switch {
		case m.Limit > 0 && float64(max(s.RSS, s.CgroupMem)) > th.GuardFraction*float64(m.Limit):
			kill(fmt.Sprintf("RSS %s passed the %s limit", Bytes(max(s.RSS, s.CgroupMem)), Bytes(m.Limit)))
		case m.Total > 0 && s.Available > 0 && float64(s.Available) < 0.05*float64(m.Total):
			kill(fmt.Sprintf("system available memory fell to %s", Bytes(s.Available)))
		}
	}
	sctx, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := &Sampler{Pid: cmd.Process.Pid, Interval: o.Interval, Cores: o.Convert.Cores, Cgroup: cg, OnSample: guard}
		samples = s.Run(sctx)
	}()
	hard := time.AfterFunc(cfg.Limit+killGrace, func() { kill("timeout") })
	defer hard.Stop()
	stopOnCancel := context.AfterFunc(ctx, func() { kill("interrupted") })
	defer stopOnCancel()

	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch e.Type {
		case "warm":
			warmAt = time.Since(start)
		case "result":
			result = e.Result
		}
		if o.Observer != nil {
			o.Observer.LevelEvent(cfg.Jobs.Infer, e)
		}
	}
	waitErr := cmd.Wait()
	l.Seconds = time.Since(start).Seconds()
	stopSampling()
	<-sampled

	l.Samples = samples
	u := Summarize(samples, warmAt)
	l.CPUPercent, l.RSSPeak, l.RSSMean, l.AvailableMin = u.CPUPercent, u.RSSPeak, u.RSSMean, u.AvailableMin
	l.PSISomeMax, l.PSIFullMax, l.SwapRise, l.MajorFaults = u.PSISomeMax, u.PSIFullMax, u.SwapRise, u.MajorFaults
	l.OOMKills, l.CgroupPeak, l.MeasuredSecs = u.OOMKills, u.CgroupPeak, u.MeasuredSecond
	if cg != nil {
		_, l.OOMKills = cg.Usage() // the cgroup is fresh: its count is this level's
	}
	if result != nil {
		l.fill(result)
		if result.MaxRSSBytes > 0 && uint64(result.MaxRSSBytes) > l.RSSPeak {
			// A peak between two samples: the kernel's own record is exact.
			l.RSSPeak = uint64(result.MaxRSSBytes)
		}
	}

	mu.Lock()
	why := killed
	mu.Unlock()
	var ee *exec.ExitError
	signaled := errors.As(waitErr, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() &&
		ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
	switch {
	case why == "timeout":
		l.Status, l.Error = StatusTimeout, fmt.Sprintf("no result %s after --level-timeout", killGrace)
	case why == "interrupted":
		l.Status, l.Error = StatusFailed, "interrupted"
	case why != "":
		l.Status, l.Error = StatusStopped, why
	case l.OOMKills > 0 || (signaled && result == nil):
		l.Status, l.Error = StatusOOMKilled, "killed by SIGKILL (the kernel's OOM killer)"
	case waitErr != nil || result == nil:
		l.Status = StatusFailed
		l.Error = lastLine(stderr.String())
		if l.Error == "" && waitErr != nil {
			l.Error = waitErr.Error()
		}
	default:
		status, why := measuredStatus(result)
		l.Status = status
		if why != "" {
			l.Error = why
		}
		if status == StatusTimeout {
			// What a cut-off level did stays in its windows; it is no
			// throughput to compare or print.
			l.IPS, l.Spread = 0, 0
		}
	}
	return l
}

// measuredStatus is the status of a level whose child ran to its end and
// reported r, and the reason when it is not a measurement. A level cut
// off by --level-timeout before StableWindows windows has no throughput
// that the stability rule could vouch for: it is a timeout, whatever its
// windows said.
func measuredStatus(r *LevelResult) (status, why string) {
	switch {
	case r.Images == 0 && r.Failed > 0:
		return StatusFailed, "every image failed: " + r.FirstError
	case r.Images == 0:
		return StatusTimeout, "not one image measured before --level-timeout"
	case r.TimedOut && len(r.Windows) < StableWindows:
		return StatusTimeout, fmt.Sprintf("--level-timeout cut the level after %d measurement window%s (%d images); a throughput needs %d",
			len(r.Windows), plural(len(r.Windows)), r.Images, StableWindows)
	case r.Stable:
		return StatusOK, ""
	}
	return StatusUnstable, ""
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (l *Level) fill(r *LevelResult) {
	l.IPS, l.Spread, l.Stable, l.Windows = r.IPS, r.Spread, r.Stable, r.Windows
	l.Images, l.Failed = r.Images, r.Failed
	l.LatencyP50, l.LatencyP95, l.LatencyMax = r.LatencyP50, r.LatencyP95, r.LatencyMax
	l.WarmupSeconds, l.Bottleneck, l.Stages = r.WarmupSeconds, r.Bottleneck, r.Stages
	l.Budget, l.Admissible, l.Tiled = r.Budget, r.Admissible, r.Tiled
	if l.Error == "" && r.FirstError != "" {
		l.Error = r.FirstError
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
