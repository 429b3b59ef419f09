package model

import (
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/model/builtin"
	"animegan/modelgen"
)

// FuzzReadGraphIO: whatever the bytes, reading a model's inputs, outputs
// and facts, detecting its conventions and tracing its Resize limit, fails
// with an error or gives well-formed values; it never panics.
func FuzzReadGraphIO(f *testing.F) {
	f.Add(builtin.Cartoon)
	for _, spec := range []modelgen.FixtureSpec{{Layout: modelgen.NCHW}, {Kind: modelgen.TwoInputs, Layout: modelgen.NHWC, Height: 8, Width: 8},
		{Kind: modelgen.Multiple16, Layout: modelgen.NCHW}, {Kind: modelgen.Slow, SlowLayers: 2}} {
		data, err := modelgen.Fixture(spec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("not a model"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := readGraphIO(data)
		if err != nil {
			return
		}
		if len(g.Shaped) != len(g.Outputs) {
			t.Fatalf("%d outputs, %d shape flags", len(g.Outputs), len(g.Shaped))
		}
		for _, v := range append(g.Inputs, g.Outputs...) {
			tensor := v.OrtValueType == ort.ONNXTypeTensor || v.OrtValueType == ort.ONNXTypeSparseTensor
			if !tensor && (len(v.Dimensions) > 0 || v.DataType != ort.TensorElementDataTypeUndefined) {
				t.Fatalf("%s: non-tensor with element type or shape: %+v", v.Name, v)
			}
			for _, d := range v.Dimensions {
				if d < -1 {
					t.Fatalf("%s: dimension %d, want -1 for unknown", v.Name, d)
				}
			}
		}
		if len(g.Outputs) > 0 && g.Shaped[0] {
			spec := &Spec{Name: "fuzz"}
			_ = spec.detect(g.Inputs, g.Outputs)
		}
		_, _ = readFileFacts(data)
		if n := resizeMaxPixels(data, "input"); n < 0 {
			t.Fatalf("ResizeMaxPixels %d", n)
		}
	})
}
