package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"animegan/convert"
	"animegan/model"
)

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "convert photos and folders of photos into anime-style images",
		ArgsUsage: "PHOTO_OR_FOLDER...",
		Description: `Folders are walked recursively (hidden files and OS clutter skipped). Each photo
goes through a pipeline of decode, inference and encode workers; results mirror the
input tree under -o, written atomically. A re-run skips outputs that are already up
to date (same input, model and settings), so an interrupted batch resumes.

Without --model the built-in cartoon filter is used (the project's own model, not
trained AnimeGAN weights). Any AnimeGAN-family ONNX model works with --model.

Examples:
   animegan convert ./photos -j 4
   animegan convert ./photos -o ./anime -m Hayao.onnx --max-size 768
   animegan convert a.jpg b.png --format png --keep-size
   animegan convert ./photos -j 1:2:1 --json > summary.json
   animegan convert ./photos --dry-run
   find /data/in -name '*.jpg' -print0 | animegan convert --files-from - -0 --root /data/in -o /data/out
   animegan convert ./photos --log-format json --json=summary.json 2>log.jsonl

Every flag can also be set by its environment variable, shown in [$...] below;
a flag on the command line wins.

Exit status: 0 all converted or up to date, 1 some inputs failed, 2 usage or setup
error, 130/143 interrupted by SIGINT/SIGTERM.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: convert.DefaultOutDir,
				Usage: "output `DIR`; mirrors the input tree (never an input folder)"},
			&cli.StringFlag{Name: "jobs", Aliases: []string{"j"},
				Usage: "workers: `N` inference workers, or L:I:E decode:infer:encode (default from the core count: " + convert.DefaultJobs(runtime.GOMAXPROCS(0)).String() + ")"},
			&cli.IntFlag{Name: "threads", DefaultText: "auto", Usage: "ONNX Runtime intra-op threads per inference worker (default cores / inference workers)"},
			&cli.IntFlag{Name: "max-size", Value: convert.DefaultMaxSide, Usage: "longest side fed to the model, in pixels; 0 = original size"},
			&cli.BoolFlag{Name: "keep-size", Usage: "scale each result back to its input's size"},
			&cli.StringFlag{Name: "format", Usage: "output format `jpg|png` (default: JPEG stays JPEG, PNG stays PNG, others become PNG)"},
			&cli.IntFlag{Name: "quality", Value: convert.DefaultQuality, Usage: "JPEG quality 1-100"},
			&cli.Int64Flag{Name: "max-pixels", Value: convert.DefaultMaxPixels, Usage: "reject images with more pixels than this, from their header"},
			&cli.StringFlag{Name: "mem-budget", DefaultText: "75% of the cgroup limit or of available memory",
				Usage: "memory for inferences in flight, e.g. 6GiB; images wait for room instead of running out of memory; 0 = default, off = none"},
			&cli.DurationFlag{Name: "timeout", DefaultText: "none", Usage: "give up on one image's inference after this long (e.g. 2m); 0 = never"},
			&cli.StringFlag{Name: "shard", Usage: "convert only part `K/N` of the inputs (K from 0), for N processes over one tree; default from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)"},
			&cli.IntFlag{Name: "shards", Usage: "the shard count `N` when the index comes from the environment (Kubernetes: the Job's completions)"},
			&cli.BoolFlag{Name: "overwrite", Usage: "redo outputs even when they are up to date"},
			&cli.BoolFlag{Name: "fail-fast", Usage: "stop at the first failed input"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only failures and the summary"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print settings and one line per image"},
		}, append(batchFlags(), modelFlags()...)...),
		Action: runConvert,
	}
}

// batchFlags are convert's flags for shell batch jobs: planning, input
// lists, machine-readable logs and summaries.
func batchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print each input's output and action (convert, skip, copy) with the reason, and write nothing"},
		&cli.StringFlag{Name: "files-from", TakesFile: true, Usage: "convert the files listed in `FILE` (- for stdin), one a line; relative paths are from the working directory"},
		&cli.BoolFlag{Name: "null", Aliases: []string{"0"}, Usage: "the --files-from list is NUL-delimited, as find -print0 writes"},
		&cli.StringFlag{Name: "root", DefaultText: "the working directory", Usage: "the `DIR` the --files-from outputs mirror: a listed DIR/a/b.jpg goes to OUT/a/b.jpg"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "stderr as `text|json`: json makes every line one JSON object (per image, progress, summary)"},
		&cli.DurationFlag{Name: "progress-interval", Value: 10 * time.Second, Usage: "time between progress lines when stderr is not a terminal (and json progress events)"},
		newJSONFlag("print the summary as JSON on stdout, or with =FILE write it to FILE atomically (--json FILE.json works too)", true),
	}
}

func runConvert(c *cli.Context) error {
	sink := sinkOf(c)
	logFormat := c.String("log-format")
	switch logFormat {
	case "text", "json":
		sink.setJSON(logFormat == "json")
	default:
		return usageError{fmt.Errorf("--log-format %q: want text or json", logFormat)}
	}
	files := c.String("files-from")
	switch {
	case c.NArg() == 0 && files == "":
		return usageError{fmt.Errorf("convert: name at least one photo or folder, or a list with --files-from")}
	case files == "" && c.Bool("null"):
		return usageError{fmt.Errorf("-0/--null: says how the --files-from list is delimited; give --files-from too")}
	case files == "" && c.String("root") != "":
		return usageError{fmt.Errorf("--root: says what the --files-from list's outputs mirror; give --files-from too")}
	}
	if err := checkJSONArgs(c); err != nil {
		return err
	}
	dest := jsonOf(c)
	if err := dest.check(); err != nil {
		return usageError{err}
	}
	mdl, jobs, err := modelAndJobs(c)
	if err != nil {
		return err
	}
	format, err := convert.ParseFormat(c.String("format"))
	if err != nil {
		return usageError{err}
	}
	budget, err := parseBudget(c.String("mem-budget"))
	if err != nil {
		return usageError{err}
	}
	shard, err := resolveShard(c)
	if err != nil {
		return usageError{err}
	}
	opts := convert.Options{
		Shard:     shard,
		MemBudget: budget,
		Inputs:    c.Args().Slice(),
		OutDir:    c.String("output"),
		ModelName: mdl.name,
		ModelData: mdl.data,
		Overrides: mdl.overrides,
		ORTLib:    c.String("ort-lib"),
		MaxSide:   c.Int("max-size"),
		KeepSize:  c.Bool("keep-size"),
		Format:    format,
		Quality:   c.Int("quality"),
		MaxPixels: c.Int64("max-pixels"),
		Timeout:   c.Duration("timeout"),
		Jobs:      jobs,
		Threads:   c.Int("threads"),
		Overwrite: c.Bool("overwrite"),
		FailFast:  c.Bool("fail-fast"),
		DryRun:    c.Bool("dry-run"),
	}
	if files != "" {
		if opts.List, err = readFileList(c, files); err != nil {
			return err
		}
		opts.FromList, opts.ListRoot = true, c.String("root")
		if err := checkRoot(opts.ListRoot); err != nil {
			return usageError{err}
		}
	}
	sum, err := convert.Run(c.Context, opts, reporterFor(c, sink))
	if err != nil {
		return err
	}
	if sum.DryRun {
		// The plan is the dry run's output: stdout, unless the JSON
		// summary (which holds it too) is there.
		switch {
		case !dest.stdout():
			err = sum.WritePlan(c.App.Writer)
		case logFormat == "text":
			err = sum.WritePlan(c.App.ErrWriter)
		}
		if err != nil {
			return fmt.Errorf("writing the plan: %w", err)
		}
	}
	if err := dest.write(c.App.Writer, sum.WriteJSON); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	if sum.Failed > 0 {
		return errSomeFailed
	}
	return nil
}

// reporterFor is the progress reporter --log-format asks for.
func reporterFor(c *cli.Context, sink *logSink) convert.Reporter {
	if c.String("log-format") == "json" {
		return &convert.JSONLog{W: sink.Raw(), Interval: c.Duration("progress-interval"), Verbosity: verbosity(c)}
	}
	return &convert.Printer{
		W:         c.App.ErrWriter,
		TTY:       isTerminal(c.App.ErrWriter),
		Verbosity: verbosity(c),
		Interval:  c.Duration("progress-interval"),
	}
}

// checkJSONArgs catches `--json FILE` where FILE has no .json suffix: it
// was parsed as an input, and converting it would only fail.
func checkJSONArgs(c *cli.Context) error {
	if !jsonOf(c).stdout() {
		return nil
	}
	for _, a := range c.Args().Slice() {
		if strings.HasSuffix(strings.ToLower(a), ".json") {
			return usageError{fmt.Errorf("%s looks like a summary file, not a photo: write --json=%s", a, a)}
		}
	}
	return nil
}

// readFileList reads --files-from FILE, or standard input for "-".
func readFileList(c *cli.Context, name string) ([]string, error) {
	var r io.Reader = c.App.Reader
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("--files-from: %w", err)}
		}
		defer f.Close()
		r = f
	}
	list, err := convert.ReadList(r, c.Bool("null"))
	if err != nil {
		return nil, fmt.Errorf("--files-from %s: %w", name, err)
	}
	return list, nil
}

func checkRoot(root string) error {
	if root == "" {
		return nil
	}
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("--root: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("--root %s: not a directory", root)
	}
	return nil
}

// resolveShard takes --shard K/N, else the index a batch engine put in the
// environment; no shard means every input.
func resolveShard(c *cli.Context) (convert.Shard, error) {
	if s := c.String("shard"); s != "" {
		return convert.ParseShard(s)
	}
	shard, found, err := convert.ShardFromEnv(os.Getenv, c.Int("shards"))
	if err != nil || found {
		return shard, err
	}
	if n := c.Int("shards"); n > 1 {
		return convert.Shard{}, fmt.Errorf("--shards %d without an index: give --shard K/%d, or run under a Kubernetes Indexed Job or a Slurm array", n, n)
	}
	return convert.Shard{}, nil
}

// parseBudget reads --mem-budget: a size, "" or 0 for the default, "off".
func parseBudget(s string) (int64, error) {
	switch s {
	case "", "0", "auto":
		return 0, nil
	case "off", "none":
		return -1, nil
	}
	n, err := convert.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("--mem-budget: %w", err)
	}
	return n, nil
}

func verbosity(c *cli.Context) convert.Verbosity {
	switch {
	case c.Bool("verbose"):
		return convert.Verbose
	case c.Bool("quiet"):
		return convert.Quiet
	}
	return convert.Normal
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// modelFlags are shared by every command that loads a model.
func modelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "ONNX model `FILE` (default: the built-in cartoon filter)"},
		&cli.IntFlag{Name: "multiple", DefaultText: "auto", Usage: "floor dynamic sides to a multiple of `N` (default: the model's metadata, else " + fmt.Sprint(model.DefaultMultiple) + "; AnimeGANv3 tiny models need 16)"},
		&cli.StringFlag{Name: "range", Value: "auto", Usage: "model pixel range: auto, -1,1 or 0,1 (auto: metadata, else -1,1)"},
		&cli.StringFlag{Name: "ort-lib", TakesFile: true, Usage: "path of libonnxruntime.so (default: $" + model.LibraryEnv + ", lib/ beside the binary, ./lib, the system)"},
	}
}
