package model_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/model/builtin"
	"animegan/modelgen"
	"animegan/onnxgraph"
)

// namedModel is one model file under test.
type namedModel struct {
	name string
	data []byte
}

// realModels are the models the project makes or ships: the built-in
// one, the AnimeGANv2 architecture in both layouts, every fixture, and the
// PyTorch exports in ../shared/models when that folder exists (it does on
// the developers' machines, not on a user's).
func realModels(t testing.TB) []namedModel {
	t.Helper()
	ms := []namedModel{{"builtin", builtin.Cartoon}}
	for _, l := range []modelgen.Layout{modelgen.NCHW, modelgen.NHWC} {
		data, err := modelgen.AnimeGANv2(l, 1)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, namedModel{"animeganv2 " + l.String(), data})
	}
	for k := modelgen.SwapInvert; k <= modelgen.Slow; k++ {
		for _, l := range []modelgen.Layout{modelgen.NCHW, modelgen.NHWC} {
			for _, side := range []int64{0, 32} {
				spec := modelgen.FixtureSpec{Kind: k, Layout: l, Height: side, Width: side, SlowLayers: 2}
				ms = append(ms, namedModel{fmt.Sprintf("fixture %s %s %d", k, l, side), fixture(t, spec)})
			}
		}
	}
	paths, _ := filepath.Glob(filepath.Join(ortest.ModuleRoot(), "..", "shared", "models", "*.onnx"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, namedModel{"shared " + filepath.Base(path), data})
	}
	return ms
}

// sameIO reports whether two lists of inputs or outputs say the same. A
// nil and an empty shape are the same rank 0.
func sameIO(a, b []ort.InputOutputInfo) bool {
	return slices.EqualFunc(a, b, func(x, y ort.InputOutputInfo) bool {
		return x.Name == y.Name && x.OrtValueType == y.OrtValueType &&
			x.DataType == y.DataType && slices.Equal(x.Dimensions, y.Dimensions)
	})
}

// checkSameAsRuntime checks that the protobuf reader reports exactly what
// ONNX Runtime reports for a model it can load.
func checkSameAsRuntime(t *testing.T, data []byte) {
	t.Helper()
	wantIn, wantOut, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
	ins, outs, shaped, err := model.ReadGraphIO(data)
	if err != nil {
		t.Fatal(err)
	}
	if !sameIO(ins, wantIn) {
		t.Errorf("inputs\n got %+v\nwant %+v", ins, wantIn)
	}
	if !sameIO(outs, wantOut) {
		t.Errorf("outputs\n got %+v\nwant %+v", outs, wantOut)
	}
	if i := slices.Index(shaped, false); i >= 0 {
		t.Errorf("output %d reported without a declared shape", i)
	}
}

// TestGraphIOMatchesRuntime: on every model the project has, the inputs
// and outputs read from the protobuf are ONNX Runtime's, and Inspect gives
// the very Spec (or error) it gave when ONNX Runtime answered.
func TestGraphIOMatchesRuntime(t *testing.T) {
	ortest.Init(t)
	models := realModels(t)
	if !slices.ContainsFunc(models, func(m namedModel) bool { return strings.HasPrefix(m.name, "shared ") }) {
		t.Run("shared", func(t *testing.T) { t.Skip("no ../shared/models/*.onnx beside the checkout") })
	}
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			checkSameAsRuntime(t, m.data)
			got, err := model.Inspect(m.name, m.data, model.Overrides{})
			want, wantErr := model.InspectViaRuntime(m.name, m.data, model.Overrides{})
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
				t.Errorf("Inspect\n got %+v, %v\nwant %+v, %v", got, err, want, wantErr)
			}
		})
	}
}

// Hand-made protobuf, for what onnxgraph does not write: non-tensor
// types, dimensions with neither a value nor a name, weights listed as
// inputs, sparse initializers.

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

func pbBytes(n protowire.Number, b []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.BytesType), b)
}

func pbString(n protowire.Number, s string) []byte { return pbBytes(n, []byte(s)) }

func pbInt(n protowire.Number, v int64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, n, protowire.VarintType), uint64(v))
}

// Dimensions (TensorShapeProto.Dimension).
func dim(v int64) []byte     { return pbBytes(1, pbInt(1, v)) }
func sym(name string) []byte { return pbBytes(1, pbString(2, name)) }
func anyDim() []byte         { return pbBytes(1, nil) }

// Types (TypeProto).
func tensorOf(elem onnxgraph.DType, dims ...[]byte) []byte {
	return pbBytes(1, cat(pbInt(1, int64(elem)), pbBytes(2, cat(dims...))))
}
func shapelessTensorOf(elem onnxgraph.DType) []byte { return pbBytes(1, pbInt(1, int64(elem))) }
func sequenceOf(elem []byte) []byte                 { return pbBytes(4, pbBytes(1, elem)) }
func mapOf(key onnxgraph.DType, value []byte) []byte {
	return pbBytes(5, cat(pbInt(1, int64(key)), pbBytes(2, value)))
}
func optionalOf(elem []byte) []byte { return pbBytes(9, pbBytes(1, elem)) }
func sparseOf(elem onnxgraph.DType, dims ...[]byte) []byte {
	return pbBytes(8, cat(pbInt(1, int64(elem)), pbBytes(2, cat(dims...))))
}

// Graph fields (GraphProto).
func input(name string, typ []byte) []byte  { return pbBytes(11, valueInfo(name, typ)) }
func output(name string, typ []byte) []byte { return pbBytes(12, valueInfo(name, typ)) }

// valueInfo is a ValueInfoProto; a nil typ leaves the type out.
func valueInfo(name string, typ []byte) []byte {
	if typ == nil {
		return pbString(1, name)
	}
	return cat(pbString(1, name), pbBytes(2, typ))
}

func node(op string, ins []string, outs ...string) []byte {
	var b []byte
	for _, in := range ins {
		b = append(b, pbString(1, in)...)
	}
	for _, o := range outs {
		b = append(b, pbString(2, o)...)
	}
	return pbBytes(1, append(b, pbString(4, op)...))
}

// weight is a float32 TensorProto of zeros.
func weight(name string, dims ...int64) []byte {
	n := int64(1)
	var b []byte
	for _, d := range dims {
		b = append(b, pbInt(1, d)...)
		n *= d
	}
	return cat(b, pbInt(2, int64(onnxgraph.Float)), pbString(8, name), pbBytes(9, make([]byte, 4*n)))
}

func initializer(name string, dims ...int64) []byte { return pbBytes(5, weight(name, dims...)) }

// indexZero is an int64 scalar initializer "i" holding 0, the position
// SequenceAt reads.
var indexZero = pbBytes(5, cat(pbInt(2, int64(onnxgraph.Int64)), pbString(8, "i"), pbBytes(9, make([]byte, 8))))

// sparseInitializer is a sparse float32 vector of n zeros, none stored.
func sparseInitializer(name string, n int64) []byte {
	indices := cat(pbInt(1, 0), pbInt(2, int64(onnxgraph.Int64)), pbBytes(9, nil))
	return pbBytes(15, cat(pbBytes(1, weight(name, 0)), pbBytes(2, indices), pbInt(3, n)))
}

// onnxModel is a ModelProto of one graph at the given IR version and
// default-domain opset.
func onnxModel(ir, opset int64, graph ...[]byte) []byte {
	return cat(pbInt(1, ir), pbBytes(7, cat(append(graph, pbString(2, "g"))...)), pbBytes(8, pbInt(2, opset)))
}

// TestGraphIOHandmade: models that exercise what the reader must get right
// on its own, each of which ONNX Runtime loads, give ONNX Runtime's answer.
func TestGraphIOHandmade(t *testing.T) {
	ortest.Init(t)
	x3, y3 := input("x", tensorOf(onnxgraph.Float, dim(3))), output("y", tensorOf(onnxgraph.Float, dim(3)))
	neg := node("Neg", []string{"x"}, "y")
	cases := []struct {
		name string
		data []byte
	}{
		{"symbolic and unknown dims", onnxModel(8, 17, neg,
			input("x", tensorOf(onnxgraph.Float, sym("batch"), dim(3), anyDim(), sym("width"))),
			output("y", tensorOf(onnxgraph.Float, sym("batch"), dim(3), anyDim(), sym("width"))))},
		{"IR 3 weights listed as inputs", onnxModel(3, 8, node("Add", []string{"x", "w"}, "y"), initializer("w", 3),
			input("w", tensorOf(onnxgraph.Float, dim(3))), x3, y3)},
		{"IR 8 input overriding a weight", onnxModel(8, 17, node("Add", []string{"x", "w"}, "y"),
			x3, input("w", tensorOf(onnxgraph.Float, dim(3))), y3, initializer("w", 3))},
		{"sparse initializer listed as input", onnxModel(8, 17, node("Add", []string{"x", "w"}, "y"), sparseInitializer("w", 3),
			input("w", tensorOf(onnxgraph.Float, dim(3))), x3, y3)},
		{"sequence input", onnxModel(8, 17, node("SequenceAt", []string{"s", "i"}, "y"), indexZero,
			input("s", sequenceOf(tensorOf(onnxgraph.Float, dim(3)))), y3)},
		{"sequence output", onnxModel(8, 17, node("SequenceConstruct", []string{"x"}, "y"),
			x3, output("y", sequenceOf(tensorOf(onnxgraph.Float, dim(3)))))},
		{"type given twice, the sequence last", onnxModel(8, 17, node("SequenceAt", []string{"s", "i"}, "y"), indexZero,
			input("s", cat(tensorOf(onnxgraph.Float, dim(3)), sequenceOf(tensorOf(onnxgraph.Float, dim(3))))), y3)},
		{"unused map input", onnxModel(8, 17, neg, x3, input("m", mapOf(onnxgraph.Int64, tensorOf(onnxgraph.Float))), y3)},
		{"optional input", onnxModel(8, 17, node("OptionalGetElement", []string{"o"}, "y"),
			input("o", optionalOf(tensorOf(onnxgraph.Float, dim(3)))), y3)},
		{"unused sparse tensor input", onnxModel(8, 17, neg, x3, input("sp", sparseOf(onnxgraph.Float, dim(4), sym("k"))), y3)},
		{"dim value after name wins", onnxModel(8, 17, neg, input("x", tensorOf(onnxgraph.Float, pbBytes(1, cat(pbString(2, "n"), pbInt(1, 3))))), y3)},
		{"dim name after value wins", onnxModel(8, 17, neg, input("x", tensorOf(onnxgraph.Float, pbBytes(1, cat(pbInt(1, 3), pbString(2, "n"))))),
			output("y", tensorOf(onnxgraph.Float, anyDim())))},
		{"negative dim", onnxModel(8, 17, neg, input("x", tensorOf(onnxgraph.Float, dim(-5), dim(0))),
			output("y", tensorOf(onnxgraph.Float, dim(-5), dim(0))))},
		{"input without shape", onnxModel(8, 17, neg, input("x", shapelessTensorOf(onnxgraph.Float)), output("y", tensorOf(onnxgraph.Float)))},
		{"graph in two parts", cat(onnxModel(8, 17, neg, x3), pbBytes(7, y3))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkSameAsRuntime(t, tc.data) })
	}
}

// imageGraph is x -> Neg -> y over a [batch,3,h,width] image, built with
// onnxgraph; outShape nil declares y without a shape.
func imageGraph(t testing.TB, outShape []onnxgraph.Dimension) []byte {
	t.Helper()
	g := onnxgraph.NewGraph("neg")
	shape := []onnxgraph.Dimension{onnxgraph.Sym("batch"), onnxgraph.Dim(3), onnxgraph.Sym("h"), onnxgraph.Sym("width")}
	x := g.Input("x", onnxgraph.Float, shape...)
	g.Output(g.Op("Neg", []string{x}), "y", onnxgraph.Float, outShape...)
	data, err := onnxgraph.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestInspectHandmade checks what Inspect makes of models with unusual
// declarations: where it may, it must agree with the ONNX Runtime path.
func TestInspectHandmade(t *testing.T) {
	ortest.Init(t)
	image := tensorOf(onnxgraph.Float, dim(1), dim(3), sym("h"), anyDim())
	grayOut := onnxgraph.NewGraph("gray")
	gx := grayOut.Input("x", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(3), onnxgraph.Sym("H"), onnxgraph.Sym("W"))
	grayOut.Output(grayOut.Op("ReduceMean", []string{gx}, onnxgraph.Ints("axes", 1), onnxgraph.Int("keepdims", 1)), "y", onnxgraph.Float)
	gray, err := onnxgraph.NewModel(grayOut).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		data    []byte
		layout  model.Layout // 0: an invalid model
		inShape []int64
		err     string // part of the error, for an invalid model
	}{
		{"symbolic dims", imageGraph(t, []onnxgraph.Dimension{onnxgraph.Sym("batch"), onnxgraph.Dim(3), onnxgraph.Sym("h"), onnxgraph.Sym("w")}),
			model.NCHW, []int64{-1, 3, -1, -1}, ""},
		// ONNX Runtime infers an output the file declares without shape
		// or type; Inspect asks it then, and must agree.
		{"output without shape", imageGraph(t, nil), model.NCHW, []int64{-1, 3, -1, -1}, ""},
		{"output without type", onnxModel(8, 17, node("Neg", []string{"x"}, "y"), input("x", image), output("y", nil)),
			model.NCHW, []int64{1, 3, -1, -1}, ""},
		{"gray output without shape", gray, 0, nil, "1 channels on the NCHW channel axis"},
		{"IR 3 weights listed as inputs", onnxModel(3, 8, node("Add", []string{"x", "w"}, "y"), initializer("w", 1, 3, 1, 1),
			input("w", tensorOf(onnxgraph.Float, dim(1), dim(3), dim(1), dim(1))), input("x", image), output("y", image)),
			model.NCHW, []int64{1, 3, -1, -1}, ""},
		{"sequence input", onnxModel(8, 17, node("SequenceAt", []string{"s", "i"}, "y"), indexZero,
			input("s", sequenceOf(image)), output("y", image)), 0, nil, "input s is a sequence, want a float32 image tensor"},
		{"map beside the image", onnxModel(8, 17, node("Neg", []string{"x"}, "y"), input("x", image), input("m", mapOf(onnxgraph.Int64, tensorOf(onnxgraph.Float))), output("y", image)),
			0, nil, "want exactly one image input, found 2: x float32 [1,3,?,?], m (a map)"},
		{"sequence output", onnxModel(8, 17, node("SequenceConstruct", []string{"x"}, "y"), input("x", image), output("y", sequenceOf(image))),
			0, nil, "output y is a sequence, want a float32 image tensor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := model.Inspect("hand.onnx", tc.data, model.Overrides{})
			want, wantErr := model.InspectViaRuntime("hand.onnx", tc.data, model.Overrides{})
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(spec, want) {
				t.Errorf("differs from the ONNX Runtime path\n got %+v, %v\nwant %+v, %v", spec, err, want, wantErr)
			}
			if tc.layout == 0 {
				if !errors.Is(err, model.ErrInvalidModel) || !strings.Contains(err.Error(), "hand.onnx") || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an invalid-model error naming the model and saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Layout != tc.layout || !slices.Equal(spec.Input.Shape, tc.inShape) || !spec.Dynamic() {
				t.Errorf("layout %s input %v dynamic %t, want %s %v dynamic", spec.Layout, spec.Input.Shape, spec.Dynamic(), tc.layout, tc.inShape)
			}
		})
	}
}

// TestInspectUnreadable: files that are no ONNX model fail Inspect with an
// invalid-model error naming the model, and never panic.
func TestInspectUnreadable(t *testing.T) {
	v2, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no graph"},
		{"text", []byte("not a model"), "malformed"},
		{"protobuf without a graph", pbInt(1, 8), "no graph"},
		{"noise", noise, "cannot read it as an ONNX model"},
		{"graph longer than the file", cat(pbInt(1, 8), protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.BytesType), 1<<20)), "malformed"},
		{"builtin cut short by a byte", builtin.Cartoon[:len(builtin.Cartoon)-1], "malformed"},
		{"animeganv2 cut in half", v2[:len(v2)/2], "malformed"},
		{"animeganv2 cut in its header", v2[:20], "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := model.Inspect("broken.onnx", tc.data, model.Overrides{})
			if !errors.Is(err, model.ErrInvalidModel) || !strings.Contains(err.Error(), "broken.onnx") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-model error naming the model and saying %q", err, tc.want)
			}
		})
	}
}

// TestUnloadableModelFailsInSession: a model that reads fine but that
// ONNX Runtime rejects passes Inspect now; the first session, and Verify,
// must fail naming it.
func TestUnloadableModelFailsInSession(t *testing.T) {
	ortest.Init(t)
	image := tensorOf(onnxgraph.Float, sym("n"), dim(3), sym("h"), sym("w"))
	cases := []struct {
		name string
		data []byte
	}{
		{"unknown operator", onnxModel(8, 17, node("NoSuchOp", []string{"x"}, "y"), input("x", image), output("y", image))},
		{"undefined value", onnxModel(8, 17, node("Add", []string{"x", "nowhere"}, "y"), input("x", image), output("y", image))},
		{"no opset", cat(pbInt(1, 8), pbBytes(7, cat(node("Neg", []string{"x"}, "y"), input("x", image), output("y", image))))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := model.InspectViaRuntime("bad.onnx", tc.data, model.Overrides{}); err == nil {
				t.Fatal("ONNX Runtime loads it: not a test of the session check")
			}
			spec, err := model.Inspect("bad.onnx", tc.data, model.Overrides{})
			if err != nil {
				t.Fatalf("Inspect reads only the file: %v", err)
			}
			if _, err := model.NewSession(spec, tc.data, model.DefaultSessionOptions(1, 1)); err == nil || !strings.Contains(err.Error(), "model bad.onnx") {
				t.Errorf("NewSession: got %v, want an error naming the model", err)
			}
			if err := model.Verify(spec, tc.data); err == nil || !strings.Contains(err.Error(), "model bad.onnx") {
				t.Errorf("Verify: got %v, want an error naming the model", err)
			}
		})
	}
	spec, err := model.Inspect("builtin", builtin.Cartoon, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Verify(spec, builtin.Cartoon); err != nil {
		t.Errorf("Verify on the built-in model: %v", err)
	}
}

// BenchmarkInspect compares Inspect reading the protobuf with Inspect as
// it was, asking ONNX Runtime (which builds a temporary session), on the
// 8.6 MB AnimeGANv2 generator.
func BenchmarkInspect(b *testing.B) {
	ortest.Init(b)
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		inspect func(string, []byte, model.Overrides) (*model.Spec, error)
	}{
		{"runtime", model.InspectViaRuntime},
		{"protobuf", model.Inspect},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := bc.inspect("v2", data, model.Overrides{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
