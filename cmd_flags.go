package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"animegan/convert"
	"animegan/model"
)

// conversionFlags are the flags that decide what converting a photo does
// and costs: the model's and the per-image settings. convert runs with
// them and profile measures with them, so both take this one group, read
// by conversionOptions.
func conversionFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.IntFlag{Name: "threads", DefaultText: "auto", Usage: "ONNX Runtime intra-op threads per inference worker (default cores / inference workers)"},
		&cli.IntFlag{Name: "max-size", Value: convert.DefaultMaxSide, Usage: "longest side fed to the model, in pixels; 0 = original size"},
		&cli.BoolFlag{Name: "keep-size", Usage: "scale each result back to its input's size"},
		&cli.StringFlag{Name: "format", Usage: "output format `jpg|png|webp` (default: JPEG stays JPEG, PNG stays PNG, HEIC and AVIF become JPEG, others PNG)"},
		&cli.IntFlag{Name: "quality", Value: convert.DefaultQuality, Usage: "JPEG and WebP quality 1-100 (WebP at 100: lossless)"},
		&cli.StringFlag{Name: "color", Value: string(convert.ColourSRGB), Usage: "`srgb|input`: write the results of photos with a colour profile (Adobe RGB, Display P3, ...) in sRGB, or converted back into the photo's own profile; both are tagged"},
		&cli.StringFlag{Name: "metadata", Value: string(convert.MetadataKeep), Usage: "`keep|strip` the photos' EXIF (date, camera, GPS position), XMP and IPTC in the outputs"},
		&cli.Int64Flag{Name: "max-pixels", Value: convert.DefaultMaxPixels, Usage: "reject images with more pixels than this, from their header"},
		memBudgetFlag("memory for inferences in flight, e.g. 6GiB; images wait for room instead of running out of memory; 0 = default, off = none"),
		&cli.StringFlag{Name: "tile", Value: "auto",
			Usage: "run images as tiles, `auto|off|N`: auto tiles only the images whose whole inference --mem-budget cannot hold, with the largest tile that fits; N cuts every image larger than N pixels into N x N tiles (a multiple of the model's), blended across their overlap; off (or 0) never tiles"},
		&cli.IntFlag{Name: "tile-overlap", DefaultText: "the model's receptive field",
			Usage: "`PX` pixels neighbouring tiles share, blended with weights that fall to 0 across them"},
		&cli.DurationFlag{Name: "timeout", DefaultText: "none", Usage: "give up on one image's inference after this long (e.g. 2m); 0 = never"},
	}, modelFlags()...)
}

// conversionOptions reads conversionFlags into convert options. What is
// the caller's own (inputs, output, -j, resume and reporting choices) is
// left zero.
func conversionOptions(c *cli.Context) (convert.Options, error) {
	mdl, err := loadModel(c)
	if err != nil {
		return convert.Options{}, err
	}
	format, err := convert.ParseFormat(c.String("format"))
	if err != nil {
		return convert.Options{}, usageError{err}
	}
	meta, err := convert.ParseMetadataMode(c.String("metadata"))
	if err != nil {
		return convert.Options{}, usageError{err}
	}
	colour, err := convert.ParseColourMode(c.String("color"))
	if err != nil {
		return convert.Options{}, usageError{err}
	}
	budget, err := parseBudget(c.String("mem-budget"))
	if err != nil {
		return convert.Options{}, usageError{err}
	}
	tile, err := convert.ParseTile(c.String("tile"))
	if err != nil {
		return convert.Options{}, usageError{err}
	}
	if c.IsSet("tile-overlap") {
		tile.Overlap, tile.OverlapSet = c.Int("tile-overlap"), true
	}
	return convert.Options{
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
		Threads:   c.Int("threads"),
		MemBudget: budget,
		Tile:      tile,
	}, nil
}

// memBudgetFlag is --mem-budget, read by parseBudget: one definition and
// one default for every command that runs inferences under the budget.
func memBudgetFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "mem-budget", DefaultText: "75% of the memory limit (cgroup, RLIMIT_AS) or of available memory, the smaller",
		Usage: usage}
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

// modelFlags are shared by every command that loads a model.
func modelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "ONNX model `FILE` (default: the built-in cartoon filter)"},
		&cli.IntFlag{Name: "multiple", DefaultText: "auto", Usage: "floor dynamic sides to a multiple of `N` (default: the model's metadata, else " + fmt.Sprint(model.DefaultMultiple) + "; AnimeGANv3 tiny models need 16)"},
		&cli.StringFlag{Name: "range", Value: "auto", Usage: "model pixel range: auto, -1,1 or 0,1 (auto: metadata, else -1,1)"},
		&cli.StringFlag{Name: "ort-lib", TakesFile: true, Usage: "path of libonnxruntime.so (default: $" + model.LibraryEnv + ", lib/ beside the binary, ./lib, the system)"},
	}
}
