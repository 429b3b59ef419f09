package main

import (
	"fmt"
	"os"
	"runtime"

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
			&cli.StringFlag{Name: "format", Usage: "output format `jpg|png|webp` (default: JPEG stays JPEG, PNG stays PNG, HEIC and AVIF become JPEG, others PNG)"},
			&cli.IntFlag{Name: "quality", Value: convert.DefaultQuality, Usage: "JPEG and WebP quality 1-100 (WebP at 100: lossless)"},
			&cli.StringFlag{Name: "color", Value: string(convert.ColourSRGB), Usage: "`srgb|input`: write the results of photos with a colour profile (Adobe RGB, Display P3, ...) in sRGB, or converted back into the photo's own profile; both are tagged"},
			&cli.StringFlag{Name: "metadata", Value: string(convert.MetadataKeep), Usage: "`keep|strip` the photos' EXIF (date, camera, GPS position), XMP and IPTC in the outputs"},
			&cli.Int64Flag{Name: "max-pixels", Value: convert.DefaultMaxPixels, Usage: "reject images with more pixels than this, from their header"},
			&cli.StringFlag{Name: "mem-budget", DefaultText: "75% of the memory limit (cgroup, RLIMIT_AS) or of available memory, the smaller",
				Usage: "memory for inferences in flight, e.g. 6GiB; images wait for room instead of running out of memory; 0 = default, off = none"},
			&cli.DurationFlag{Name: "timeout", DefaultText: "none", Usage: "give up on one image's inference after this long (e.g. 2m); 0 = never"},
			&cli.StringFlag{Name: "shard", Usage: "convert only part `K/N` of the inputs (K from 0), for N processes over one tree; default from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)"},
			&cli.IntFlag{Name: "shards", Usage: "the shard count `N` when the index comes from the environment (Kubernetes: the Job's completions)"},
			&cli.BoolFlag{Name: "overwrite", Usage: "redo outputs even when they are up to date"},
			&cli.BoolFlag{Name: "fail-fast", Usage: "stop at the first failed input"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only failures and the summary"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print settings and one line per image"},
		}, modelFlags()...),
		Action: runConvert,
	}
}

func runConvert(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError{fmt.Errorf("convert: name at least one photo or folder")}
	}
	mdl, jobs, err := modelAndJobs(c)
	if err != nil {
		return err
	}
	format, err := convert.ParseFormat(c.String("format"))
	if err != nil {
		return usageError{err}
	}
	meta, err := convert.ParseMetadataMode(c.String("metadata"))
	if err != nil {
		return usageError{err}
	}
	colour, err := convert.ParseColourMode(c.String("color"))
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
		Metadata:  meta,
		Colour:    colour,
		MaxPixels: c.Int64("max-pixels"),
		Timeout:   c.Duration("timeout"),
		Jobs:      jobs,
		Threads:   c.Int("threads"),
		Overwrite: c.Bool("overwrite"),
		FailFast:  c.Bool("fail-fast"),
	}
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
		&cli.StringFlag{Name: "ort-lib", Usage: "path of libonnxruntime.so (default: $" + model.LibraryEnv + ", lib/ beside the binary, ./lib, the system)"},
	}
}
