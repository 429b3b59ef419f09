package model

import (
	"os"
	"path/filepath"
	"testing"

	"animegan/modelgen"
)

// TestResizeMaxPixels: the AnimeGANv2 architecture resizes 128 channels to
// the input size, so its last channel starts at 127 x pixels, which must
// stay under 2^31; models without a Resize have no such limit.
func TestResizeMaxPixels(t *testing.T) {
	const v2 = (1<<31 - 1) / 127 // 16,909,320 pixels, a little over 4096x4096
	for _, layout := range []modelgen.Layout{modelgen.NCHW, modelgen.NHWC} {
		data, err := modelgen.AnimeGANv2(layout, 1)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := Inspect("v2", data, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if spec.ResizeMaxPixels != v2 {
			t.Errorf("%s: ResizeMaxPixels %d, want %d", layout, spec.ResizeMaxPixels, v2)
		}
	}
	data, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.SwapInvert})
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := Inspect("fixture", data, Overrides{}); err != nil || spec.ResizeMaxPixels != 0 {
		t.Errorf("a model without Resize: %d (%v), want no limit", spec.ResizeMaxPixels, err)
	}
	// The PyTorch exports of the same architecture, where they exist
	// (developers' machines): the same limit, traced through the
	// exporter's GroupNorm and interpolate.
	for _, f := range []string{"animeganv2-arch-nchw.onnx", "animeganv2-arch-nhwc.onnx", "animeganv2-arch-trained-nchw.onnx"} {
		p := filepath.Join("..", "..", "shared", "models", f)
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		spec, err := Inspect(f, data, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: ResizeMaxPixels %d", f, spec.ResizeMaxPixels)
		if spec.ResizeMaxPixels != v2 {
			t.Errorf("%s: ResizeMaxPixels %d, want %d", f, spec.ResizeMaxPixels, v2)
		}
	}
}
