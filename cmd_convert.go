package main

import (
	"fmt"
	"os"
	"runtime"

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
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only failures and the summary"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print settings and one line per image"},
		}, conversionFlags()...),
		Action: runConvert,
	}
}

func runConvert(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError{fmt.Errorf("convert: name at least one photo or folder")}
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
	printer := &convert.Printer{
		W:         c.App.ErrWriter,
		TTY:       isTerminal(c.App.ErrWriter),
		Verbosity: verbosity(c),
	}
	sum, err := convert.Run(c.Context, opts, printer)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if err := sum.WriteJSON(c.App.Writer); err != nil {
			return fmt.Errorf("writing summary: %w", err)
		}
	}
	if sum.Failed > 0 {
		return errSomeFailed
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
