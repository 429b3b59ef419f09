package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Info is what Inspect reads back from ModelProto bytes: the header, the
// main graph's nodes, inputs, outputs and initializers. Initializer data
// is read for float32 and int64 tensors stored as raw_data or in the typed
// repeated fields; other types keep only their dims. Unknown fields are
// skipped, so models from other exporters can be inspected too.
type Info struct {
	IRVersion       int64
	Opsets          map[string]int64 // domain ("" is ai.onnx) to version
	ProducerName    string
	ProducerVersion string
	DocString       string
	Metadata        []KeyValue
	Graph           *Graph
}

// ParamCount is the number of float32 initializer elements in the model.
func ParamCount(model []byte) (int64, error) {
	info, err := Inspect(model)
	if err != nil {
		return 0, err
	}
	return info.Graph.ParamCount(), nil
}

// OpCounts counts the graph's nodes by op type.
func (i *Info) OpCounts() map[string]int {
	m := map[string]int{}
	for _, n := range i.Graph.Nodes {
		m[n.OpType]++
	}
	return m
}

// Meta returns the metadata value for key, or "".
func (i *Info) Meta(key string) string {
	for _, kv := range i.Metadata {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// Inspect decodes ModelProto bytes.
func Inspect(model []byte) (*Info, error) {
	info := &Info{Opsets: map[string]int64{}, Graph: NewGraph("")}
	err := fields(model, func(num protowire.Number, v field) error {
		switch num {
		case modelIRVersion:
			info.IRVersion = int64(v.u)
		case modelProducerName:
			info.ProducerName = string(v.b)
		case modelProducerVersion:
			info.ProducerVersion = string(v.b)
		case modelDocString:
			info.DocString = string(v.b)
		case modelGraph:
			return decodeGraph(v.b, info.Graph)
		case modelOpsetImport:
			var dom string
			var ver int64
			if err := fields(v.b, func(n protowire.Number, f field) error {
				switch n {
				case opsetDomain:
					dom = string(f.b)
				case opsetVersion:
					ver = int64(f.u)
				}
				return nil
			}); err != nil {
				return err
			}
			info.Opsets[dom] = ver
		case modelMetadataProps:
			var kv KeyValue
			if err := fields(v.b, func(n protowire.Number, f field) error {
				switch n {
				case kvKey:
					kv.Key = string(f.b)
				case kvValue:
					kv.Value = string(f.b)
				}
				return nil
			}); err != nil {
				return err
			}
			info.Metadata = append(info.Metadata, kv)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decode ModelProto: %w", err)
	}
	return info, nil
}

// field is one decoded wire value: u for varint/fixed, b for bytes.
type field struct {
	typ protowire.Type
	u   uint64
	b   []byte
}

func fields(b []byte, fn func(protowire.Number, field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		f := field{typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u = uint64(v)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, f); err != nil {
			return err
		}
	}
	return nil
}

// varints reads a repeated int64 field in either packed or unpacked form.
func varints(f field, dst *[]int64) error {
	if f.typ == protowire.VarintType {
		*dst = append(*dst, int64(f.u))
		return nil
	}
	b := f.b
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		*dst = append(*dst, int64(v))
		b = b[n:]
	}
	return nil
}

func float32s(f field, dst *[]float32) {
	if f.typ == protowire.Fixed32Type {
		*dst = append(*dst, math.Float32frombits(uint32(f.u)))
		return
	}
	for i := 0; i+4 <= len(f.b); i += 4 {
		*dst = append(*dst, math.Float32frombits(binary.LittleEndian.Uint32(f.b[i:])))
	}
}

func decodeGraph(b []byte, g *Graph) error {
	return fields(b, func(num protowire.Number, f field) error {
		switch num {
		case graphNode:
			n, err := decodeNode(f.b)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case graphName:
			g.Name = string(f.b)
		case graphDocString:
			g.DocString = string(f.b)
		case graphInitializer:
			t, err := decodeTensor(f.b)
			if err != nil {
				return err
			}
			g.Inits = append(g.Inits, t)
		case graphInput, graphOutput, graphValueInfo:
			v, err := decodeValueInfo(f.b)
			if err != nil {
				return err
			}
			switch num {
			case graphInput:
				g.Inputs = append(g.Inputs, v)
			case graphOutput:
				g.Outputs = append(g.Outputs, v)
			default:
				g.ValueInfo = append(g.ValueInfo, v)
			}
		}
		return nil
	})
}

func decodeNode(b []byte) (*Node, error) {
	n := &Node{}
	err := fields(b, func(num protowire.Number, f field) error {
		switch num {
		case nodeInput:
			n.Inputs = append(n.Inputs, string(f.b))
		case nodeOutput:
			n.Outputs = append(n.Outputs, string(f.b))
		case nodeName:
			n.Name = string(f.b)
		case nodeOpType:
			n.OpType = string(f.b)
		case nodeDomain:
			n.Domain = string(f.b)
		case nodeAttribute:
			a, err := decodeAttr(f.b)
			if err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		}
		return nil
	})
	return n, err
}

func decodeAttr(b []byte) (Attr, error) {
	var a Attr
	err := fields(b, func(num protowire.Number, f field) error {
		switch num {
		case attrName:
			a.Name = string(f.b)
		case attrF:
			a.F = math.Float32frombits(uint32(f.u))
		case attrI:
			a.I = int64(f.u)
		case attrS:
			a.S = string(f.b)
		case attrT:
			t, err := decodeTensor(f.b)
			if err != nil {
				return err
			}
			a.T = t
		case attrFloats:
			float32s(f, &a.Fs)
		case attrInts:
			return varints(f, &a.Is)
		case attrStrings:
			a.Strings = append(a.Strings, string(f.b))
		case attrType:
			a.Kind = AttrKind(f.u)
		}
		return nil
	})
	return a, err
}

// Field numbers of TensorProto's typed repeated data.
const (
	tensorFloatData = 4
	tensorInt64Data = 7
)

func decodeTensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	var raw []byte
	err := fields(b, func(num protowire.Number, f field) error {
		switch num {
		case tensorDims:
			return varints(f, &t.Dims)
		case tensorDataType:
			t.DType = DType(f.u)
		case tensorName:
			t.Name = string(f.b)
		case tensorRawData:
			raw = f.b
		case tensorFloatData:
			float32s(f, &t.Floats)
		case tensorInt64Data:
			return varints(f, &t.Int64s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if raw != nil {
		switch t.DType {
		case Float:
			float32s(field{typ: protowire.BytesType, b: raw}, &t.Floats)
		case Int64:
			for i := 0; i+8 <= len(raw); i += 8 {
				t.Int64s = append(t.Int64s, int64(binary.LittleEndian.Uint64(raw[i:])))
			}
		}
	}
	return t, nil
}

func decodeValueInfo(b []byte) (ValueInfo, error) {
	var v ValueInfo
	err := fields(b, func(num protowire.Number, f field) error {
		switch num {
		case valueName:
			v.Name = string(f.b)
		case valueType:
			return fields(f.b, func(num protowire.Number, f field) error {
				if num != typeTensor {
					return nil
				}
				return fields(f.b, func(num protowire.Number, f field) error {
					switch num {
					case tensorTypeElem:
						v.DType = DType(f.u)
					case tensorTypeShape:
						v.Shape = []Dimension{}
						return fields(f.b, func(num protowire.Number, f field) error {
							if num != shapeDim {
								return nil
							}
							var d Dimension
							err := fields(f.b, func(num protowire.Number, f field) error {
								switch num {
								case dimValue:
									d.Value = int64(f.u)
								case dimParam:
									d.Param = string(f.b)
								}
								return nil
							})
							v.Shape = append(v.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return v, err
}
