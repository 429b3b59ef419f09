package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"animegan/convert"
	"animegan/model"
	"animegan/model/builtin"
	"animegan/profile"
)

// profileLevelCommand is the name of the hidden sub-command a sweep runs
// once per level, in a fresh process.
const profileLevelCommand = "profile-level"

func profileCommand() *cli.Command {
	return &cli.Command{
		Name:      "profile",
		Usage:     "measure convert at a sweep of -j values and recommend one for this machine",
		ArgsUsage: "PHOTO_OR_FOLDER...",
		Description: `Each level of the sweep runs convert's own pipeline (decode, inference, encode
into memory) with that many inference workers, in a fresh child process, on the photos
given (cycled). After a warm-up it measures windows until the throughput of the last
three agrees within 10%, or --level-timeout. The parent samples the child's CPU, RSS,
system memory, swap, page faults and PSI, and stops a child whose memory passes the limit.

It reports the plateau (the smallest -j with 95% of the best throughput), the memory
pressure onset (the first -j where peak RSS > 80% of the limit, available memory < 10%,
PSI memory some > 10%, swap or major faults rise, or the level is OOM-killed), and
the -j to use.

Examples:
   animegan profile --sweep 1..8 ./photos
   animegan profile --sweep 1..32x2 ./photos -m Hayao.onnx --max-size 512 --mem-limit 4GiB
   animegan profile --sweep 1,2,4 ./photos --json profile.json --csv profile.csv --plot profile.svg

Exit status: 0 with a result (even when levels crashed), 2 usage or setup error,
130/143 interrupted.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "sweep", Value: "1..8", Usage: "levels: `A..B` (every -j), A..BxF (A, A·F, …, B) or a list 1,2,4"},
			&cli.DurationFlag{Name: "window", Value: profile.DefaultWindow, Usage: "shortest measurement window (each also lasts until every worker finished an image)"},
			&cli.DurationFlag{Name: "level-timeout", Value: profile.DefaultLevelTimeout, Usage: "most time one level may take, start-up and warm-up included"},
			&cli.IntFlag{Name: "max-windows", Value: profile.DefaultMaxWindows, Usage: "give up waiting for 3 agreeing windows after this many"},
			&cli.StringFlag{Name: "mem-budget", DefaultText: "convert's default", Usage: "convert's --mem-budget for every level (e.g. 3GiB, or off): see the budget at work"},
			&cli.StringFlag{Name: "mem-limit", Usage: "judge memory pressure against `SIZE` (e.g. 4GiB, 512MiB) and run each level in a cgroup limited to it where the machine allows (default: the memory limit on this process, as convert reads it, or total RAM)"},
			&cli.BoolFlag{Name: "stop-on-pressure", Value: true, Usage: "stop the sweep at the first level under memory pressure"},
			&cli.DurationFlag{Name: "interval", Value: profile.DefaultInterval, Usage: "how often the child is sampled (100ms-1s)"},
			&cli.StringFlag{Name: "csv", Usage: "write one row per level to `FILE`"},
			&cli.StringFlag{Name: "json", Usage: "write the whole result to `FILE`"},
			&cli.StringFlag{Name: "plot", Usage: "draw throughput and RSS against -j into `FILE`.svg or .png"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress, only the report"},
			&cli.IntFlag{Name: "threads", DefaultText: "auto", Usage: "ONNX Runtime intra-op threads per inference worker (default cores / inference workers)"},
			&cli.IntFlag{Name: "max-size", Value: convert.DefaultMaxSide, Usage: "longest side fed to the model, in pixels; 0 = original size"},
			&cli.BoolFlag{Name: "keep-size", Usage: "scale each result back to its input's size"},
			&cli.StringFlag{Name: "format", Usage: "output format `jpg|png|webp` (default: as convert)"},
			&cli.IntFlag{Name: "quality", Value: convert.DefaultQuality, Usage: "JPEG quality 1-100"},
			&cli.Int64Flag{Name: "max-pixels", Value: convert.DefaultMaxPixels, Usage: "reject images with more pixels than this, from their header"},
			&cli.DurationFlag{Name: "timeout", DefaultText: "none", Usage: "give up on one image's inference after this long; 0 = never"},
		}, modelFlags()...),
		Action: runProfile,
	}
}

// profileOptions are the sweep's flags after checking.
type profileOptions struct {
	sweep    profile.Options
	csv      string
	json     string
	plot     string
	plotFmt  string
	quiet    bool
	photoArg []string
}

func parseProfileFlags(c *cli.Context) (*profileOptions, error) {
	if c.NArg() == 0 {
		return nil, usageError{errors.New("profile: name at least one photo or folder")}
	}
	levels, err := profile.ParseSweep(c.String("sweep"))
	if err != nil {
		return nil, usageError{err}
	}
	mdl, err := loadModel(c)
	if err != nil {
		return nil, err
	}
	format, err := convert.ParseFormat(c.String("format"))
	if err != nil {
		return nil, usageError{err}
	}
	var limit uint64
	if s := c.String("mem-limit"); s != "" {
		if limit, err = parseSize(s); err != nil {
			return nil, usageError{fmt.Errorf("--mem-limit: %w", err)}
		}
	}
	switch {
	case c.Duration("window") <= 0:
		return nil, usageError{fmt.Errorf("--window %s: must be positive", c.Duration("window"))}
	case c.Duration("level-timeout") <= 0:
		return nil, usageError{fmt.Errorf("--level-timeout %s: must be positive", c.Duration("level-timeout"))}
	case c.Int("max-windows") < profile.StableWindows:
		return nil, usageError{fmt.Errorf("--max-windows %d: must be at least %d", c.Int("max-windows"), profile.StableWindows)}
	case c.Duration("interval") < 50*time.Millisecond || c.Duration("interval") > 5*time.Second:
		return nil, usageError{fmt.Errorf("--interval %s: want 50ms to 5s", c.Duration("interval"))}
	}
	po := &profileOptions{csv: c.String("csv"), json: c.String("json"), plot: c.String("plot"), quiet: c.Bool("quiet"), photoArg: c.Args().Slice()}
	if po.plot != "" {
		if po.plotFmt, err = profile.PlotFormat(po.plot); err != nil {
			return nil, usageError{err}
		}
	}
	// The same checks convert makes, so a sweep never starts with
	// settings convert would refuse.
	co := convert.Options{
		Inputs: po.photoArg, ModelData: mdl.data, MaxSide: c.Int("max-size"), Quality: c.Int("quality"),
		Threads: c.Int("threads"), Timeout: c.Duration("timeout"), MaxPixels: c.Int64("max-pixels"),
	}
	co.ApplyDefaults()
	if err := co.Validate(); err != nil {
		return nil, usageError{err}
	}
	budget, err := parseBudget(c.String("mem-budget"))
	if err != nil {
		return nil, usageError{err}
	}
	listing := convert.Collect(po.photoArg, "")
	if len(listing.Inputs) == 0 {
		return nil, usageError{fmt.Errorf("profile: no photos found in %s", strings.Join(po.photoArg, " "))}
	}
	var photos []string
	for _, in := range listing.Inputs {
		photos = append(photos, in.Path)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the animegan executable: %w", err)
	}
	modelPath := c.String("model")
	if mdl.name == BuiltinModelName {
		modelPath = ""
	}
	po.sweep = profile.Options{
		Levels: levels, Cores: co.Cores, Threads: c.Int("threads"), MemLimit: limit,
		StopOnPressure: c.Bool("stop-on-pressure"), Interval: c.Duration("interval"),
		Child: []string{exe, profileLevelCommand},
		Level: profile.LevelConfig{
			ModelName: mdl.name, ModelPath: modelPath, Overrides: mdl.overrides, ORTLib: c.String("ort-lib"),
			MaxSide: co.MaxSide, KeepSize: c.Bool("keep-size"), Format: format, Quality: co.Quality,
			MaxPixels: co.MaxPixels, Timeout: co.Timeout, Inputs: photos,
			MemBudget: budget, AutoThreads: c.Int("threads") == 0,
			Window: c.Duration("window"), MaxWindows: c.Int("max-windows"), Limit: c.Duration("level-timeout"),
		},
	}
	return po, nil
}

func runProfile(c *cli.Context) error {
	po, err := parseProfileFlags(c)
	if err != nil {
		return err
	}
	// Fail here, once, on a missing runtime or an unusable model, rather
	// than in every level.
	if _, err := model.Load(po.sweep.Level.ORTLib); err != nil {
		return err
	}
	mdl, err := loadModel(c)
	if err != nil {
		return err
	}
	if _, err := mdl.verifiedSpec(); err != nil {
		return err
	}
	if !po.quiet {
		po.sweep.Observer = newProfileProgress(c.App.ErrWriter, isTerminal(c.App.ErrWriter), len(po.sweep.Levels))
		fmt.Fprintf(c.App.ErrWriter, "profiling %s on %d photos, -j %s, %d cores; workers per level by convert's rule (decode:infer:encode)\n",
			mdl.name, len(po.sweep.Level.Inputs), c.String("sweep"), po.sweep.Cores)
	}
	res, err := profile.Run(c.Context, po.sweep)
	if err != nil {
		return err
	}
	if p, ok := po.sweep.Observer.(*profileProgress); ok {
		p.stop()
	}
	out := c.App.Writer
	if err := profile.WriteTable(out, res); err != nil {
		return err
	}
	if res.RecommendedJobs > 0 {
		fmt.Fprintf(out, "\n  %s\n", recommendedCommand(c, po, res.RecommendedJobs))
	}
	if po.csv != "" {
		if err := writeFileAtomic(po.csv, func(w io.Writer) error { return profile.WriteCSV(w, res) }); err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
	}
	if po.json != "" {
		if err := writeFileAtomic(po.json, func(w io.Writer) error { return profile.WriteJSON(w, res) }); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if po.plot != "" {
		if err := writeFileAtomic(po.plot, func(w io.Writer) error { return profile.WritePlot(w, res, po.plotFmt) }); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	return nil
}

// recommendedCommand is the convert command line that reproduces what was
// measured at jobs workers.
func recommendedCommand(c *cli.Context, po *profileOptions, jobs int) string {
	args := []string{"animegan", "convert"}
	args = append(args, po.photoArg...)
	args = append(args, "-j", strconv.Itoa(jobs))
	for _, name := range []string{"model", "max-size", "threads", "keep-size", "format", "quality", "max-pixels", "timeout", "multiple", "range", "ort-lib"} {
		if !c.IsSet(name) {
			continue
		}
		switch name {
		case "keep-size":
			args = append(args, "--keep-size")
		case "model":
			args = append(args, "-m", c.String(name))
		default:
			args = append(args, "--"+name, fmt.Sprint(c.Value(name)))
		}
	}
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}

// writeFileAtomic writes a report file whole or not at all.
func writeFileAtomic(path string, fn func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".animegan-profile-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// parseSize reads 4GiB, 512MiB, 4G, 1.5GB or a byte count. Units are
// binary: memory limits are.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' && r != '.' })
	unit := strings.ToLower(strings.TrimSpace(t[len(num):]))
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v <= 0 {
		return 0, fmt.Errorf("%q: want a size such as 4GiB or 512MiB", s)
	}
	n := v * mult
	if n < 64<<20 {
		return 0, fmt.Errorf("%q: below 64 MiB no model runs", s)
	}
	return uint64(n), nil
}

// profileLevelCmd is the child side of a sweep: one level, configured by
// JSON on stdin, reporting JSON lines on stdout. Not for users.
func profileLevelCmd() *cli.Command {
	return &cli.Command{
		Name:   profileLevelCommand,
		Hidden: true,
		Usage:  "run one level of a profile sweep (internal)",
		Action: func(c *cli.Context) error {
			var cfg profile.LevelConfig
			if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
				return usageError{fmt.Errorf("%s: reading the level on stdin: %w", profileLevelCommand, err)}
			}
			data := builtin.Cartoon
			if cfg.ModelPath != "" {
				var err error
				if data, err = os.ReadFile(cfg.ModelPath); err != nil {
					return fmt.Errorf("model %s: %w", cfg.ModelPath, err)
				}
			}
			enc := json.NewEncoder(c.App.Writer)
			var encErr error
			emit := func(e profile.Event) {
				if err := enc.Encode(e); err != nil && encErr == nil {
					encErr = err
				}
			}
			start := time.Now()
			res, err := profile.RunLevel(c.Context, cfg, data, emit)
			if err != nil {
				return err
			}
			emit(profile.Event{Type: "result", Elapsed: time.Since(start).Seconds(), Result: res})
			return encErr
		},
	}
}

// profileProgress shows the sweep on stderr: on a terminal one line
// redrawn with the level, its elapsed time and the last window's img/s;
// otherwise a line per finished level.
type profileProgress struct {
	w      io.Writer
	tty    bool
	levels int

	mu      sync.Mutex
	i, jobs int
	started time.Time
	last    string
	done    chan struct{}
	once    sync.Once
}

func newProfileProgress(w io.Writer, tty bool, levels int) *profileProgress {
	p := &profileProgress{w: w, tty: tty, levels: levels, done: make(chan struct{})}
	if tty {
		go func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-p.done:
					return
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

func (p *profileProgress) stop() {
	p.once.Do(func() { close(p.done) })
}

func (p *profileProgress) draw() {
	if p.jobs == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K-j %d (level %d/%d)  %5.1fs  %s", p.jobs, p.i+1, p.levels, time.Since(p.started).Seconds(), p.last)
}

func (p *profileProgress) LevelStart(i, n, jobs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.i, p.jobs, p.started, p.last = i, jobs, time.Now(), "starting"
	if p.tty {
		p.draw()
	}
}

func (p *profileProgress) LevelEvent(jobs int, e profile.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case "warm":
		p.last = "warmed up, measuring"
	case "window":
		p.last = fmt.Sprintf("window: %.2f img/s", e.Window.IPS)
	}
	if p.tty {
		p.draw()
	}
}

func (p *profileProgress) LevelDone(l *profile.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.jobs = 0
	fmt.Fprintf(p.w, "-j %d: %.2f ± %.2f img/s, peak RSS %s, %s (%.1fs)\n",
		l.Jobs, l.IPS, l.Spread, profile.Bytes(l.RSSPeak), l.Status, l.Seconds)
}
