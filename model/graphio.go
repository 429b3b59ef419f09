package model

import (
	"errors"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"
)

// graphIO is what a model's main graph says it takes and gives, read
// straight from the file in the form ONNX Runtime reports it, so that
// detect sees the same values as when ONNX Runtime answered. Asking ONNX
// Runtime means building a whole session (45-85 ms for AnimeGANv2) just
// before convert builds the real ones.
type graphIO struct {
	Inputs  []ort.InputOutputInfo // graph inputs that are not initializers
	Outputs []ort.InputOutputInfo
	// Shaped[i] is false when output i declares no type, or a tensor type
	// without a shape. ONNX Runtime fills such an output in by shape
	// inference, which this reader does not do.
	Shaped []bool
}

// errNoGraph is a protobuf without a graph: it parsed, but is no model.
var errNoGraph = errors.New("the file holds no graph")

// typeKinds maps TypeProto's value oneof (onnx.proto; opaque_type is in
// onnx-ml.proto) to ONNX Runtime's ONNXType.
var typeKinds = map[protowire.Number]ort.ONNXType{
	typeTensor:       ort.ONNXTypeTensor,
	typeSequence:     ort.ONNXTypeSequence,
	typeMap:          ort.ONNXTypeMap,
	typeOpaque:       ort.ONNXTypeOpaque,
	typeSparseTensor: ort.ONNXTypeSparseTensor,
	typeOptional:     ort.ONNXTypeOptional,
}

// readGraphIO reads the main graph's inputs and outputs. Like ONNX
// Runtime, it leaves out inputs that name an initializer: models before
// IR version 4 had to list every weight as an input too, and later ones
// may do so to let a caller override a weight; neither is an image input.
func readGraphIO(data []byte) (graphIO, error) {
	var (
		io       graphIO
		inputs   []ort.InputOutputInfo
		weights  = map[string]bool{}
		hasGraph bool
	)
	// A graph field may occur more than once: protobuf merges them, which
	// for the repeated fields read here means concatenating.
	err := walkFields(data, func(num protowire.Number, typ protowire.Type, _ uint64, b []byte) error {
		if num != modelGraph || typ != protowire.BytesType {
			return nil
		}
		hasGraph = true
		return walkFields(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
			if t != protowire.BytesType {
				return nil
			}
			switch n {
			case graphInitializer:
				name, err := tensorNameOf(b)
				weights[name] = true
				return err
			case graphSparseInitializer:
				// A sparse initializer is named by its values tensor.
				return walkFields(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
					if n == sparseValues && t == protowire.BytesType {
						name, err := tensorNameOf(b)
						weights[name] = true
						return err
					}
					return nil
				})
			case graphInput:
				v, _, err := readValueInfo(b)
				inputs = append(inputs, v)
				return err
			case graphOutput:
				v, shaped, err := readValueInfo(b)
				io.Outputs = append(io.Outputs, v)
				io.Shaped = append(io.Shaped, shaped)
				return err
			}
			return nil
		})
	})
	if err != nil {
		return graphIO{}, err
	}
	if !hasGraph {
		return graphIO{}, errNoGraph
	}
	for _, in := range inputs {
		if !weights[in.Name] {
			io.Inputs = append(io.Inputs, in)
		}
	}
	return io, nil
}

// tensorNameOf reads a TensorProto's name, skipping its data.
func tensorNameOf(tensor []byte) (string, error) {
	var name string
	err := walkFields(tensor, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
		if n == tensorName && t == protowire.BytesType {
			name = string(b)
		}
		return nil
	})
	return name, err
}

// readValueInfo reads a ValueInfoProto. shaped reports whether it declares
// a type and, for a tensor, a shape.
func readValueInfo(msg []byte) (info ort.InputOutputInfo, shaped bool, err error) {
	var t valueType
	err = walkFields(msg, func(n protowire.Number, typ protowire.Type, _ uint64, b []byte) error {
		switch {
		case n == valueInfoName && typ == protowire.BytesType:
			info.Name = string(b)
		case n == valueInfoType && typ == protowire.BytesType:
			return t.read(b)
		}
		return nil
	})
	info.OrtValueType, info.DataType, info.Dimensions = t.kind, t.elem, t.dims
	shaped = t.kind != ort.ONNXTypeUnknown && (t.hasShape || !t.isTensor())
	return info, shaped, err
}

// valueType is a TypeProto as ONNX Runtime reports it: the kind of value,
// and for tensors the element type and dimensions, -1 where unknown.
type valueType struct {
	kind     ort.ONNXType // ONNXTypeUnknown: no type given
	elem     ort.TensorElementDataType
	dims     []int64
	hasShape bool
}

func (t *valueType) isTensor() bool {
	return t.kind == ort.ONNXTypeTensor || t.kind == ort.ONNXTypeSparseTensor
}

// read merges one TypeProto into t, as protobuf does when a message field
// occurs twice: a different member of the oneof replaces the previous one,
// the same member merges into it.
func (t *valueType) read(msg []byte) error {
	return walkFields(msg, func(n protowire.Number, typ protowire.Type, _ uint64, b []byte) error {
		kind, ok := typeKinds[n]
		if !ok || typ != protowire.BytesType {
			return nil // denotation, or a kind newer than this reader
		}
		if kind != t.kind {
			*t = valueType{kind: kind}
		}
		if !t.isTensor() {
			return nil // ONNX Runtime reports no element type or shape for these
		}
		return t.readTensor(b)
	})
}

// readTensor reads TypeProto.Tensor (or SparseTensor, laid out alike).
func (t *valueType) readTensor(msg []byte) error {
	return walkFields(msg, func(n protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch {
		case n == tensorTypeElem && typ == protowire.VarintType:
			t.elem = ort.TensorElementDataType(int32(v))
		case n == tensorTypeShape && typ == protowire.BytesType:
			t.hasShape = true
			return walkFields(b, func(n protowire.Number, typ protowire.Type, _ uint64, b []byte) error {
				if n != shapeDim || typ != protowire.BytesType {
					return nil
				}
				d, err := readDim(b)
				t.dims = append(t.dims, d)
				return err
			})
		}
		return nil
	})
}

// readDim reads a TensorShapeProto.Dimension: its dim_value, or -1 for a
// symbolic (dim_param) or absent one, as ONNX Runtime reports them. The
// two are a oneof, so the last one given wins. A negative dim_value is
// invalid; ONNX Runtime reports it as -1 as well.
func readDim(msg []byte) (int64, error) {
	d := int64(-1)
	err := walkFields(msg, func(n protowire.Number, typ protowire.Type, v uint64, _ []byte) error {
		switch {
		case n == dimValue && typ == protowire.VarintType:
			d = max(-1, int64(v))
		case n == dimParam && typ == protowire.BytesType:
			d = -1
		}
		return nil
	})
	return d, err
}
