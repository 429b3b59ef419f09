package onnxgraph

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx/onnx.proto (proto2). Repeated scalars are written
// unpacked, as the reference protobuf implementation does for proto2.
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

	opsetDomain  = 1
	opsetVersion = 2

	kvKey   = 1
	kvValue = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12
	graphValueInfo   = 13

	graphSparseInitializer = 15
	sparseValues           = 1

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName    = 1
	attrF       = 2
	attrI       = 3
	attrS       = 4
	attrT       = 5
	attrFloats  = 7
	attrInts    = 8
	attrStrings = 9
	attrType    = 20

	tensorDims     = 1
	tensorDataType = 2
	tensorName     = 8
	tensorRawData  = 9

	valueName = 1
	valueType = 2

	typeTensor       = 1
	typeSparseTensor = 8

	tensorTypeElem  = 1
	tensorTypeShape = 2

	shapeDim = 1

	dimValue = 1
	dimParam = 2
)

type enc struct{ b []byte }

func (e *enc) varint(num protowire.Number, v uint64) {
	e.b = protowire.AppendTag(e.b, num, protowire.VarintType)
	e.b = protowire.AppendVarint(e.b, v)
}

func (e *enc) int64(num protowire.Number, v int64) { e.varint(num, uint64(v)) }

func (e *enc) float(num protowire.Number, v float32) {
	e.b = protowire.AppendTag(e.b, num, protowire.Fixed32Type)
	e.b = protowire.AppendFixed32(e.b, math.Float32bits(v))
}

func (e *enc) bytes(num protowire.Number, v []byte) {
	e.b = protowire.AppendTag(e.b, num, protowire.BytesType)
	e.b = protowire.AppendBytes(e.b, v)
}

func (e *enc) string(num protowire.Number, v string) {
	e.b = protowire.AppendTag(e.b, num, protowire.BytesType)
	e.b = protowire.AppendString(e.b, v)
}

// optString writes a proto2 optional string only when set.
func (e *enc) optString(num protowire.Number, v string) {
	if v != "" {
		e.string(num, v)
	}
}

func (e *enc) message(num protowire.Number, build func(*enc)) {
	var sub enc
	build(&sub)
	e.bytes(num, sub.b)
}

// Marshal validates the model and returns its ModelProto bytes.
func (m *Model) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var e enc
	e.int64(modelIRVersion, m.IRVersion)
	e.optString(modelProducerName, m.ProducerName)
	e.optString(modelProducerVersion, m.ProducerVersion)
	e.optString(modelDomain, m.Domain)
	if m.ModelVersion != 0 {
		e.int64(modelVersion, m.ModelVersion)
	}
	e.optString(modelDocString, m.DocString)
	e.message(modelGraph, m.Graph.encode)
	e.message(modelOpsetImport, func(o *enc) {
		o.string(opsetDomain, "")
		o.int64(opsetVersion, m.Opset)
	})
	for _, op := range m.OtherOpsets {
		e.message(modelOpsetImport, func(o *enc) {
			o.string(opsetDomain, op.Domain)
			o.int64(opsetVersion, op.Version)
		})
	}
	for _, kv := range m.Metadata {
		e.message(modelMetadataProps, func(o *enc) {
			o.string(kvKey, kv.Key)
			o.string(kvValue, kv.Value)
		})
	}
	return e.b, nil
}

func (g *Graph) encode(e *enc) {
	for _, n := range g.Nodes {
		e.message(graphNode, n.encode)
	}
	e.string(graphName, g.Name)
	for _, t := range g.Inits {
		e.message(graphInitializer, t.encode)
	}
	e.optString(graphDocString, g.DocString)
	for _, v := range g.Inputs {
		e.message(graphInput, v.encode)
	}
	for _, v := range g.Outputs {
		e.message(graphOutput, v.encode)
	}
	for _, v := range g.ValueInfo {
		e.message(graphValueInfo, v.encode)
	}
	for _, s := range g.SparseInits {
		e.bytes(graphSparseInitializer, s.raw)
	}
}

func (n *Node) encode(e *enc) {
	for _, in := range n.Inputs {
		e.string(nodeInput, in)
	}
	for _, o := range n.Outputs {
		e.string(nodeOutput, o)
	}
	e.optString(nodeName, n.Name)
	e.string(nodeOpType, n.OpType)
	for i := range n.Attrs {
		e.message(nodeAttribute, n.Attrs[i].encode)
	}
	e.optString(nodeDomain, n.Domain)
}

func (a *Attr) encode(e *enc) {
	if a.raw != nil {
		e.b = append(e.b, a.raw...)
		return
	}
	e.string(attrName, a.Name)
	switch a.Kind {
	case AttrFloat:
		e.float(attrF, a.F)
	case AttrInt:
		e.int64(attrI, a.I)
	case AttrString:
		e.string(attrS, a.S)
	case AttrTensor:
		e.message(attrT, a.T.encode)
	case AttrFloats:
		for _, f := range a.Fs {
			e.float(attrFloats, f)
		}
	case AttrInts:
		for _, i := range a.Is {
			e.int64(attrInts, i)
		}
	case AttrStrings:
		for _, s := range a.Strings {
			e.string(attrStrings, s)
		}
	}
	e.varint(attrType, uint64(a.Kind))
}

func (t *Tensor) encode(e *enc) {
	for _, d := range t.Dims {
		e.int64(tensorDims, d)
	}
	e.varint(tensorDataType, uint64(t.DType))
	e.optString(tensorName, t.Name)
	raw := t.Raw
	switch {
	case t.Floats != nil:
		raw = make([]byte, 4*len(t.Floats))
		for i, f := range t.Floats {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
	case t.Int64s != nil:
		raw = make([]byte, 8*len(t.Int64s))
		for i, v := range t.Int64s {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	}
	e.bytes(tensorRawData, raw)
}

func (v *ValueInfo) encode(e *enc) {
	e.string(valueName, v.Name)
	switch v.Kind {
	case TypeNone:
		return
	case TypeTensor, TypeSparseTensor:
	default:
		e.bytes(valueType, v.rawType)
		return
	}
	field := protowire.Number(typeTensor)
	if v.Kind == TypeSparseTensor {
		field = typeSparseTensor
	}
	e.message(valueType, func(tp *enc) {
		tp.message(field, func(tt *enc) {
			tt.varint(tensorTypeElem, uint64(v.DType))
			if v.Shape == nil {
				return
			}
			tt.message(tensorTypeShape, func(sh *enc) {
				for _, d := range v.Shape {
					sh.message(shapeDim, func(de *enc) {
						switch {
						case d.Param != "":
							de.string(dimParam, d.Param)
						case d.Value >= 0:
							de.int64(dimValue, d.Value)
						}
					})
				}
			})
		})
	})
}
