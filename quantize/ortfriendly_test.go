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
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	in, err := ort.NewTensor(ort.NewShape(1, 2, 5, 6), x)
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
