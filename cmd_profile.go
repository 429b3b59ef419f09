package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"animegan/atomicfile"
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

Past the best level, the sweep ends once 3 levels in a row were clearly 5% below
it, or once the memory budget holds workers back (--full runs every level). Each
finished sweep is saved in $XDG_CACHE_HOME/animegan (else ~/.cache/animegan) for
convert -j auto. --baseline PREV.json compares every level with an earlier --json
result and fails on a throughput or peak RSS regression beyond --max-regression.

Examples:
   animegan profile --sweep 1..8 ./photos
   animegan profile --sweep 1..32x2 ./photos -m Hayao.onnx --max-size 512 --mem-limit 4GiB
   animegan profile --sweep 1,2,4 ./photos --json profile.json --csv profile.csv --plot profile.svg
   animegan profile --sweep 1,2,4 ./photos --json now.json --baseline profile.json

Exit status: 0 with a result (even when levels crashed), 1 a --baseline regression,
2 usage or setup error (an incomparable baseline included), 130/143 interrupted.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "sweep", Value: "1..8", Usage: "levels: `A..B` (every -j), A..BxF (A, A·F, …, B) or a list 1,2,4"},
			&cli.DurationFlag{Name: "window", Value: profile.DefaultWindow, Usage: "shortest measurement window (each also lasts until every worker finished an image)"},
			&cli.DurationFlag{Name: "level-timeout", Value: profile.DefaultLevelTimeout, Usage: "most time one level may take, start-up and warm-up included"},
			&cli.IntFlag{Name: "max-windows", Value: profile.DefaultMaxWindows, Usage: "give up waiting for 3 agreeing windows after this many"},
			&cli.StringFlag{Name: "mem-limit", Usage: "judge memory pressure against `SIZE` (e.g. 4GiB, 512MiB) and run each level in a cgroup limited to it where the machine allows (default: the memory limit on this process, as convert reads it, or total RAM)"},
			&cli.BoolFlag{Name: "stop-on-pressure", Value: true, Usage: "stop the sweep at the first level under memory pressure"},
			&cli.BoolFlag{Name: "full", Usage: "run every level: do not end the sweep once throughput has peaked (3 levels in a row 5% below the best) or the memory budget holds further workers back"},
			&cli.StringFlag{Name: "baseline", Usage: "compare each level with the same level of an earlier --json result `PREV.json`; exit 1 naming every level that regressed"},
			&cli.StringFlag{Name: "max-regression", Value: "10%", Usage: "with --baseline: the throughput fall (beyond both runs' spreads) or peak RSS rise, in `PERCENT`, that fails a level"},
			&cli.DurationFlag{Name: "interval", Value: profile.DefaultInterval, Usage: "how often the child is sampled (100ms-1s)"},
			&cli.StringFlag{Name: "csv", Usage: "write one row per level to `FILE`"},
			&cli.StringFlag{Name: "json", Usage: "write the whole result to `FILE`"},
			&cli.StringFlag{Name: "plot", Usage: "draw throughput and RSS against -j into `FILE`.svg or .png"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress, only the report"},
		}, conversionFlags()...),
		Action: runProfile,
	}
}

// profileOptions are the sweep's flags after checking.
type profileOptions struct {
	sweep    profile.Options
	baseline *profile.Result // --baseline, checked comparable
	maxReg   float64
	warnings []string // what differs from the baseline without making it incomparable
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
	co, err := conversionOptions(c)
	if err != nil {
		return nil, err
	}
	var limit uint64
	if s := c.String("mem-limit"); s != "" {
		if limit, err = profile.ParseMemLimit(s); err != nil {
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
	// The same defaults and checks as convert, so a sweep never starts
	// with settings convert would refuse.
	co.Inputs = po.photoArg
	co.ApplyDefaults()
	if err := co.Validate(); err != nil {
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
	if co.ModelName == BuiltinModelName {
		modelPath = ""
	}
	po.sweep = profile.Options{
		Levels: levels, Convert: co, MemLimit: limit,
		StopOnPressure: c.Bool("stop-on-pressure"), Full: c.Bool("full"), Interval: c.Duration("interval"),
		Child: []string{exe, profileLevelCommand},
		Level: profile.LevelConfig{
			ModelPath: modelPath, Inputs: photos,
			Window: c.Duration("window"), MaxWindows: c.Int("max-windows"), Limit: c.Duration("level-timeout"),
		},
	}
	if err := readBaseline(c, po); err != nil {
		return nil, err
	}
	return po, nil
}

// readBaseline reads --baseline and refuses, before any level runs, one
// that measured something else than this sweep would.
func readBaseline(c *cli.Context, po *profileOptions) error {
	path := c.String("baseline")
	if path == "" {
		if c.IsSet("max-regression") {
			return usageError{errors.New("--max-regression without --baseline: nothing to compare with")}
		}
		return nil
	}
	var err error
	if po.maxReg, err = profile.ParseRegression(c.String("max-regression")); err != nil {
		return usageError{err}
	}
	if po.baseline, err = profile.ReadResult(path); err != nil {
		return fmt.Errorf("--baseline: %w", err)
	}
	o := po.sweep
	po.warnings, err = profile.CheckComparable(po.baseline, profile.SettingsOf(o),
		profile.ThisMachine(o.Convert.Cores), profile.MemoryLimit(o.MemLimit))
	if err != nil {
		return fmt.Errorf("--baseline %s: %w", path, err)
	}
	return nil
}

func runProfile(c *cli.Context) error {
	po, err := parseProfileFlags(c)
	if err != nil {
		return err
	}
	// Fail here, once, on a missing runtime or an unusable model, rather
	// than in every level.
	co := po.sweep.Convert
	if _, err := model.Load(co.ORTLib); err != nil {
		return err
	}
	mdl := modelChoice{name: co.ModelName, data: co.ModelData, overrides: co.Overrides}
	spec, err := mdl.verifiedSpec()
	if err != nil {
		return err
	}
	// --tile against the model, as convert checks it: otherwise every
	// level would fail alike and the sweep end with nothing measured.
	if err := convert.CheckTile(co.Tile, spec); err != nil {
		return usageError{err}
	}
	var progress *profile.Progress
	if !po.quiet {
		progress = profile.NewProgress(c.App.ErrWriter, isTerminal(c.App.ErrWriter), len(po.sweep.Levels))
		po.sweep.Observer = progress
		fmt.Fprintf(c.App.ErrWriter, "profiling %s on %d photos, -j %s, %d cores; workers per level by convert's rule (decode:infer:encode)\n",
			mdl.name, len(po.sweep.Level.Inputs), c.String("sweep"), co.Cores)
	}
	res, err := profile.Run(c.Context, po.sweep)
	if err != nil {
		return err
	}
	if progress != nil {
		progress.Stop()
	}
	out := c.App.Writer
	if err := profile.WriteTable(out, res); err != nil {
		return err
	}
	if res.RecommendedJobs > 0 {
		fmt.Fprintf(out, "\n  %s\n", recommendedCommand(c, po, res.RecommendedJobs))
	}
	if po.baseline != nil {
		res.Baseline = profile.Compare(po.baseline, res, po.maxReg)
		res.Baseline.File, res.Baseline.Warnings = c.String("baseline"), po.warnings
		if err := profile.WriteBaseline(out, res.Baseline); err != nil {
			return err
		}
	}
	if !res.Interrupted {
		// For convert -j auto. A cache that cannot be written costs only that.
		if dir, err := profile.CacheDir(); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "animegan: not saved for convert -j auto: %v\n", err)
		} else if path, err := profile.SaveToCache(dir, res); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "animegan: not saved for convert -j auto: %v\n", err)
		} else if !po.quiet {
			fmt.Fprintf(c.App.ErrWriter, "saved for convert -j auto: %s\n", path)
		}
	}
	if po.csv != "" {
		if err := atomicfile.Write(po.csv, 0o644, func(w io.Writer) error { return profile.WriteCSV(w, res) }); err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
	}
	if po.json != "" {
		if err := atomicfile.Write(po.json, 0o644, func(w io.Writer) error { return profile.WriteJSON(w, res) }); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if po.plot != "" {
		if err := atomicfile.Write(po.plot, 0o644, func(w io.Writer) error { return profile.WritePlot(w, res, po.plotFmt) }); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	if b := res.Baseline; b != nil && len(b.Regressed) > 0 {
		return cli.Exit(fmt.Sprintf("profile: regressed against %s at -j %s", b.File, b.RegressedLevels()), exitFailed)
	}
	return nil
}

// recommendedCommand is the convert command line that reproduces what was
// measured at jobs workers.
func recommendedCommand(c *cli.Context, po *profileOptions, jobs int) string {
	args := []string{"animegan", "convert"}
	args = append(args, po.photoArg...)
	args = append(args, "-j", strconv.Itoa(jobs))
	for _, name := range []string{"model", "max-size", "threads", "keep-size", "format", "quality", "color", "metadata", "max-pixels", "mem-budget", "tile", "tile-overlap", "timeout", "multiple", "range", "ort-lib"} {
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
			res, err := profile.MeasureLevel(c.Context, cfg, data, emit)
			if err != nil {
				return err
			}
			emit(profile.Event{Type: "result", Elapsed: time.Since(start).Seconds(), Result: res})
			return encErr
		},
	}
}
