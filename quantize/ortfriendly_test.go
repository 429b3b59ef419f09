package quantize

import (
	"math/rand/v2"
	"slices"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/internal/ortest"
	"animegan/onnxgraph"
)

// padGraph is a hand-made QDQ graph: x -> Pad(mode) -> Q -> DQ -> Conv ->
// Q -> DQ, reshaped flat and back to the Shape of that last
// DequantizeLinear's output (as an exported GroupNorm does).
func padGraph(t *testing.T, mode string, value *float32) *onnxgraph.Model {
	t.Helper()
	g := onnxgraph.NewGraph("pad")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dim(1), onnxgraph.Dim(2), onnxgraph.Dim(5), onnxgraph.Dim(6))
	in := []string{x, g.Vec(0, 0, 1, 2, 0, 0, 2, 1)}
	if value != nil {
		in = append(in, g.Scalar(*value))
	}
	attrs := []onnxgraph.Attr{}
	if mode != "" {
		attrs = append(attrs, onnxgraph.String("mode", mode))
	}
	p := g.Op("Pad", in, attrs...)
	s := g.Scalar(0.02)
	zp := g.Const(onnxgraph.Tensor{DType: onnxgraph.Uint8, Raw: []byte{100}})
	d := g.Op("DequantizeLinear", []string{g.Op("QuantizeLinear", []string{p, s, zp}), s, zp})
	w := make([]float32, 3*2*3*3)
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	c := g.Op("Conv", []string{d, g.Floats([]int64{3, 2, 3, 3}, w...)}, onnxgraph.Ints("kernel_shape", 3, 3))
	s2 := g.Scalar(0.3)
	zp2 := g.Const(onnxgraph.Tensor{DType: onnxgraph.Uint8, Raw: []byte{128}})
	cd := g.Op("DequantizeLinear", []string{g.Op("QuantizeLinear", []string{c, s2, zp2}), s2, zp2})
	flat := g.Op("Reshape", []string{cd, g.Vec(1, -1)})
	y := g.Op("Reshape", []string{flat, g.Op("Shape", []string{cd})})
	g.Output(y, "y", onnxgraph.Float, onnxgraph.Dim(1), onnxgraph.Dim(3), onnxgraph.Dim(6), onnxgraph.Dim(7))
	m := onnxgraph.NewModel(g)
	m.Opset = 13
	return m
}

func runGraph(t *testing.T, m *onnxgraph.Model, x []float32) []float32 {
	t.Helper()
	return runAffine(t, m, []int64{1, 2, 5, 6}, x)
}

// TestIntegerPadAndShape: the rewrites that keep ONNX Runtime's int8 graph
// from doing float work change no output bit. A value-copying Pad
// (reflect, edge, constant 0) before a QuantizeLinear runs on the uint8
// values after it instead, padding with the zero point when constant; a
// Pad with another constant is left alone; Shape reads the quantised
// tensor instead of its DequantizeLinear.
func TestIntegerPadAndShape(t *testing.T) {
	ortest.Init(t)
	zero, one := float32(0), float32(1)
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2*5*6)
	for i := range x {
		x[i] = rng.Float32()*6 - 3 // beyond the quantised range on both sides
	}
	for _, tc := range []struct {
		name  string
		mode  string
		value *float32
		moved bool
	}{
		{"reflect", "reflect", nil, true},
		{"edge", "edge", nil, true},
		{"constant default", "", nil, true},
		{"constant 0", "constant", &zero, true},
		{"constant 1", "constant", &one, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := runGraph(t, padGraph(t, tc.mode, tc.value), x)
			m := padGraph(t, tc.mode, tc.value)
			padInInt8(m.Graph)
			shapesOfQuantized(m.Graph)
			got := runGraph(t, m, x)
			if !slices.Equal(got, want) {
				t.Errorf("outputs differ after the rewrite:\n got %v\nwant %v", got, want)
			}
			producer := map[string]*onnxgraph.Node{}
			for _, n := range m.Graph.Nodes {
				for _, o := range n.Outputs {
					producer[o] = n
				}
			}
			for _, n := range m.Graph.Nodes {
				switch n.OpType {
				case "Pad":
					fromQ := producer[n.Inputs[0]] != nil && producer[n.Inputs[0]].OpType == "QuantizeLinear"
					if fromQ != tc.moved {
						t.Errorf("Pad reads a QuantizeLinear: %v, want %v", fromQ, tc.moved)
					}
					if tc.moved && padMode(n) == "constant" && (len(n.Inputs) < 3 || producer[n.Inputs[2]] != nil) {
						t.Errorf("constant Pad inputs %v: want the zero point as its value", n.Inputs)
					}
				case "Shape":
					if p := producer[n.Inputs[0]]; p == nil || p.OpType != "QuantizeLinear" {
						t.Errorf("Shape reads %v, want the QuantizeLinear's output", p)
					}
				}
			}
		})
	}
}

// affineGraph is x -> [Reshape to its own Shape] -> Mul(gamma) ->
// Add(beta) -> LeakyRelu, the end of an exported GroupNorm, in the
// variants TestAffineAsBatchNorm names.
type affineCase struct {
	name      string
	shape     []int64 // x's shape; nil: the input declares none
	constDims []int64 // gamma's and beta's dims
	reshape   bool    // x reaches Mul through Reshape(x, Shape(x))
	identity  bool    // gamma through an Identity node
	swap      bool    // constants as the first operands
	twice     bool    // the Mul's output has a second consumer
	dynamic   bool    // gamma is a graph input
	want      bool    // rewritten into a BatchNormalization
}

func affineGraph(t *testing.T, tc affineCase) *onnxgraph.Model {
	t.Helper()
	g := onnxgraph.NewGraph("affine")
	var dims []onnxgraph.Dimension
	for _, d := range tc.shape {
		dims = append(dims, onnxgraph.Dim(d))
	}
	x := g.Input("x", onnxgraph.Float, dims...)
	if tc.shape == nil {
		g.Inputs[0].Shape = nil
	}
	n := int(tc.constDims[0])
	gv, bv := make([]float32, n), make([]float32, n)
	for i := range gv {
		gv[i], bv[i] = 0.5+float32(i)*0.37, float32(i)*0.11-0.2
	}
	y := x
	if tc.reshape {
		y = g.Op("Reshape", []string{g.Op("Reshape", []string{x, g.Vec(0, 1, -1)}), g.Op("Shape", []string{x})})
	}
	gamma := g.Floats(tc.constDims, gv...)
	if tc.identity {
		gamma = g.Op("Identity", []string{gamma})
	}
	if tc.dynamic {
		gamma = g.Input("gamma", onnxgraph.Float, onnxgraph.Dim(tc.constDims[0]), onnxgraph.Dim(1), onnxgraph.Dim(1))
	}
	beta := g.Floats(tc.constDims, bv...)
	mulIn, addIn := []string{y, gamma}, []string{"", beta}
	if tc.swap {
		mulIn = []string{gamma, y}
	}
	m := g.Op("Mul", mulIn)
	addIn[0] = m
	if tc.swap {
		addIn = []string{beta, m}
	}
	out := g.Op("LeakyRelu", []string{g.Op("Add", addIn)}, onnxgraph.Float32("alpha", 0.2))
	if tc.twice {
		out = g.Op("Add", []string{out, m})
	}
	g.Output(out, "y", onnxgraph.Float)
	model := onnxgraph.NewModel(g)
	model.Opset = 13
	return model
}

// TestAffineAsBatchNorm: a per-channel Mul then Add on constants becomes
// one BatchNormalization exactly where its channel axis is axis 1 of a
// tensor of known rank, and the outputs do not change (ONNX Runtime, both
// graphs). Channels-last constants, one value for all channels, unknown
// ranks, a Mul whose output is used again and a scale that is not
// constant are left alone.
func TestAffineAsBatchNorm(t *testing.T) {
	ortest.Init(t)
	nchw := []int64{1, 3, 4, 5}
	for _, tc := range []affineCase{
		{name: "NCHW [C,1,1]", shape: nchw, constDims: []int64{3, 1, 1}, want: true},
		{name: "rank through Reshape to Shape", shape: nchw, constDims: []int64{3, 1, 1}, reshape: true, want: true},
		{name: "scale through Identity", shape: nchw, constDims: []int64{3, 1, 1}, identity: true, want: true},
		{name: "constants first", shape: nchw, constDims: []int64{3, 1, 1}, swap: true, want: true},
		{name: "rank 3 [C,1]", shape: []int64{1, 3, 7}, constDims: []int64{3, 1}, want: true},
		{name: "channels last [C]", shape: []int64{1, 4, 5, 3}, constDims: []int64{3}},
		{name: "one value for all channels [1,1,1]", shape: nchw, constDims: []int64{1, 1, 1}},
		{name: "[C,1,1] on rank 5", shape: []int64{1, 2, 3, 4, 5}, constDims: []int64{3, 1, 1}},
		{name: "rank unknown", constDims: []int64{3, 1, 1}},
		{name: "Mul output used twice", shape: nchw, constDims: []int64{3, 1, 1}, twice: true},
		{name: "scale not constant", shape: nchw, constDims: []int64{3, 1, 1}, dynamic: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := affineGraph(t, tc)
			affineAsBatchNorm(m.Graph)
			ops := map[string]int{}
			for _, n := range m.Graph.Nodes {
				ops[n.OpType]++
			}
			if got := ops["BatchNormalization"] == 1 && ops["Mul"] == 0; got != tc.want {
				t.Fatalf("ops %v: rewritten %v, want %v", ops, got, tc.want)
			}
			if !tc.want || tc.dynamic || tc.shape == nil {
				return
			}
			shape := tc.shape
			x := make([]float32, ort.NewShape(shape...).FlattenedSize())
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range x {
				x[i] = rng.Float32()*8 - 4
			}
			want := runAffine(t, affineGraph(t, tc), shape, x)
			got := runAffine(t, m, shape, x)
			if !slices.Equal(got, want) {
				t.Errorf("outputs differ after the rewrite:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// runAffine runs m, of one input x of the given shape and one output y,
// in ONNX Runtime.
func runAffine(t *testing.T, m *onnxgraph.Model, shape []int64, x []float32) []float32 {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	in, err := ort.NewTensor(ort.NewShape(shape...), x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{"x"}, []string{"y"}, nil)
	if err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
	defer s.Destroy()
	out := []ort.Value{nil}
	if err := s.Run([]ort.Value{in}, out); err != nil {
		t.Fatal(err)
	}
	defer out[0].Destroy()
	return slices.Clone(out[0].(*ort.Tensor[float32]).GetData())
}
