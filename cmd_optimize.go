package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"animegan/calibrate"
	"animegan/model"
	"animegan/optimize"
)

func optimizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "optimize",
		Usage:     "make an int8 model calibrated on your own photos, checked against the original before it is kept",
		ArgsUsage: "MODEL.onnx --calibrate PHOTO_OR_FOLDER...",
		Description: `Quantises the model's convolutions (Conv, ConvTranspose, MatMul, Gemm) to static int8 QDQ:
per-channel int8 weights, int32 biases and uint8 activations whose ranges come from running
the model on your photos, prepared exactly as convert prepares them. Everything else stays
float. ONNX Runtime then runs the convolutions as integer kernels (QLinearConv).

A part of the photos is held back: both models convert it, and the int8 model is kept only
if no held-back photo is further than --min-psnr from the original model's result. It is
written to MODEL.int8.onnx beside the input (or -o) through a temporary file; on a refusal
or Ctrl-C nothing is left. Exit status: 0 written, 1 refused by the quality check, 2 bad
input (not an ONNX model, nothing to quantise or already quantised, no usable photos).

Examples:
   animegan optimize Hayao.onnx --calibrate ./photos
   animegan convert -m Hayao.int8.onnx ./photos
   animegan optimize face_paint_512_v2.onnx --calibrate a.jpg b.jpg c.jpg -o fp.int8.onnx --method entropy`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "calibrate", Aliases: []string{"c"}, Usage: "photos or folders to calibrate on (repeat the flag, or list them after it)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where to write the int8 model `FILE` (default MODEL.int8.onnx beside MODEL)"},
			&cli.IntFlag{Name: "samples", Value: optimize.DefaultSamples, Usage: "photos to calibrate on (a quarter as many more are held back for the check)"},
			&cli.IntFlag{Name: "max-size", Value: optimize.DefaultMaxSide, Usage: "longest side fed to the model while calibrating and checking, as convert --max-size"},
			&cli.StringFlag{Name: "method", Value: calibrate.DefaultMethod.String(), Usage: "how activation ranges are chosen: minmax, percentile (the central 99.999% of values) or entropy (KL divergence)"},
			memBudgetFlag("memory calibration and the check may use, e.g. 2GiB: the activations calibration needs are read in as many passes over the photos as it takes; 0 = default, off = none"),
			&cli.Float64Flag{Name: "min-psnr", Value: optimize.DefaultMinPSNR, Usage: "refuse the int8 model when a held-back photo's PSNR from the fp32 result is below `DB`"},
		}, modelFlags()...),
		Action: runOptimize,
	}
}

func runOptimize(c *cli.Context) error {
	// Photos listed after --calibrate arrive as arguments: the first
	// argument is the model unless --model named it.
	args := c.Args().Slice()
	if c.String("model") == "" {
		if len(args) == 0 {
			return usageError{errors.New("optimize: which model? (animegan optimize MODEL.onnx --calibrate PHOTOS)")}
		}
		if err := c.Set("model", args[0]); err != nil {
			return err
		}
		args = args[1:]
	}
	photos := append(c.StringSlice("calibrate"), args...)
	if len(photos) == 0 {
		return usageError{errors.New("optimize: --calibrate needs photos or folders to calibrate on")}
	}
	method, err := calibrate.ParseMethod(c.String("method"))
	if err != nil {
		return usageError{err}
	}
	if c.Int("samples") < 1 || c.Int("max-size") < 1 {
		return usageError{errors.New("optimize: --samples and --max-size must be positive")}
	}
	budget, err := parseBudget(c.String("mem-budget"))
	if err != nil {
		return usageError{err}
	}
	mdl, err := loadModel(c)
	if err != nil {
		return err
	}
	if mdl.name == BuiltinModelName {
		return usageError{errors.New("optimize: name a model file")}
	}
	if _, err := model.Load(c.String("ort-lib")); err != nil {
		return err
	}
	out := c.App.Writer
	res, err := optimize.Run(c.Context, optimize.Options{
		ModelPath: mdl.name, Data: mdl.data, Overrides: mdl.overrides, Photos: photos,
		Out: c.String("output"), Samples: c.Int("samples"), MaxSide: c.Int("max-size"),
		Method: method, MinPSNR: c.Float64("min-psnr"), MemBudget: budget, Log: c.App.ErrWriter,
	})
	if res != nil && len(res.Checked) > 0 {
		printCheck(out, res)
	}
	var qe *optimize.QualityError
	switch {
	case errors.As(err, &qe):
		return cli.Exit(err.Error(), exitFailed)
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "wrote %s: %d operators int8, %s -> %s, calibrated on %d photos (%s)\n",
		res.Out, res.Nodes, formatMB(res.SizeIn), formatMB(res.Size), res.Calibrated, method)
	for _, f := range res.Skipped {
		fmt.Fprintln(c.App.ErrWriter, f)
	}
	return nil
}

func printCheck(w io.Writer, r *optimize.Result) {
	fmt.Fprintf(w, "checked on %d held-back photos:\n", len(r.Checked))
	for _, p := range r.Checked {
		fmt.Fprintf(w, "  %-28s %4dx%-4d PSNR %5.1f dB   fp32 %6s  int8 %6s\n", filepath.Base(p.Path), p.W, p.H, p.PSNR,
			p.FP32.Round(time.Millisecond), p.INT8.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "PSNR from fp32: mean %.1f dB, worst %.1f dB; int8 %.2fx the speed of fp32 on these photos\n",
		r.MeanPSNR, r.WorstPSNR, r.Speedup())
}

func formatMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
