package model

import (
	ort "github.com/yalue/onnxruntime_go"

	"animegan/onnxgraph"
)

// graphIO is what a model's main graph says it takes and gives, read
// straight from the file (by onnxgraph) in the form ONNX Runtime reports
// it, so that detect sees the same values as when ONNX Runtime answered.
// Asking ONNX Runtime means building a whole session (45-85 ms for
// AnimeGANv2) just before convert builds the real ones.
type graphIO struct {
	Inputs  []ort.InputOutputInfo // graph inputs that are not initializers
	Outputs []ort.InputOutputInfo
	// Shaped[i] is false when output i declares no type, or a tensor type
	// without a shape. ONNX Runtime fills such an output in by shape
	// inference, which this reader does not do.
	Shaped []bool
}

// readGraphIO reads the main graph's inputs and outputs.
func readGraphIO(data []byte) (graphIO, error) {
	m, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return graphIO{}, err
	}
	return graphIOOf(m.Graph), nil
}

// typeKinds maps onnxgraph's kinds of value to ONNX Runtime's ONNXType.
var typeKinds = map[onnxgraph.TypeKind]ort.ONNXType{
	onnxgraph.TypeNone:         ort.ONNXTypeUnknown,
	onnxgraph.TypeTensor:       ort.ONNXTypeTensor,
	onnxgraph.TypeSequence:     ort.ONNXTypeSequence,
	onnxgraph.TypeMap:          ort.ONNXTypeMap,
	onnxgraph.TypeOpaque:       ort.ONNXTypeOpaque,
	onnxgraph.TypeSparseTensor: ort.ONNXTypeSparseTensor,
	onnxgraph.TypeOptional:     ort.ONNXTypeOptional,
}

// graphIOOf is readGraphIO on a graph already read. Like ONNX Runtime, it
// leaves out inputs that name an initializer: models before IR version 4
// had to list every weight as an input too, and later ones may do so to
// let a caller override a weight; neither is an image input.
func graphIOOf(g *onnxgraph.Graph) graphIO {
	weights := map[string]bool{}
	for _, t := range g.Inits {
		weights[t.Name] = true
	}
	for _, s := range g.SparseInits {
		weights[s.Name] = true
	}
	var io graphIO
	for _, in := range g.Inputs {
		if !weights[in.Name] {
			v, _ := ioInfo(in)
			io.Inputs = append(io.Inputs, v)
		}
	}
	for _, out := range g.Outputs {
		v, shaped := ioInfo(out)
		io.Outputs = append(io.Outputs, v)
		io.Shaped = append(io.Shaped, shaped)
	}
	return io
}

// ioInfo is a value as ONNX Runtime reports it: the kind of value, and for
// tensors the element type and dimensions, -1 where unknown. shaped
// reports whether it declares a type and, for a tensor, a shape.
func ioInfo(v onnxgraph.ValueInfo) (info ort.InputOutputInfo, shaped bool) {
	info.Name = v.Name
	info.OrtValueType = typeKinds[v.Kind]
	tensor := v.Kind == onnxgraph.TypeTensor || v.Kind == onnxgraph.TypeSparseTensor
	if tensor {
		info.DataType = ort.TensorElementDataType(v.DType)
		for _, d := range v.Shape {
			if d.Param != "" || d.Value < 0 {
				info.Dimensions = append(info.Dimensions, -1)
			} else {
				info.Dimensions = append(info.Dimensions, d.Value)
			}
		}
	}
	shaped = v.Kind != onnxgraph.TypeNone && (v.Shape != nil || !tensor)
	return info, shaped
}
