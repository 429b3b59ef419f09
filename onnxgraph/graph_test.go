package onnxgraph_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/internal/ortest"
	"animegan/onnxgraph"
)

// run executes model on one float32 input and returns the first output.
func run(t *testing.T, model []byte, in []float32, shape ...int64) ([]float32, []int64) {
	t.Helper()
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		t.Fatalf("io info: %v", err)
	}
	x, err := ort.NewTensor(ort.NewShape(shape...), in)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Destroy()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{ins[0].Name}, []string{outs[0].Name}, nil)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Destroy()
	out := []ort.Value{nil}
	if err := s.Run([]ort.Value{x}, out); err != nil {
		t.Fatalf("run: %v", err)
	}
	defer out[0].Destroy()
	y := out[0].(*ort.Tensor[float32])
	return append([]float32(nil), y.GetData()...), []int64(y.GetShape())
}

// convModel: y = LeakyRelu(Conv(x, w, b, pad 1) * 0.5, 0.1), x [N,2,H,W] -> [N,3,H,W].
func convModel(w, b []float32) *onnxgraph.Model {
	g := onnxgraph.NewGraph("conv")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(2), onnxgraph.Sym("H"), onnxgraph.Sym("W"))
	wt := g.Floats([]int64{3, 2, 3, 3}, w...)
	bt := g.Floats([]int64{3}, b...)
	y := g.Op("Conv", []string{x, wt, bt}, onnxgraph.Ints("kernel_shape", 3, 3), onnxgraph.Ints("pads", 1, 1, 1, 1))
	y = g.Op("Mul", []string{y, g.Scalar(0.5)})
	y = g.Op("LeakyRelu", []string{y}, onnxgraph.Float32("alpha", 0.1))
	g.Output(y, "y", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(3), onnxgraph.Sym("H"), onnxgraph.Sym("W"))
	m := onnxgraph.NewModel(g)
	m.ProducerName = "test"
	m.DocString = "conv test"
	m.SetMetadata("k1", "v1")
	m.SetMetadata("k2", "v2")
	m.SetMetadata("k1", "v3")
	return m
}

func TestConvMatchesReference(t *testing.T) {
	ortest.Init(t)
	w := make([]float32, 3*2*9)
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	b := []float32{0.5, -1, 2}
	data, err := convModel(w, b).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const n, h, wd = 2, 5, 4
	x := make([]float32, n*2*h*wd)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	y, shape := run(t, data, x, n, 2, h, wd)
	if want := []int64{n, 3, h, wd}; !equalInts(shape, want) {
		t.Fatalf("shape %v, want %v", shape, want)
	}
	at := func(ni, c, i, j int) float32 {
		if i < 0 || j < 0 || i >= h || j >= wd {
			return 0
		}
		return x[((ni*2+c)*h+i)*wd+j]
	}
	for ni := 0; ni < n; ni++ {
		for o := 0; o < 3; o++ {
			for i := 0; i < h; i++ {
				for j := 0; j < wd; j++ {
					s := b[o]
					for c := 0; c < 2; c++ {
						for ki := 0; ki < 3; ki++ {
							for kj := 0; kj < 3; kj++ {
								s += w[((o*2+c)*3+ki)*3+kj] * at(ni, c, i+ki-1, j+kj-1)
							}
						}
					}
					s *= 0.5
					if s < 0 {
						s *= 0.1
					}
					got := y[((ni*3+o)*h+i)*wd+j]
					if math.Abs(float64(got-s)) > 1e-4 {
						t.Fatalf("y[%d,%d,%d,%d] = %v, want %v", ni, o, i, j, got, s)
					}
				}
			}
		}
	}
}

func TestIOInfoAndMetadata(t *testing.T) {
	ortest.Init(t)
	data, err := convModel(make([]float32, 54), make([]float32, 3)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != "x" || !equalInts(ins[0].Dimensions, []int64{-1, 2, -1, -1}) ||
		ins[0].DataType != ort.TensorElementDataTypeFloat {
		t.Errorf("inputs %+v", ins)
	}
	if len(outs) != 1 || outs[0].Name != "y" || !equalInts(outs[0].Dimensions, []int64{-1, 3, -1, -1}) {
		t.Errorf("outputs %+v", outs)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{"x"}, []string{"y"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	md, err := s.GetModelMetadata()
	if err != nil {
		t.Fatal(err)
	}
	defer md.Destroy()
	for k, want := range map[string]string{"k1": "v3", "k2": "v2"} {
		v, ok, err := md.LookupCustomMetadataMap(k)
		if err != nil || !ok || v != want {
			t.Errorf("metadata %s = %q %v %v, want %q", k, v, ok, err, want)
		}
	}
	if p, _ := md.GetProducerName(); p != "test" {
		t.Errorf("producer %q", p)
	}
	if d, _ := md.GetDescription(); d != "conv test" {
		t.Errorf("doc %q", d)
	}
}

func TestInt64ConstAndShapeOps(t *testing.T) {
	ortest.Init(t)
	// y = Reshape(x, [0, -1]) summed over axis 1 (ReduceSum with an int64
	// axes input) then Cast round trip: exercises int64 initializers,
	// tensor attributes and string attributes.
	g := onnxgraph.NewGraph("shape")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(2), onnxgraph.Dim(3))
	r := g.Op("Reshape", []string{x, g.Vec(0, -1)})
	s := g.Op("ReduceSum", []string{r, g.Vec(1)}, onnxgraph.Int("keepdims", 1))
	shape := g.Op("Shape", []string{s})
	k := g.Op("ConstantOfShape", []string{shape}, onnxgraph.TensorAttr("value", onnxgraph.Tensor{DType: onnxgraph.Float, Dims: []int64{1}, Floats: []float32{10}}))
	y := g.Op("Add", []string{s, k})
	pad := g.Op("Pad", []string{y, g.Vec(0, 1, 0, 0)}, onnxgraph.String("mode", "edge"))
	g.Output(pad, "y", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(2))
	data, err := onnxgraph.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, shp := run(t, data, []float32{1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 1}, 2, 2, 3)
	want := []float32{31, 31, 11, 11}
	if !equalInts(shp, []int64{2, 2}) || !equalFloats(got, want) {
		t.Fatalf("got %v %v, want %v", shp, got, want)
	}
}

func TestDeterministicAndInspect(t *testing.T) {
	w := make([]float32, 54)
	for i := range w {
		w[i] = float32(i) / 7
	}
	a, err := convModel(w, []float32{1, 2, 3}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err := convModel(w, []float32{1, 2, 3}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same model differ")
	}
	info, err := onnxgraph.Inspect(a)
	if err != nil {
		t.Fatal(err)
	}
	if info.IRVersion != 8 || info.Opsets[""] != onnxgraph.DefaultOpset || info.ProducerName != "test" {
		t.Errorf("header %+v", info)
	}
	if info.Meta("k1") != "v3" || len(info.Metadata) != 2 {
		t.Errorf("metadata %+v", info.Metadata)
	}
	ops := info.OpCounts()
	if ops["Conv"] != 1 || ops["Mul"] != 1 || ops["LeakyRelu"] != 1 || len(info.Graph.Nodes) != 3 {
		t.Errorf("ops %v", ops)
	}
	if got := info.Graph.Inits[0].Floats; !equalFloats(got, w) {
		t.Errorf("weights do not round-trip")
	}
	in := info.Graph.Inputs[0]
	if in.Name != "x" || len(in.Shape) != 4 || in.Shape[0].Param != "N" || in.Shape[1].Value != 2 {
		t.Errorf("input %+v", in)
	}
	for _, n := range info.Graph.Nodes {
		if n.OpType == "LeakyRelu" && (len(n.Attrs) != 1 || n.Attrs[0].F != 0.1 || n.Attrs[0].Kind != onnxgraph.AttrFloat) {
			t.Errorf("LeakyRelu attrs %+v", n.Attrs)
		}
		if n.OpType == "Conv" && !equalInts(n.Attrs[1].Is, []int64{1, 1, 1, 1}) {
			t.Errorf("Conv attrs %+v", n.Attrs)
		}
	}
}

func TestParamCount(t *testing.T) {
	m := convModel(make([]float32, 54), make([]float32, 3))
	if got := m.Graph.ParamCount(); got != 54+3+1 { // weights, bias, the 0.5 scalar
		t.Errorf("graph ParamCount = %d", got)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := onnxgraph.ParamCount(data); err != nil || got != 58 {
		t.Errorf("ParamCount = %d, %v", got, err)
	}
	// int64 initializers are not parameters.
	g := onnxgraph.NewGraph("p")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dim(4))
	y := g.Op("Reshape", []string{x, g.Vec(2, 2)})
	g.Output(y, "y", onnxgraph.Float, onnxgraph.Dim(2), onnxgraph.Dim(2))
	if got := g.ParamCount(); got != 0 {
		t.Errorf("ParamCount with only int64 consts = %d", got)
	}
}

func TestBuilderErrors(t *testing.T) {
	cases := map[string]func() *onnxgraph.Model{
		"undefined input": func() *onnxgraph.Model {
			g := onnxgraph.NewGraph("e")
			x := g.Input("x", onnxgraph.Float)
			y := g.Op("Add", []string{x, "nope"})
			g.Output(y, "y", onnxgraph.Float)
			return onnxgraph.NewModel(g)
		},
		"duplicate input": func() *onnxgraph.Model {
			g := onnxgraph.NewGraph("e")
			x := g.Input("x", onnxgraph.Float)
			g.Input("x", onnxgraph.Float)
			g.Output(g.Op("Neg", []string{x}), "y", onnxgraph.Float)
			return onnxgraph.NewModel(g)
		},
		"bad tensor size": func() *onnxgraph.Model {
			g := onnxgraph.NewGraph("e")
			x := g.Input("x", onnxgraph.Float)
			g.Output(g.Op("Add", []string{x, g.Floats([]int64{2}, 1)}), "y", onnxgraph.Float)
			return onnxgraph.NewModel(g)
		},
		"no outputs": func() *onnxgraph.Model {
			g := onnxgraph.NewGraph("e")
			g.Input("x", onnxgraph.Float)
			return onnxgraph.NewModel(g)
		},
	}
	for name, build := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			if _, err := build().Marshal(); err == nil {
				t.Fatal("Marshal succeeded")
			}
		})
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
