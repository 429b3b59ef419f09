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
   animegan convert ./photos -j auto        # the -j of the latest matching profile
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
				Usage: "workers: `N` inference workers, L:I:E decode:infer:encode, or auto: the -j the latest matching animegan profile recommends (default from the core count: " + convert.DefaultJobs(runtime.GOMAXPROCS(0)).String() + ")"},
			&cli.StringFlag{Name: "shard", Usage: "convert only part `K/N` of the inputs (K from 0), for N processes over one tree; default from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)"},
			&cli.IntFlag{Name: "shards", Usage: "the shard count `N` when the index comes from the environment (Kubernetes: the Job's completions)"},
			&cli.BoolFlag{Name: "overwrite", Usage: "redo outputs even when they are up to date"},
			&cli.BoolFlag{Name: "fail-fast", Usage: "stop at the first failed input"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only failures and the summary"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print settings and one line per image"},
		}, append(batchFlags(), conversionFlags()...)...),
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
	opts, err := conversionOptions(c)
	if err != nil {
		return err
	}
	opts.Cores = runtime.GOMAXPROCS(0)
	if err := resolveJobs(c.String("jobs"), &opts); err != nil {
		return usageError{err}
	}
	opts.Shard, err = resolveShard(c)
	if err != nil {
		return usageError{err}
	}
	opts.Inputs = c.Args().Slice()
	opts.OutDir = c.String("output")
	opts.Overwrite = c.Bool("overwrite")
	opts.FailFast = c.Bool("fail-fast")
	opts.DryRun = c.Bool("dry-run")
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
	p := &convert.Printer{
		W:         c.App.ErrWriter,
		TTY:       isTerminal(c.App.ErrWriter),
		Verbosity: verbosity(c),
		Interval:  c.Duration("progress-interval"),
	}
	// A dry run's plan is its output: stdout, unless the JSON summary
	// (which holds it too) is there.
	if !jsonOf(c).stdout() {
		p.Plan = c.App.Writer
	}
	return p
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
