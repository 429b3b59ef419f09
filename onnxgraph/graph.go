// Package onnxgraph is the project's one reader and writer of ONNX models:
// it builds graphs in Go, reads model files back (Read, Inspect), and
// serialises them to the ModelProto wire format, without Python. model/
// reads every model through it, modelgen builds with it, and quantize
// rewrites graphs read by it.
//
// It covers the subset of onnx.proto image models need: a main graph of
// nodes, initializers of every fixed-size element type, attributes of the
// common kinds, tensor inputs and outputs with fixed or symbolic
// dimensions, and model metadata. What it does not model (sub-graph
// attributes, non-tensor value types, sparse initializers) it keeps as
// bytes, so that a model read and written back loses nothing of them.
//
// Why protowire by hand and not protoc-gen-go's generated types: measured
// on the 8.6 MB AnimeGANv2 model (BenchmarkRead here; the generated code
// from onnx.proto by protoc-gen-go v1.36.12, benchmarked beside it and not
// kept), proto.Unmarshal took 6.3-13.5 ms and 9.1 MB in 10,633
// allocations, Read 1.6-2.7 ms and 0.39 MB in 6,910, because Read leaves
// the weights' raw_data where it lies in the file and decodes it only
// when asked (Tensor.Float32s), while the generated code must copy it.
// Start-up (inspect, convert's model check) needs the graph, not the
// weights. The hand reader also costs no generated 3,600-line file and no
// protoc step in the build, and reads what convert needs the way ONNX
// Runtime does (tested against it in model/).
//
//	g := onnxgraph.NewGraph("double")
//	x := g.Input("x", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(3))
//	two := g.Scalar(2)
//	y := g.Op("Mul", []string{x, two})
//	g.Output(y, "y", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(3))
//	data, err := onnxgraph.NewModel(g).Marshal()
//
// Serialisation is deterministic: the same sequence of builder calls gives
// the same bytes.
package onnxgraph

import (
	"fmt"
	"strconv"
)

// DType is an ONNX TensorProto.DataType.
type DType int32

// The element types this package names.
const (
	Float    DType = 1
	Uint8    DType = 2
	Int8     DType = 3
	Uint16   DType = 4
	Int16    DType = 5
	Int32    DType = 6
	Int64    DType = 7
	Bool     DType = 9
	Float16  DType = 10
	Double   DType = 11
	Uint32   DType = 12
	Uint64   DType = 13
	BFloat16 DType = 16
)

// Size is the byte size of one element, 0 for types without a fixed one
// (strings, complex numbers, sub-byte types).
func (d DType) Size() int64 {
	switch d {
	case Float, Int32, Uint32:
		return 4
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Int64, Double, Uint64:
		return 8
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float || d == Float16 || d == Double || d == BFloat16
}

func (d DType) String() string {
	switch d {
	case Float:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	case Double:
		return "float64"
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// Dimension is one axis of a value's declared shape: a fixed size or a
// symbolic name shared by axes that must agree.
type Dimension struct {
	Value int64  // used when Param is empty
	Param string // symbolic name (dim_param)
}

// Dim is a fixed-size dimension.
func Dim(n int64) Dimension { return Dimension{Value: n} }

// Sym is a symbolic dimension such as "N" or "height".
func Sym(name string) Dimension { return Dimension{Param: name} }

func (d Dimension) String() string {
	if d.Param != "" {
		return d.Param
	}
	return strconv.FormatInt(d.Value, 10)
}

// TypeKind is which kind of value a ValueInfo declares: TypeProto's
// value oneof. The zero value is a tensor, what builders declare.
type TypeKind int

const (
	TypeTensor TypeKind = iota
	TypeNone            // no type given (read from a file)
	TypeSequence
	TypeMap
	TypeOpaque
	TypeSparseTensor
	TypeOptional
)

// ValueInfo declares a graph input, output or intermediate value.
type ValueInfo struct {
	Name  string
	Kind  TypeKind
	DType DType       // tensors and sparse tensors
	Shape []Dimension // nil: rank unknown (no shape given)

	rawType []byte // a non-tensor TypeProto read from a file, written back as is
}

// SparseInit is a sparse initializer read from a file, known by the name
// of its values tensor and written back unchanged.
type SparseInit struct {
	Name string
	raw  []byte
}

// Tensor is a constant: an initializer or a tensor attribute. Exactly one
// of Floats, Int64s and Raw holds the data: Floats for Float or Int64s for
// Int64 (what builders give), else Raw, little-endian as raw_data stores
// it (any type; what Read leaves). Float32s reads either form.
type Tensor struct {
	Name   string
	DType  DType
	Dims   []int64
	Floats []float32
	Int64s []int64
	Raw    []byte
	// External is true when the data lives in a separate file
	// (data_location EXTERNAL); such a tensor is read without its data.
	External bool
}

// Len is the element count implied by Dims (1 for a scalar).
func (t *Tensor) Len() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Float32s is a float32 tensor's values, decoded from Raw when needed
// (a copy then; Floats itself otherwise).
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DType != Float {
		return nil, fmt.Errorf("tensor %q is %v, not float32", t.Name, t.DType)
	}
	if t.Floats != nil || t.Raw == nil {
		return t.Floats, t.check()
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return decodeFloats(nil, t.Raw), nil
}

func (t *Tensor) check() error {
	var have int
	if t.External {
		return fmt.Errorf("tensor %q: data in an external file is not supported", t.Name)
	}
	if t.Raw != nil && t.Floats == nil && t.Int64s == nil {
		if size := t.DType.Size(); size == 0 || int64(len(t.Raw)) != t.Len()*size {
			return fmt.Errorf("tensor %q: dims %v need %d bytes of %v, have %d", t.Name, t.Dims, t.Len()*size, t.DType, len(t.Raw))
		}
		return nil
	}
	switch t.DType {
	case Float:
		have = len(t.Floats)
		if t.Int64s != nil {
			return fmt.Errorf("tensor %q: float32 tensor with int64 data", t.Name)
		}
	case Int64:
		have = len(t.Int64s)
		if t.Floats != nil {
			return fmt.Errorf("tensor %q: int64 tensor with float32 data", t.Name)
		}
	default:
		size := t.DType.Size()
		if size == 0 {
			return fmt.Errorf("tensor %q: unsupported data type %v", t.Name, t.DType)
		}
		if t.Floats != nil || t.Int64s != nil {
			return fmt.Errorf("tensor %q: %v tensor with float32 or int64 data", t.Name, t.DType)
		}
		if int64(len(t.Raw)) != t.Len()*size {
			return fmt.Errorf("tensor %q: dims %v need %d bytes, have %d", t.Name, t.Dims, t.Len()*size, len(t.Raw))
		}
		return nil
	}
	if t.Raw != nil {
		return fmt.Errorf("tensor %q: %v tensor with raw data", t.Name, t.DType)
	}
	if int64(have) != t.Len() {
		return fmt.Errorf("tensor %q: dims %v need %d elements, have %d", t.Name, t.Dims, t.Len(), have)
	}
	return nil
}

// AttrKind is an ONNX AttributeProto.AttributeType.
type AttrKind int32

// The attribute kinds this package writes.
const (
	AttrFloat   AttrKind = 1
	AttrInt     AttrKind = 2
	AttrString  AttrKind = 3
	AttrTensor  AttrKind = 4
	AttrFloats  AttrKind = 6
	AttrInts    AttrKind = 7
	AttrStrings AttrKind = 8
)

// Attr is one node attribute. Build it with Int, Ints, Float32, Float32s,
// String or TensorAttr.
type Attr struct {
	Name    string
	Kind    AttrKind
	F       float32
	I       int64
	S       string
	T       *Tensor
	Fs      []float32
	Is      []int64
	Strings []string

	raw []byte // an attribute of a kind this package does not model (a graph), read from a file
}

// Int is an integer attribute such as axis or group.
func Int(name string, v int64) Attr { return Attr{Name: name, Kind: AttrInt, I: v} }

// Ints is an integer-list attribute such as pads or kernel_shape.
func Ints(name string, v ...int64) Attr {
	return Attr{Name: name, Kind: AttrInts, Is: append([]int64{}, v...)}
}

// Float32 is a float attribute such as alpha or epsilon.
func Float32(name string, v float32) Attr { return Attr{Name: name, Kind: AttrFloat, F: v} }

// Float32s is a float-list attribute.
func Float32s(name string, v ...float32) Attr {
	return Attr{Name: name, Kind: AttrFloats, Fs: append([]float32{}, v...)}
}

// String is a string attribute such as mode.
func String(name, v string) Attr { return Attr{Name: name, Kind: AttrString, S: v} }

// Strings is a string-list attribute.
func Strings(name string, v ...string) Attr {
	return Attr{Name: name, Kind: AttrStrings, Strings: append([]string{}, v...)}
}

// TensorAttr is a tensor attribute, e.g. ConstantOfShape's value.
func TensorAttr(name string, t Tensor) Attr { return Attr{Name: name, Kind: AttrTensor, T: &t} }

// Node is one operator application.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string // "" marks an omitted optional input
	Outputs []string
	Attrs   []Attr
}

// Graph is an ONNX graph under construction. Nodes must be added in
// topological order (each input defined before use), which the builder's
// style of returning output names makes natural; Marshal checks it.
type Graph struct {
	Name        string
	DocString   string
	Nodes       []*Node
	Inits       []*Tensor
	SparseInits []SparseInit
	Inputs      []ValueInfo
	Outputs     []ValueInfo
	ValueInfo   []ValueInfo

	defined  map[string]bool
	reserved map[string]bool // names Fresh gave out, not yet defined
	counter  map[string]int
	err      error
}

// NewGraph starts an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{Name: name, defined: map[string]bool{}, counter: map[string]int{}, reserved: map[string]bool{}}
}

// index rebuilds the set of defined names, so that builder methods can
// extend a graph read from a file.
func (g *Graph) index() {
	g.defined, g.counter, g.reserved = map[string]bool{}, map[string]int{}, map[string]bool{}
	for _, in := range g.Inputs {
		g.defined[in.Name] = true
	}
	for _, t := range g.Inits {
		g.defined[t.Name] = true
	}
	for _, s := range g.SparseInits {
		g.defined[s.Name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			g.defined[o] = true
		}
	}
}

// Fresh reserves a value name built from prefix that the graph does not
// use; the one definition of it (Const, or a node output) may follow.
func (g *Graph) Fresh(prefix string) string {
	name := g.fresh(prefix)
	g.defined[name] = true
	g.reserved[name] = true
	return name
}

// Err is the first misuse recorded by a builder method (duplicate or
// undefined names); Marshal reports it too.
func (g *Graph) Err() error { return g.err }

func (g *Graph) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, args...)
	}
}

// fresh returns an unused name built from prefix.
func (g *Graph) fresh(prefix string) string {
	for {
		g.counter[prefix]++
		name := prefix + "_" + strconv.Itoa(g.counter[prefix])
		if !g.defined[name] {
			return name
		}
	}
}

func (g *Graph) define(name string) {
	if name == "" {
		g.fail("empty value name")
		return
	}
	if g.defined[name] && !g.reserved[name] {
		g.fail("value %q defined twice", name)
	}
	delete(g.reserved, name)
	g.defined[name] = true
}

// Input declares a graph input and returns its name.
func (g *Graph) Input(name string, dt DType, shape ...Dimension) string {
	g.define(name)
	g.Inputs = append(g.Inputs, ValueInfo{Name: name, DType: dt, Shape: append([]Dimension(nil), shape...)})
	return name
}

// Output declares value as a graph output called name. When the names
// differ, the node producing value is renamed (value must be a node output
// that is not itself a graph input or output).
func (g *Graph) Output(value, name string, dt DType, shape ...Dimension) {
	if value != name {
		g.rename(value, name)
	}
	g.Outputs = append(g.Outputs, ValueInfo{Name: name, DType: dt, Shape: append([]Dimension(nil), shape...)})
}

func (g *Graph) rename(from, to string) {
	if !g.defined[from] {
		g.fail("output source %q is not defined", from)
		return
	}
	if g.defined[to] {
		g.fail("output name %q is already used", to)
		return
	}
	var produced bool
	for _, n := range g.Nodes {
		for i, o := range n.Outputs {
			if o == from {
				n.Outputs[i] = to
				produced = true
			}
		}
		for i, in := range n.Inputs {
			if in == from {
				n.Inputs[i] = to
			}
		}
	}
	if !produced {
		g.fail("output source %q is not a node output", from)
		return
	}
	for _, o := range g.Outputs {
		if o.Name == from {
			g.fail("value %q is already a graph output", from)
		}
	}
	delete(g.defined, from)
	g.defined[to] = true
}

// Annotate records the type and shape of an intermediate value
// (value_info); optional, useful for documentation and inspection.
func (g *Graph) Annotate(name string, dt DType, shape ...Dimension) {
	g.ValueInfo = append(g.ValueInfo, ValueInfo{Name: name, DType: dt, Shape: append([]Dimension(nil), shape...)})
}

// Const adds an initializer and returns its name. An empty t.Name gets a
// fresh name.
func (g *Graph) Const(t Tensor) string {
	if t.Name == "" {
		t.Name = g.fresh("const")
	}
	if err := t.check(); err != nil {
		g.fail("%v", err)
	}
	g.define(t.Name)
	tt := t
	g.Inits = append(g.Inits, &tt)
	return t.Name
}

// Floats adds a float32 initializer of the given dims.
func (g *Graph) Floats(dims []int64, v ...float32) string {
	return g.Const(Tensor{DType: Float, Dims: append([]int64{}, dims...), Floats: append([]float32{}, v...)})
}

// Int64s adds an int64 initializer of the given dims.
func (g *Graph) Int64s(dims []int64, v ...int64) string {
	return g.Const(Tensor{DType: Int64, Dims: append([]int64{}, dims...), Int64s: append([]int64{}, v...)})
}

// Scalar adds a rank-0 float32 initializer.
func (g *Graph) Scalar(v float32) string { return g.Floats(nil, v) }

// Vec adds a rank-1 int64 initializer, the usual form of shape, axes and
// pads inputs.
func (g *Graph) Vec(v ...int64) string { return g.Int64s([]int64{int64(len(v))}, v...) }

// Op appends a single-output node and returns its output's name.
func (g *Graph) Op(opType string, inputs []string, attrs ...Attr) string {
	return g.OpN(opType, inputs, 1, attrs...)[0]
}

// OpN appends a node with n outputs and returns their names.
func (g *Graph) OpN(opType string, inputs []string, n int, attrs ...Attr) []string {
	for _, in := range inputs {
		if in != "" && !g.defined[in] {
			g.fail("%s: input %q is not defined", opType, in)
		}
	}
	name := g.fresh(opType)
	outs := make([]string, n)
	for i := range outs {
		if n == 1 {
			outs[i] = name
		} else {
			outs[i] = name + "_out" + strconv.Itoa(i)
		}
		g.define(outs[i])
	}
	g.Nodes = append(g.Nodes, &Node{
		Name:    name,
		OpType:  opType,
		Inputs:  append([]string{}, inputs...),
		Outputs: outs,
		Attrs:   append([]Attr{}, attrs...),
	})
	return outs
}

// ParamCount is the number of elements in the graph's float initializers:
// the model's parameter count in the usual sense. Int64 initializers
// (shapes, axes, pads) are not parameters.
func (g *Graph) ParamCount() int64 {
	var n int64
	for _, t := range g.Inits {
		if t.DType == Float {
			n += t.Len()
		}
	}
	return n
}

// Model wraps a graph with the header ONNX Runtime needs.
type Model struct {
	Graph           *Graph
	IRVersion       int64
	Opset           int64
	ProducerName    string
	ProducerVersion string
	DocString       string
	Domain          string
	ModelVersion    int64
	Metadata        []KeyValue
	// OtherOpsets are imports of domains other than ai.onnx, e.g.
	// com.microsoft; Opset is ai.onnx's version.
	OtherOpsets []Opset
}

// KeyValue is one metadata_props entry.
type KeyValue struct{ Key, Value string }

// DefaultOpset is the ai.onnx opset version models use unless changed.
const DefaultOpset = 17

// IRVersionFor returns the IR version that introduced the opset (the
// version onnx.helper.make_model would choose).
func IRVersionFor(opset int64) int64 {
	switch {
	case opset <= 8:
		return 3
	case opset <= 10:
		return 5
	case opset <= 11:
		return 6
	case opset <= 14:
		return 7
	case opset <= 18:
		return 8
	case opset <= 20:
		return 9
	case opset <= 22:
		return 10
	default:
		return 11
	}
}

// NewModel wraps g with opset DefaultOpset and its IR version.
func NewModel(g *Graph) *Model {
	return &Model{Graph: g, Opset: DefaultOpset, IRVersion: IRVersionFor(DefaultOpset)}
}

// SetMetadata sets a metadata_props entry, replacing an existing key and
// otherwise keeping insertion order.
func (m *Model) SetMetadata(key, value string) {
	for i := range m.Metadata {
		if m.Metadata[i].Key == key {
			m.Metadata[i].Value = value
			return
		}
	}
	m.Metadata = append(m.Metadata, KeyValue{key, value})
}

// Validate checks the graph: builder misuse, topological order, declared
// outputs produced, initializer data sizes.
func (m *Model) Validate() error {
	g := m.Graph
	if g == nil {
		return fmt.Errorf("model has no graph")
	}
	if g.err != nil {
		return g.err
	}
	if m.Opset <= 0 || m.IRVersion <= 0 {
		return fmt.Errorf("opset %d / IR version %d not set", m.Opset, m.IRVersion)
	}
	known := map[string]bool{}
	for _, in := range g.Inputs {
		known[in.Name] = true
	}
	for _, s := range g.SparseInits {
		known[s.Name] = true
	}
	for _, t := range g.Inits {
		if err := t.check(); err != nil {
			return err
		}
		known[t.Name] = true
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !known[in] {
				return fmt.Errorf("node %s (%s) uses %q before it is defined", n.Name, n.OpType, in)
			}
		}
		for _, o := range n.Outputs {
			known[o] = true
		}
	}
	if len(g.Outputs) == 0 {
		return fmt.Errorf("graph %q has no outputs", g.Name)
	}
	for _, o := range g.Outputs {
		if !known[o.Name] {
			return fmt.Errorf("graph output %q is never produced", o.Name)
		}
	}
	return nil
}
