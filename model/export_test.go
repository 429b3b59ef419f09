package model

import ort "github.com/yalue/onnxruntime_go"

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
	m, err := decodeModel(data)
	if err != nil {
		return nil, &InvalidModelError{name, err.Error()}
	}
	return inspect(name, m, ins, outs, ov)
}
