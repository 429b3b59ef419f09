package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"animegan/convert"
	"animegan/model"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show what animegan detects in a model and the settings convert would use",
		ArgsUsage: "[MODEL.onnx]",
		Description: `Reads the model's inputs and outputs, checks that ONNX Runtime loads it, and prints the detected
convention (names, shapes, NCHW/NHWC layout, dynamic or fixed size, pixel range,
size multiple), producer and opset metadata, weight size, and the ONNX Runtime
session settings that convert would use with the same -j and --threads.
Without MODEL (or with --model) it inspects that model; with neither, the built-in one.

Examples:
   animegan inspect
   animegan inspect Hayao.onnx
   animegan inspect face_paint_512_v2.onnx -j 2 --range 0,1`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "as for convert: `N` or L:I:E"},
			&cli.IntFlag{Name: "threads", Usage: "as for convert"},
			&cli.BoolFlag{Name: "json", Usage: "print the detected spec as JSON"},
		}, modelFlags()...),
		Action: runInspect,
	}
}

func runInspect(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageError{fmt.Errorf("inspect: one model at a time")}
	}
	if c.NArg() == 1 {
		if err := c.Set("model", c.Args().First()); err != nil {
			return err
		}
	}
	mdl, jobs, err := modelAndJobs(c)
	if err != nil {
		return err
	}
	rt, err := model.Load(c.String("ort-lib"))
	if err != nil {
		return err
	}
	spec, err := mdl.verifiedSpec()
	if err != nil {
		return err
	}
	opts := convert.Options{Jobs: jobs, Threads: c.Int("threads")}
	opts.ApplyDefaults()
	session := opts.SessionOptions()
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*model.Spec
			Layout  string `json:"Layout"`
			Range   string `json:"Range"`
			Jobs    string
			Session model.SessionOptions
			Runtime *model.Runtime
		}{spec, spec.Layout.String(), spec.Range.String(), jobs.String(), session, rt})
	}
	return writeSpec(c.App.Writer, spec, jobs, session, rt)
}

func writeSpec(out io.Writer, s *model.Spec, jobs convert.Jobs, so model.SessionOptions, rt *model.Runtime) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("model", "%s", s.Name)
	row("input", "%s %s %s", s.Input.Name, s.Input.DataType, shape(s.Input.Shape))
	row("output", "%s %s %s", s.Output.Name, s.Output.DataType, shape(s.Output.Shape))
	axis := 1
	if s.Layout == model.NHWC {
		axis = 3
	}
	row("layout", "%s (channels on axis %d)", s.Layout, axis)
	if s.Dynamic() {
		row("size", "dynamic; sides floored to a multiple of %d (%s), at least %d", s.Multiple, s.MultipleSource, s.Multiple)
	} else {
		row("size", "fixed %dx%d: photos are resized to it and the result back to their proportions", s.FixedW, s.FixedH)
	}
	if s.Batch < 0 {
		row("batch", "dynamic (fed one image at a time)")
	} else {
		row("batch", "%d", s.Batch)
	}
	row("range", "%s (%s)", s.Range, s.RangeSource)
	prod := strings.TrimSpace(s.Producer + " " + s.ProducerVersion)
	if prod == "" {
		prod = "unknown"
	}
	var opsets []string
	for _, o := range s.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		opsets = append(opsets, fmt.Sprintf("%s %d", d, o.Version))
	}
	row("producer", "%s; IR version %d; opset %s", prod, s.IRVersion, strings.Join(opsets, ", "))
	if s.GraphName != "" {
		row("graph", "%s", s.GraphName)
	}
	if s.Description != "" {
		row("description", "%s", firstLine(s.Description))
	}
	ext := ""
	if s.ExternalWeights {
		ext = " (some stored in external files)"
	}
	if s.Quantization != "" {
		ext += ", " + s.Quantization
	}
	row("weights", "%s parameters in %d initializers, %.1f MB%s", thousands(s.Parameters), s.Initializers, float64(s.WeightBytes)/1e6, ext)
	if s.ResizeMaxPixels > 0 {
		row("limit", "%s pixels per inference: past that, ONNX Runtime's Resize kernel would crash with this model (convert refuses such images)", thousands(s.ResizeMaxPixels))
	}
	for _, kv := range s.Custom {
		row("metadata", "%s = %s", kv.Key, kv.Value)
	}
	writeTiling(row, s)
	row("workers", "decode:infer:encode %s", jobs)
	row("session", "%s (per inference worker)", so)
	row("runtime", "ONNX Runtime %s from %s, %s", rt.Version, rt.Library, rt.TelemetryState())
	if g, err := s.Fit(4032, 3024, convert.DefaultMaxSide); err == nil {
		row("example", "a 4032x3024 photo at --max-size %d is fed as %dx%d", convert.DefaultMaxSide, g.ModelW, g.ModelH)
	}
	return w.Flush()
}

// writeTiling prints whether and how the model can run tile by tile.
func writeTiling(row func(k, format string, args ...any), s *model.Spec) {
	t := s.Tiling
	if t == nil {
		return
	}
	rf := fmt.Sprintf("receptive field %d px on each side (traced)", t.ReceptiveField)
	if t.ReceptiveField < 0 {
		rf = "receptive field not traceable"
	}
	switch t.Mode {
	case model.TileRefused:
		row("tiling", "refused: %s; the model runs on whole images only", t.Reason)
		return
	case model.TileExact:
		if len(t.Resamples) == 0 {
			row("tiling", "exact: no operation looks at the whole image, so tiles need no rewrite")
		} else {
			row("tiling", "exact: no operation looks at the whole image")
		}
	case model.TileThumbnail:
		var parts []string
		for _, p := range t.Patterns() {
			parts = append(parts, fmt.Sprintf("%d %s", p.Count, p.Pattern))
		}
		row("tiling", "thumbnail statistics: %d normalisations over the whole image (%s) take a thumbnail's mean and variance in tiles",
			len(t.Norms), strings.Join(parts, ", "))
	}
	if n := len(t.Resamples); n > 0 {
		what := "1 align_corners Resize (%s) samples"
		if n > 1 {
			what = fmt.Sprintf("%d align_corners Resizes (%%s) sample", n)
		}
		row("", what+" at the whole image's coordinates in tiles (a region of interest per tile)", strings.Join(t.Resamples, ", "))
	}
	row("", "%s; default tile overlap %d px", rf, t.Overlap)
}

func shape(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
