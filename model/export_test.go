package model

import (
	"context"
	"image"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/onnxgraph"
)

// The external tests (package model_test) load ONNX Runtime through
// internal/ortest, which imports this package; these hooks let them reach
// the protobuf reader and the old, ONNX Runtime-based path of Inspect.

// ReadGraphIO is readGraphIO.
func ReadGraphIO(data []byte) (ins, outs []ort.InputOutputInfo, shaped []bool, err error) {
	g, err := readGraphIO(data)
	return g.Inputs, g.Outputs, g.Shaped, err
}

// InspectViaRuntime is Inspect as it was before it read the protobuf
// itself: inputs and outputs from a temporary ONNX Runtime session.
func InspectViaRuntime(name string, data []byte, ov Overrides) (*Spec, error) {
	ins, outs, err := runtimeIO(name, data)
	if err != nil {
		return nil, err
	}
	m, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return nil, &InvalidModelError{name, err.Error()}
	}
	return inspect(name, m, ins, outs, ov)
}

// RunFloats is Session.Run up to the model's raw output tensor (values
// and shape), for comparisons finer than 8-bit pixels.
func (s *Session) RunFloats(ctx context.Context, img *image.NRGBA) ([]float32, []int64, error) {
	return runFloats(ctx, s.spec, s.ort, img, nil)
}

// RunFloats is TileSession.Run up to the raw output tensor, for a tile
// that is the whole image.
func (s *TileSession) RunFloats(ctx context.Context, tile *image.NRGBA, st *Stats) ([]float32, []int64, error) {
	extra, err := s.inputs(tile, tile.Rect, tile.Rect.Size(), st)
	defer destroy(extra)
	if err != nil {
		return nil, nil, err
	}
	return runFloats(ctx, s.spec, s.ort, tile, extra)
}

func runFloats(ctx context.Context, spec *Spec, sess *ort.DynamicAdvancedSession, img *image.NRGBA, extra []ort.Value) ([]float32, []int64, error) {
	outputs := []ort.Value{nil}
	if err := runImage(ctx, spec, sess, img, extra, outputs); err != nil {
		return nil, nil, err
	}
	defer outputs[0].Destroy()
	t := outputs[0].(*ort.Tensor[float32])
	return append([]float32(nil), t.GetData()...), append([]int64(nil), t.GetShape()...), nil
}

// RunFloatsAt is TileSession.Run up to the raw output tensor.
func (s *TileSession) RunFloatsAt(ctx context.Context, tile *image.NRGBA, at image.Rectangle, size image.Point, st *Stats) ([]float32, []int64, error) {
	extra, err := s.inputs(tile, at, size, st)
	defer destroy(extra)
	if err != nil {
		return nil, nil, err
	}
	return runFloats(ctx, s.spec, s.ort, tile, extra)
}
