package model

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// fileFacts are what an ONNX file says of itself besides its inputs and
// outputs: producer, opset, IR version, metadata and the size of the
// weights. They are read straight from the protobuf (field numbers from
// onnx.proto): ONNX Runtime reports only part of this, and only by building
// a whole session, which costs a large model a noticeable share of a short
// batch's start-up.
type fileFacts struct {
	IRVersion       int64
	Opsets          []Opset
	Producer        string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	GraphName       string
	Metadata        []KeyValue
	Initializers    int // floating-point initializers and Constant tensors
	Parameters      int64
	WeightBytes     int64
	ExternalWeights bool
}

// Opset is one operator set the model imports.
type Opset struct {
	Domain  string // "" is the default ONNX domain
	Version int64
}

// onnx.proto field numbers.
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDomain          = 4
	modelVersion         = 5
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8
	modelMetadataProps   = 14
	entryKey             = 1
	entryValue           = 2
	graphName            = 2
	opsetDomain          = 1
	opsetVersion         = 2
	graphNode            = 1
	graphInitializer     = 5
	nodeOpType           = 4
	nodeAttribute        = 5
	attrTensor           = 5
	tensorDims           = 1
	tensorDataType       = 2
	tensorDataLocation   = 14

	// Graph inputs and outputs (graphio.go).
	graphInput             = 11
	graphOutput            = 12
	graphSparseInitializer = 15
	sparseValues           = 1 // SparseTensorProto.values, a TensorProto
	tensorName             = 8
	valueInfoName          = 1
	valueInfoType          = 2
	typeTensor             = 1 // TypeProto's value oneof
	typeSequence           = 4
	typeMap                = 5
	typeOpaque             = 7 // onnx-ml.proto
	typeSparseTensor       = 8
	typeOptional           = 9
	tensorTypeElem         = 1 // TypeProto.Tensor and TypeProto.SparseTensor
	tensorTypeShape        = 2
	shapeDim               = 1
	dimValue               = 1 // TensorShapeProto.Dimension's value oneof
	dimParam               = 2
)

// elemSize is the byte size of an ONNX TensorProto.DataType element.
func elemSize(t int64) int64 {
	switch t {
	case 1, 6, 12: // float, int32, uint32
		return 4
	case 2, 3, 9: // uint8, int8, bool
		return 1
	case 4, 5, 10, 16: // uint16, int16, float16, bfloat16
		return 2
	case 7, 11, 13: // int64, double, uint64
		return 8
	default:
		return 0
	}
}

func isFloat(t int64) bool {
	return t == 1 || t == 10 || t == 11 || t == 16 // float, float16, double, bfloat16
}

var errMalformed = errors.New("malformed ONNX protobuf")

func readFileFacts(data []byte) (fileFacts, error) {
	var f fileFacts
	err := walkFields(data, func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch {
		case num == modelIRVersion && typ == protowire.VarintType:
			f.IRVersion = int64(v)
		case num == modelProducerName && typ == protowire.BytesType:
			f.Producer = string(b)
		case num == modelProducerVersion && typ == protowire.BytesType:
			f.ProducerVersion = string(b)
		case num == modelDomain && typ == protowire.BytesType:
			f.Domain = string(b)
		case num == modelVersion && typ == protowire.VarintType:
			f.ModelVersion = int64(v)
		case num == modelDocString && typ == protowire.BytesType:
			f.DocString = string(b)
		case num == modelMetadataProps && typ == protowire.BytesType:
			var kv KeyValue
			if err := walkFields(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
				switch {
				case n == entryKey && t == protowire.BytesType:
					kv.Key = string(b)
				case n == entryValue && t == protowire.BytesType:
					kv.Value = string(b)
				}
				return nil
			}); err != nil {
				return err
			}
			f.Metadata = append(f.Metadata, kv)
		case num == modelOpsetImport && typ == protowire.BytesType:
			var o Opset
			if err := walkFields(b, func(n protowire.Number, t protowire.Type, v uint64, b []byte) error {
				switch {
				case n == opsetDomain && t == protowire.BytesType:
					o.Domain = string(b)
				case n == opsetVersion && t == protowire.VarintType:
					o.Version = int64(v)
				}
				return nil
			}); err != nil {
				return err
			}
			f.Opsets = append(f.Opsets, o)
		case num == modelGraph && typ == protowire.BytesType:
			return walkFields(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
				switch {
				case n == graphName && t == protowire.BytesType:
					f.GraphName = string(b)
				case n == graphInitializer && t == protowire.BytesType:
					return f.addTensor(b)
				case n == graphNode && t == protowire.BytesType:
					return f.addConstantNode(b)
				}
				return nil
			})
		}
		return nil
	})
	return f, err
}

// addConstantNode counts the tensor of a Constant node: exporters such as
// PyTorch's fold some weights into Constant nodes instead of initializers.
func (f *fileFacts) addConstantNode(node []byte) error {
	var op string
	var tensors [][]byte
	err := walkFields(node, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
		switch {
		case n == nodeOpType && t == protowire.BytesType:
			op = string(b)
		case n == nodeAttribute && t == protowire.BytesType:
			return walkFields(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
				if n == attrTensor && t == protowire.BytesType {
					tensors = append(tensors, b)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil || op != "Constant" {
		return err
	}
	for _, t := range tensors {
		if err := f.addTensor(t); err != nil {
			return err
		}
	}
	return nil
}

// addTensor counts a floating-point tensor as weights; integer tensors are
// shapes, pads and axes, not parameters.
func (f *fileFacts) addTensor(tensor []byte) error {
	count, dtype := int64(1), int64(0)
	err := walkFields(tensor, func(n protowire.Number, t protowire.Type, v uint64, b []byte) error {
		switch {
		case n == tensorDims && t == protowire.VarintType:
			count *= int64(v)
		case n == tensorDims && t == protowire.BytesType: // packed dims
			for len(b) > 0 {
				d, m := protowire.ConsumeVarint(b)
				if m < 0 {
					return errMalformed
				}
				count *= int64(d)
				b = b[m:]
			}
		case n == tensorDataType && t == protowire.VarintType:
			dtype = int64(v)
		case n == tensorDataLocation && t == protowire.VarintType && v == 1:
			f.ExternalWeights = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !isFloat(dtype) {
		return nil
	}
	f.Initializers++
	f.Parameters += count
	f.WeightBytes += count * elemSize(dtype)
	return nil
}

// walkFields calls fn for every field of one protobuf message. Varint fields
// pass their value in v; length-delimited ones their bytes in b.
func walkFields(msg []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		msg = msg[n:]
		var v uint64
		var b []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(msg)
		case protowire.BytesType:
			b, n = protowire.ConsumeBytes(msg)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		msg = msg[n:]
		if err := fn(num, typ, v, b); err != nil {
			return err
		}
	}
	return nil
}
