package onnxgraph

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is a file that is not a well-formed protobuf.
var ErrMalformed = errors.New("malformed ONNX protobuf")

// ErrNoGraph is a protobuf without a graph: it parsed, but is no model.
var ErrNoGraph = errors.New("the file holds no graph")

// Opset is one operator set a model imports.
type Opset struct {
	Domain  string // "" is the default ONNX domain (also spelt "ai.onnx")
	Version int64
}

// Info is a ModelProto read back: the header, the main graph's nodes,
// inputs, outputs, initializers and metadata. Tensor data is read for
// float32 and int64 tensors into Floats and Int64s, and kept as raw
// little-endian bytes (Raw) for the other types. Unknown fields are
// skipped; parts this package does not model (sub-graph attributes,
// non-tensor value types, sparse initializers) are kept as their bytes so
// that Model writes them back unchanged.
type Info struct {
	IRVersion       int64
	Opsets          map[string]int64 // domain ("" is ai.onnx) to version
	OpsetList       []Opset          // the same, in file order
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Metadata        []KeyValue
	Graph           *Graph
	// HasGraph is false for a protobuf without a graph field.
	HasGraph bool
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

// Model turns what was read back into a Model that Marshal writes: the
// way to rewrite an existing file. The graph is shared, not copied.
func (i *Info) Model() *Model {
	m := &Model{
		Graph: i.Graph, IRVersion: i.IRVersion, ProducerName: i.ProducerName,
		ProducerVersion: i.ProducerVersion, DocString: i.DocString, Domain: i.Domain,
		ModelVersion: i.ModelVersion, Metadata: append([]KeyValue(nil), i.Metadata...),
	}
	for _, o := range i.OpsetList {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			m.Opset = o.Version
		} else {
			m.OtherOpsets = append(m.OtherOpsets, o)
		}
	}
	i.Graph.index()
	return m
}

// Inspect decodes ModelProto bytes, tensor data included: float32 and
// int64 tensors into Floats and Int64s. A repeated message field (the
// graph given twice) merges, as protobuf does.
func Inspect(model []byte) (*Info, error) { return decoder{}.model(model) }

// Read decodes ModelProto bytes like Inspect, but leaves every tensor's
// raw_data where it is: Raw is a slice of model (which the caller must
// then leave unchanged), and Float32s decodes it when asked. This is the
// reader for start-up, which needs the graph, not the weights.
func Read(model []byte) (*Info, error) { return decoder{lazy: true}.model(model) }

// ReadGraph is Read for a caller that needs a model: a protobuf that parses
// but holds no graph is ErrNoGraph.
func ReadGraph(model []byte) (*Info, error) {
	info, err := Read(model)
	if err != nil {
		return nil, err
	}
	if !info.HasGraph {
		return nil, ErrNoGraph
	}
	return info, nil
}

// decoder reads a ModelProto; lazy leaves raw tensor data undecoded.
type decoder struct{ lazy bool }

func (d decoder) model(model []byte) (*Info, error) {
	info := &Info{Opsets: map[string]int64{}, Graph: NewGraph("")}
	err := fields(model, func(num protowire.Number, v field) error {
		switch {
		case num == modelIRVersion && v.typ == protowire.VarintType:
			info.IRVersion = int64(v.u)
		case num == modelProducerName && v.isBytes():
			info.ProducerName = string(v.b)
		case num == modelProducerVersion && v.isBytes():
			info.ProducerVersion = string(v.b)
		case num == modelDomain && v.isBytes():
			info.Domain = string(v.b)
		case num == modelVersion && v.typ == protowire.VarintType:
			info.ModelVersion = int64(v.u)
		case num == modelDocString && v.isBytes():
			info.DocString = string(v.b)
		case num == modelGraph && v.isBytes():
			info.HasGraph = true
			return d.graph(v.b, info.Graph)
		case num == modelOpsetImport && v.isBytes():
			var o Opset
			if err := fields(v.b, func(n protowire.Number, f field) error {
				switch {
				case n == opsetDomain && f.isBytes():
					o.Domain = string(f.b)
				case n == opsetVersion && f.typ == protowire.VarintType:
					o.Version = int64(f.u)
				}
				return nil
			}); err != nil {
				return err
			}
			info.Opsets[o.Domain] = o.Version
			info.OpsetList = append(info.OpsetList, o)
		case num == modelMetadataProps && v.isBytes():
			var kv KeyValue
			if err := fields(v.b, func(n protowire.Number, f field) error {
				switch {
				case n == kvKey && f.isBytes():
					kv.Key = string(f.b)
				case n == kvValue && f.isBytes():
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
		return nil, err
	}
	return info, nil
}

// field is one decoded wire value: u for varint/fixed, b for bytes.
type field struct {
	typ protowire.Type
	u   uint64
	b   []byte
}

func (f field) isBytes() bool { return f.typ == protowire.BytesType }

// fields calls fn for every field of one protobuf message.
func fields(b []byte, fn func(protowire.Number, field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
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
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
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
	switch f.typ {
	case protowire.VarintType:
		*dst = append(*dst, int64(f.u))
		return nil
	case protowire.BytesType:
	default:
		return nil
	}
	b := f.b
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		*dst = append(*dst, int64(v))
		b = b[n:]
	}
	return nil
}

func float32s(f field, dst *[]float32) {
	switch f.typ {
	case protowire.Fixed32Type:
		*dst = append(*dst, math.Float32frombits(uint32(f.u)))
	case protowire.BytesType:
		*dst = decodeFloats(*dst, f.b)
	}
}

func decodeFloats(dst []float32, b []byte) []float32 {
	dst = append(dst, make([]float32, len(b)/4)...)
	out := dst[len(dst)-len(b)/4:]
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst
}

func (d decoder) graph(b []byte, g *Graph) error {
	return fields(b, func(num protowire.Number, f field) error {
		if !f.isBytes() {
			return nil
		}
		switch num {
		case graphNode:
			n, err := d.node(f.b)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case graphName:
			g.Name = string(f.b)
		case graphDocString:
			g.DocString = string(f.b)
		case graphInitializer:
			t, err := d.tensor(f.b)
			if err != nil {
				return err
			}
			g.Inits = append(g.Inits, t)
		case graphSparseInitializer:
			// A sparse initializer is named by its values tensor; it is
			// kept whole for writing back.
			s := SparseInit{raw: f.b}
			err := fields(f.b, func(n protowire.Number, f field) error {
				if n == sparseValues && f.isBytes() {
					t, err := d.tensor(f.b)
					if err != nil {
						return err
					}
					s.Name = t.Name
				}
				return nil
			})
			if err != nil {
				return err
			}
			g.SparseInits = append(g.SparseInits, s)
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

func (d decoder) node(b []byte) (*Node, error) {
	n := &Node{}
	err := fields(b, func(num protowire.Number, f field) error {
		if !f.isBytes() {
			return nil
		}
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
			a, err := d.attr(f.b)
			if err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		}
		return nil
	})
	return n, err
}

func (d decoder) attr(b []byte) (Attr, error) {
	a := Attr{raw: b}
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
			if !f.isBytes() {
				return nil
			}
			t, err := d.tensor(f.b)
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
	if a.Kind == 0 {
		// Before IR version 3 the type was implied by which field is set.
		switch {
		case a.T != nil:
			a.Kind = AttrTensor
		case len(a.Is) > 0:
			a.Kind = AttrInts
		case len(a.Fs) > 0:
			a.Kind = AttrFloats
		}
	}
	switch a.Kind {
	case AttrFloat, AttrInt, AttrString, AttrTensor, AttrFloats, AttrInts, AttrStrings:
		a.raw = nil // written back from the fields
	}
	return a, err
}

// Field numbers of TensorProto's typed repeated data and storage.
const (
	tensorFloatData    = 4
	tensorInt32Data    = 5
	tensorInt64Data    = 7
	tensorDataLocation = 14
)

func (d decoder) tensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	var raw []byte
	var hasRaw bool
	var int32s []int64
	err := fields(b, func(num protowire.Number, f field) error {
		switch num {
		case tensorDims:
			return varints(f, &t.Dims)
		case tensorDataType:
			t.DType = DType(f.u)
		case tensorName:
			t.Name = string(f.b)
		case tensorRawData:
			raw, hasRaw = f.b, true
		case tensorFloatData:
			float32s(f, &t.Floats)
		case tensorInt32Data:
			return varints(f, &int32s)
		case tensorInt64Data:
			return varints(f, &t.Int64s)
		case tensorDataLocation:
			t.External = f.typ == protowire.VarintType && f.u == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case hasRaw && d.lazy:
		t.Raw = raw
	case hasRaw && t.DType == Float:
		t.Floats = decodeFloats(t.Floats, raw)
	case hasRaw && t.DType == Int64:
		for i := 0; i+8 <= len(raw); i += 8 {
			t.Int64s = append(t.Int64s, int64(binary.LittleEndian.Uint64(raw[i:])))
		}
	case hasRaw:
		t.Raw = append([]byte{}, raw...)
	case len(int32s) > 0:
		// int32_data holds the narrow integer types too, one per value.
		size := t.DType.Size()
		for _, v := range int32s {
			switch size {
			case 1:
				t.Raw = append(t.Raw, byte(v))
			case 2:
				t.Raw = binary.LittleEndian.AppendUint16(t.Raw, uint16(v))
			case 4:
				t.Raw = binary.LittleEndian.AppendUint32(t.Raw, uint32(v))
			}
		}
	}
	return t, nil
}

// decodeValueInfo reads a ValueInfoProto. A TypeProto given twice merges
// as protobuf merges a oneof: a different member replaces the previous
// one, the same member merges into it.
func decodeValueInfo(b []byte) (ValueInfo, error) {
	v := ValueInfo{Kind: TypeNone}
	err := fields(b, func(num protowire.Number, f field) error {
		switch {
		case num == valueName && f.isBytes():
			v.Name = string(f.b)
		case num == valueType && f.isBytes():
			return fields(f.b, func(num protowire.Number, f field) error {
				kind, ok := typeKinds[num]
				if !ok || !f.isBytes() {
					return nil // denotation, or a kind newer than this reader
				}
				if kind != v.Kind {
					v.Kind, v.DType, v.Shape, v.rawType = kind, 0, nil, nil
				}
				if kind != TypeTensor && kind != TypeSparseTensor {
					v.rawType = append(v.rawType, protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), f.b)...)
					return nil
				}
				return decodeTensorType(f.b, &v)
			})
		}
		return nil
	})
	return v, err
}

// decodeTensorType reads TypeProto.Tensor (or SparseTensor, laid out
// alike). A dimension is its dim_value, its dim_param, or Value -1 when it
// gives neither or a negative value; dim_value and dim_param are a oneof,
// so the last one given wins.
func decodeTensorType(b []byte, v *ValueInfo) error {
	return fields(b, func(num protowire.Number, f field) error {
		switch {
		case num == tensorTypeElem && f.typ == protowire.VarintType:
			v.DType = DType(int32(f.u))
		case num == tensorTypeShape && f.isBytes():
			if v.Shape == nil {
				v.Shape = []Dimension{}
			}
			return fields(f.b, func(num protowire.Number, f field) error {
				if num != shapeDim || !f.isBytes() {
					return nil
				}
				dim := Dimension{Value: -1}
				err := fields(f.b, func(num protowire.Number, f field) error {
					switch {
					case num == dimValue && f.typ == protowire.VarintType:
						dim = Dimension{Value: max(-1, int64(f.u))}
					case num == dimParam && f.isBytes():
						dim = Dimension{Value: -1, Param: string(f.b)}
					}
					return nil
				})
				v.Shape = append(v.Shape, dim)
				return err
			})
		}
		return nil
	})
}

// typeKinds maps TypeProto's value oneof field numbers (onnx.proto;
// opaque_type is in onnx-ml.proto) to TypeKind.
var typeKinds = map[protowire.Number]TypeKind{
	1: TypeTensor, 4: TypeSequence, 5: TypeMap, 7: TypeOpaque, 8: TypeSparseTensor, 9: TypeOptional,
}
