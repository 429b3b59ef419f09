package model_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"strings"
	"testing"
	"time"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
	"animegan/onnxgraph"
)

func fixture(t testing.TB, spec modelgen.FixtureSpec) []byte {
	t.Helper()
	data, err := modelgen.Fixture(spec)
	if err != nil {
		t.Fatalf("fixture %+v: %v", spec, err)
	}
	return data
}

// testImage has a distinct colour in every pixel, so any layout mix-up
// (rows for columns, planes for pixels) changes some pixel.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 7), uint8(y * 11), uint8((x*y + 3) % 256), 255})
		}
	}
	return img
}

// TestConventions runs every supported convention end to end through real
// ONNX Runtime: detection, packing, inference and unpacking must together
// give back exactly the fixture's swap-and-invert.
func TestConventions(t *testing.T) {
	ortest.Init(t)
	cases := []struct {
		name       string
		spec       modelgen.FixtureSpec
		ov         model.Overrides
		wantLayout model.Layout
		wantRange  model.Range
		fixed      bool
	}{
		{"nchw dynamic signed", modelgen.FixtureSpec{Layout: modelgen.NCHW, Input: "input.1"}, model.Overrides{}, model.NCHW, model.RangeSigned, false},
		{"nhwc dynamic signed", modelgen.FixtureSpec{Layout: modelgen.NHWC, Input: "generator_input:0"}, model.Overrides{}, model.NHWC, model.RangeSigned, false},
		{"nchw fixed 64 signed", modelgen.FixtureSpec{Layout: modelgen.NCHW, Height: 64, Width: 64, Input: "input_image"}, model.Overrides{}, model.NCHW, model.RangeSigned, true},
		{"nhwc fixed 32x48 unit by flag", modelgen.FixtureSpec{Layout: modelgen.NHWC, Range: modelgen.Unit, Height: 32, Width: 48}, model.Overrides{Range: model.RangeUnit}, model.NHWC, model.RangeUnit, true},
		{"nchw dynamic unit by metadata", modelgen.FixtureSpec{Layout: modelgen.NCHW, Range: modelgen.Unit,
			Metadata: []onnxgraph.KeyValue{{Key: model.MetaRange, Value: "0,1"}}}, model.Overrides{}, model.NCHW, model.RangeUnit, false},
		{"nhwc dynamic unit by flag", modelgen.FixtureSpec{Layout: modelgen.NHWC, Range: modelgen.Unit}, model.Overrides{Range: model.RangeUnit}, model.NHWC, model.RangeUnit, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := fixture(t, tc.spec)
			spec, err := model.Inspect(tc.name, data, tc.ov)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Layout != tc.wantLayout || spec.Range != tc.wantRange || spec.Dynamic() == tc.fixed {
				t.Fatalf("detected layout %s range %s dynamic %t; want %s %s %t",
					spec.Layout, spec.Range, spec.Dynamic(), tc.wantLayout, tc.wantRange, !tc.fixed)
			}
			g, err := spec.Fit(100, 75, 0)
			if err != nil {
				t.Fatal(err)
			}
			if tc.fixed && (g.ModelW != int(tc.spec.Width) || g.ModelH != int(tc.spec.Height)) {
				t.Fatalf("fixed model fed %dx%d, want %dx%d", g.ModelW, g.ModelH, tc.spec.Width, tc.spec.Height)
			}
			s, err := model.NewSession(spec, data, model.DefaultSessionOptions(1, 2))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			in := testImage(g.ModelW, g.ModelH)
			out, err := s.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Rect != in.Rect {
				t.Fatalf("output %v, want %v", out.Rect, in.Rect)
			}
			for y := range g.ModelH {
				for x := range g.ModelW {
					p, q := in.NRGBAAt(x, y), out.NRGBAAt(x, y)
					want := color.NRGBA{255 - p.B, 255 - p.G, 255 - p.R, 255}
					if q != want {
						t.Fatalf("pixel (%d,%d): got %v, want %v (input %v)", x, y, q, want, p)
					}
				}
			}
		})
	}
}

func TestInvalidModels(t *testing.T) {
	ortest.Init(t)
	cases := []struct {
		name string
		spec modelgen.FixtureSpec
		want string
	}{
		{"two inputs", modelgen.FixtureSpec{Kind: modelgen.TwoInputs}, "exactly one image input, found 2"},
		{"gray input", modelgen.FixtureSpec{Kind: modelgen.GrayInput}, "1 channel"},
		{"int64 input", modelgen.FixtureSpec{Kind: modelgen.Int64Input}, "want a float32 image tensor"},
		{"gray output", modelgen.FixtureSpec{Kind: modelgen.GrayOutput, Layout: modelgen.NHWC}, "1 channels on the NHWC channel axis"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := model.Inspect("bad.onnx", fixture(t, tc.spec), model.Overrides{})
			if !errors.Is(err, model.ErrInvalidModel) {
				t.Fatalf("got %v, want an invalid-model error", err)
			}
			if !strings.Contains(err.Error(), "bad.onnx") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q should name the model and say %q", err, tc.want)
			}
		})
	}
	if _, err := model.Inspect("garbage.onnx", []byte("not a model"), model.Overrides{}); !errors.Is(err, model.ErrInvalidModel) {
		t.Fatalf("garbage: got %v", err)
	}
}

func TestInspectFacts(t *testing.T) {
	ortest.Init(t)
	data := fixture(t, modelgen.FixtureSpec{Layout: modelgen.NHWC, Metadata: []onnxgraph.KeyValue{
		{Key: model.MetaMultiple, Value: "16"}, {Key: "author", Value: "tests"},
	}})
	spec, err := model.Inspect("m", data, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Multiple != 16 || spec.MultipleSource != "metadata" {
		t.Errorf("multiple %d from %s, want 16 from metadata", spec.Multiple, spec.MultipleSource)
	}
	if len(spec.Opsets) == 0 || spec.IRVersion == 0 {
		t.Errorf("opsets %v IR %d: want them read from the file", spec.Opsets, spec.IRVersion)
	}
	if len(spec.Custom) != 2 || spec.Custom[0].Key != model.MetaMultiple || spec.Custom[1].Key != "author" {
		t.Errorf("metadata %v: want both entries, sorted", spec.Custom)
	}
	spec, err = model.Inspect("m", data, model.Overrides{Multiple: 32})
	if err != nil || spec.Multiple != 32 || spec.MultipleSource != "flag" {
		t.Errorf("flag must win over metadata: %v %+v", err, spec)
	}
}

func TestArchitectureWeights(t *testing.T) {
	ortest.Init(t)
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := model.Inspect("v2", data, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	// The architecture has 2,143,552 trained parameters; float scalars
	// the graph needs (epsilons, slopes) count too, a handful at most.
	if spec.Parameters < 2_143_552 || spec.Parameters > 2_143_552+16 || spec.WeightBytes != 4*spec.Parameters {
		t.Errorf("parameters %d (%d bytes), want 2,143,552 float32 plus a few scalars", spec.Parameters, spec.WeightBytes)
	}
}

func TestFit(t *testing.T) {
	dynamic := &model.Spec{Multiple: 8}
	fixed := &model.Spec{FixedW: 512, FixedH: 512, Multiple: 8}
	cases := []struct {
		name           string
		spec           *model.Spec
		w, h, max      int
		sw, sh, mw, mh int
	}{
		{"landscape scaled", dynamic, 4032, 3024, 1024, 1024, 768, 1024, 768},
		{"portrait floored", dynamic, 1001, 1999, 1000, 501, 1000, 496, 1000},
		{"never upscaled", dynamic, 300, 200, 1024, 300, 200, 296, 200},
		{"original size", dynamic, 1001, 333, 0, 1001, 333, 1000, 328},
		{"strip kept valid", dynamic, 4000, 3, 512, 512, 1, 512, 8},
		{"one pixel", dynamic, 1, 1, 512, 1, 1, 8, 8},
		{"fixed model", fixed, 4032, 3024, 1024, 1024, 768, 512, 512},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := tc.spec.Fit(tc.w, tc.h, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			want := model.Geometry{ScaledW: tc.sw, ScaledH: tc.sh, ModelW: tc.mw, ModelH: tc.mh}
			if g != want {
				t.Fatalf("Fit(%d,%d,%d) = %+v, want %+v", tc.w, tc.h, tc.max, g, want)
			}
		})
	}
	if _, err := dynamic.Fit(0, 10, 0); err == nil {
		t.Fatal("a 0-pixel image must be an error")
	}
}

// openSession inspects a fixture model and opens a session on it, closed
// when the test ends.
func openSession(t *testing.T, name string, fs modelgen.FixtureSpec) *model.Session {
	t.Helper()
	data := fixture(t, fs)
	spec, err := model.Inspect(name, data, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := model.NewSession(spec, data, model.DefaultSessionOptions(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRunFailsForShape checks that a model failing inside ONNX Runtime for
// one size fails that run with advice, and works for the next.
func TestRunFailsForShape(t *testing.T) {
	ortest.Init(t)
	s := openSession(t, "m16", modelgen.FixtureSpec{Kind: modelgen.Multiple16, Layout: modelgen.NHWC})
	_, err := s.Run(context.Background(), testImage(24, 24))
	if err == nil || !strings.Contains(err.Error(), "24x24") {
		t.Fatalf("24x24 should fail naming the size, got %v", err)
	}
	if _, err := s.Run(context.Background(), testImage(32, 16)); err != nil {
		t.Fatalf("32x16 after a failure: %v", err)
	}
}

// TestRunCancel checks that cancelling terminates a running inference.
func TestRunCancel(t *testing.T) {
	ortest.Init(t)
	s := openSession(t, "slow", modelgen.FixtureSpec{Kind: modelgen.Slow, Layout: modelgen.NCHW, SlowLayers: 200})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Run(ctx, testImage(256, 256))
	if !errors.Is(err, model.ErrCanceled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a cancelled run", err)
	}
}
