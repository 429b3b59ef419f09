package optimize_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"animegan/calibrate"
	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
	"animegan/onnxgraph"
	"animegan/optimize"
	"animegan/synth"
)

// setup writes the AnimeGANv2 architecture (weights from modelgen) and n
// synthetic photos, some sideways by EXIF, into a fresh folder.
func setup(t *testing.T, layout modelgen.Layout, n int) (modelPath, photos string, data []byte) {
	t.Helper()
	ortest.Init(t)
	dir := t.TempDir()
	data, err := modelgen.AnimeGANv2(layout, 1)
	if err != nil {
		t.Fatal(err)
	}
	modelPath = filepath.Join(dir, "v2.onnx")
	if err := os.WriteFile(modelPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	photos = filepath.Join(dir, "photos")
	if err := os.Mkdir(photos, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b, err := synth.EncodeJPEG(synth.Scene(int64(i+1), 96, 72), 90, []int{0, 6}[i%2])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(photos, "p"+string(rune('a'+i))+".jpg"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return modelPath, photos, data
}

func options(modelPath, photos string, data []byte) optimize.Options {
	return optimize.Options{ModelPath: modelPath, Data: data, Photos: []string{photos},
		Samples: 3, MaxSide: 64, Method: calibrate.DefaultMethod, MinPSNR: optimize.DefaultMinPSNR, Cores: 2}
}

// entries lists a folder, to prove nothing (no temporary file) was left.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestOptimize: in both layouts, every method gives an int8 model beside
// the input that ONNX Runtime runs, whose outputs on held-back photos are
// within 30 dB PSNR of fp32's, and whose metadata records the source's
// hash, the method, the photos and the PSNR while keeping animegan.range.
func TestOptimize(t *testing.T) {
	for _, tc := range []struct {
		layout modelgen.Layout
		method calibrate.Method
	}{{modelgen.NCHW, calibrate.MinMax}, {modelgen.NHWC, calibrate.MinMax},
		{modelgen.NCHW, calibrate.Percentile}, {modelgen.NCHW, calibrate.Entropy}} {
		t.Run(tc.layout.String()+"/"+tc.method.String(), func(t *testing.T) {
			modelPath, photos, data := setup(t, tc.layout, 4)
			o := options(modelPath, photos, data)
			o.Method = tc.method
			res, err := optimize.Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(filepath.Dir(modelPath), "v2.int8.onnx"); res.Out != want {
				t.Errorf("written to %s, want %s", res.Out, want)
			}
			if res.Calibrated != 3 || len(res.Checked) != 1 || res.Nodes != 25 {
				t.Errorf("calibrated %d, checked %d, %d operators", res.Calibrated, len(res.Checked), res.Nodes)
			}
			if res.WorstPSNR < 30 || res.MeanPSNR < res.WorstPSNR {
				t.Errorf("PSNR mean %.1f worst %.1f, want >= 30 dB", res.MeanPSNR, res.WorstPSNR)
			}
			q, err := os.ReadFile(res.Out)
			if err != nil {
				t.Fatal(err)
			}
			info, err := onnxgraph.Read(q)
			if err != nil {
				t.Fatal(err)
			}
			if info.Meta(optimize.MetaMethod) != tc.method.String() || info.Meta(optimize.MetaPhotos) != "3" ||
				len(info.Meta(optimize.MetaSourceSHA256)) != 64 || !strings.HasPrefix(info.Meta(optimize.MetaPSNR), "mean ") ||
				info.Meta(model.MetaRange) != "-1,1" {
				t.Errorf("metadata %v", info.Metadata)
			}
			spec, err := model.Inspect(res.Out, q, model.Overrides{})
			if err != nil || spec.Quantization != "int8 (QDQ)" || !strings.EqualFold(spec.Layout.String(), tc.layout.String()) {
				t.Fatalf("inspect: %+v, %v", spec, err)
			}
			fp32, err := model.Inspect(modelPath, data, model.Overrides{})
			if err != nil {
				t.Fatal(err)
			}
			if spec.ResizeMaxPixels != fp32.ResizeMaxPixels || spec.ResizeMaxPixels == 0 {
				t.Errorf("Resize guard %d px, fp32 model's %d", spec.ResizeMaxPixels, fp32.ResizeMaxPixels)
			}
			if int64(len(q)) >= int64(len(data))/3 {
				t.Errorf("int8 model %d bytes, fp32 %d: want under a third", len(q), len(data))
			}
		})
	}
}

// TestQualityGateRefuses: with --min-psnr 99 no int8 model passes: the
// error says why, and the folder holds no output and no temporary file.
func TestQualityGateRefuses(t *testing.T) {
	modelPath, photos, data := setup(t, modelgen.NCHW, 3)
	o := options(modelPath, photos, data)
	o.MinPSNR = 99
	_, err := optimize.Run(context.Background(), o)
	var qe *optimize.QualityError
	if !errors.As(err, &qe) || !strings.Contains(err.Error(), "below --min-psnr 99") {
		t.Fatalf("got %v, want a QualityError", err)
	}
	if got := entries(t, filepath.Dir(modelPath)); strings.Join(got, " ") != "photos v2.onnx" {
		t.Errorf("left behind: %v", got)
	}
}

// TestCancelLeavesNothing: cancelled while calibrating, and cancelled at
// once, the run stops with the context's error and leaves nothing.
func TestCancelLeavesNothing(t *testing.T) {
	modelPath, photos, data := setup(t, modelgen.NCHW, 4)
	for _, name := range []string{"before", "during"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			o := options(modelPath, photos, data)
			if name == "before" {
				cancel()
			} else {
				// The progress writer sees the calibration start.
				o.Log = cancelOnWrite{"calibrating", cancel}
			}
			defer cancel()
			_, err := optimize.Run(ctx, o)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if got := entries(t, filepath.Dir(modelPath)); strings.Join(got, " ") != "photos v2.onnx" {
				t.Errorf("left behind: %v", got)
			}
		})
	}
}

type cancelOnWrite struct {
	word   string
	cancel func()
}

func (c cancelOnWrite) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.word) {
		c.cancel()
	}
	return len(p), nil
}

// TestBadInput: -o naming the input, a file that is not ONNX, a model
// already quantised or with nothing to quantise, and photos none of which
// decode (each named) are setup errors with nothing written.
func TestBadInput(t *testing.T) {
	modelPath, photos, data := setup(t, modelgen.NCHW, 2)
	dir := filepath.Dir(modelPath)
	junk := filepath.Join(t.TempDir(), "junk")
	os.Mkdir(junk, 0o755)
	os.WriteFile(filepath.Join(junk, "a.jpg"), []byte("not a photo"), 0o644)
	os.WriteFile(filepath.Join(junk, "b.png"), nil, 0o644)
	plain, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.SwapInvert, Layout: modelgen.NCHW})
	if err != nil {
		t.Fatal(err)
	}
	done := options(modelPath, photos, data)
	done.Out = filepath.Join(t.TempDir(), "q.onnx")
	done.Samples = 1
	if _, err := optimize.Run(context.Background(), done); err != nil {
		t.Fatal(err)
	}
	quantised, _ := os.ReadFile(done.Out)
	for _, tc := range []struct {
		name string
		edit func(o *optimize.Options)
		want []string
	}{
		{"output is the input", func(o *optimize.Options) { o.Out = modelPath }, []string{"is the input model"}},
		{"not ONNX", func(o *optimize.Options) { o.Data = []byte("hello") }, []string{"cannot read it as an ONNX model"}},
		{"nothing to quantise", func(o *optimize.Options) { o.Data = plain }, []string{"nothing to quantise"}},
		{"already quantised", func(o *optimize.Options) { o.Data = quantised }, []string{"already quantised"}},
		{"no usable photos", func(o *optimize.Options) { o.Photos = []string{junk} }, []string{"no usable photos", "a.jpg", "b.png"}},
		{"no photos", func(o *optimize.Options) { o.Photos = []string{t.TempDir()} }, []string{"no photos found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options(modelPath, photos, data)
			tc.edit(&o)
			_, err := optimize.Run(context.Background(), o)
			var se *optimize.SetupError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SetupError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: does not mention %q", err, w)
				}
			}
			if got := entries(t, dir); strings.Join(got, " ") != "photos v2.onnx" {
				t.Errorf("left behind: %v", got)
			}
			if b, _ := os.ReadFile(modelPath); len(b) != len(data) {
				t.Errorf("the input model changed")
			}
		})
	}
}
