package quantize_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
	"animegan/onnxgraph"
	"animegan/quantize"
)

func read(t *testing.T, data []byte) *onnxgraph.Model {
	t.Helper()
	info, err := onnxgraph.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	return info.Model()
}

// quantised is the AnimeGANv2 architecture quantised with every
// activation's range [-3, 5].
func quantised(t *testing.T, layout modelgen.Layout) ([]byte, *quantize.Plan) {
	t.Helper()
	data, err := modelgen.AnimeGANv2(layout, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := read(t, data)
	p, err := quantize.NewPlan(m)
	if err != nil {
		t.Fatal(err)
	}
	ranges := map[string]quantize.Range{}
	for _, a := range p.Activations {
		ranges[a] = quantize.Range{Min: -3, Max: 5}
	}
	if err := quantize.Quantize(m, p, ranges); err != nil {
		t.Fatal(err)
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out, p
}

// TestQDQStructure: every Conv of AnimeGANv2 (both layouts) reads its
// input, weight and bias through DequantizeLinear (int8 per-channel
// weights with one scale per output channel, int32 bias with scale =
// input scale x weight scale), and its output goes only to a
// QuantizeLinear; the reflect Pads before them pad uint8 values; no
// Shape reads a DequantizeLinear; each GroupNorm's affine is one
// BatchNormalization; no float Conv weight is left; ONNX Runtime loads
// the result.
func TestQDQStructure(t *testing.T) {
	ortest.Init(t)
	for _, layout := range []modelgen.Layout{modelgen.NCHW, modelgen.NHWC} {
		t.Run(layout.String(), func(t *testing.T) {
			data, plan := quantised(t, layout)
			if len(plan.Targets) != 25 {
				t.Errorf("%d targets, want AnimeGANv2's 25 Conv", len(plan.Targets))
			}
			info, err := onnxgraph.Inspect(data)
			if err != nil {
				t.Fatal(err)
			}
			g := info.Graph
			producer := map[string]*onnxgraph.Node{}
			consumers := map[string][]*onnxgraph.Node{}
			for _, n := range g.Nodes {
				for _, o := range n.Outputs {
					producer[o] = n
				}
				for _, in := range n.Inputs {
					consumers[in] = append(consumers[in], n)
				}
			}
			inits := map[string]*onnxgraph.Tensor{}
			for _, tn := range g.Inits {
				inits[tn.Name] = tn
			}
			dq := func(name string) *onnxgraph.Node {
				p := producer[name]
				if p == nil || p.OpType != "DequantizeLinear" {
					t.Fatalf("%s is not made by DequantizeLinear", name)
				}
				return p
			}
			convs, intPads := 0, 0
			for _, n := range g.Nodes {
				if n.OpType != "Conv" {
					continue
				}
				convs++
				x := dq(n.Inputs[0])
				q := producer[x.Inputs[0]]
				if q != nil && q.OpType == "Pad" {
					// reflect-padded in uint8 (padInInt8)
					intPads++
					q = producer[q.Inputs[0]]
				}
				if q == nil || q.OpType != "QuantizeLinear" {
					t.Errorf("%s: input not quantised by a QuantizeLinear", n.Name)
				}
				xScale := inits[x.Inputs[1]].Floats[0]
				w := dq(n.Inputs[1])
				wq, ws := inits[w.Inputs[0]], inits[w.Inputs[1]]
				if wq.DType != onnxgraph.Int8 || ws.Len() != wq.Dims[0] || w.Attrs[0].Name != "axis" || w.Attrs[0].I != 0 {
					t.Errorf("%s: weight %v %v, scales %v: want int8 per output channel on axis 0", n.Name, wq.DType, wq.Dims, ws.Dims)
				}
				peak := 0
				for _, b := range wq.Raw {
					peak = max(peak, int(math.Abs(float64(int8(b)))))
				}
				if peak != 127 {
					t.Errorf("%s: largest |weight| %d, want 127 (symmetric, scale from the channel's peak)", n.Name, peak)
				}
				if len(n.Inputs) > 2 {
					b := dq(n.Inputs[2])
					bq, bs := inits[b.Inputs[0]], inits[b.Inputs[1]]
					if bq.DType != onnxgraph.Int32 || bs.Len() != wq.Dims[0] {
						t.Errorf("%s: bias %v, want int32 per channel", n.Name, bq.DType)
					}
					for c := range bs.Floats {
						if want := xScale * ws.Floats[c]; math.Abs(float64(bs.Floats[c]-want)) > 1e-6*float64(want) {
							t.Fatalf("%s: bias scale %g, want input scale x weight scale %g", n.Name, bs.Floats[c], want)
						}
					}
				}
				if c := consumers[n.Outputs[0]]; len(c) != 1 || c[0].OpType != "QuantizeLinear" {
					t.Errorf("%s: output goes to %d nodes, want one QuantizeLinear", n.Name, len(c))
				}
			}
			if convs != 25 {
				t.Errorf("%d Conv, want 25", convs)
			}
			pads := 0
			ops := map[string]int{}
			for _, n := range g.Nodes {
				ops[n.OpType]++
				if n.OpType == "Pad" {
					pads++
				}
			}
			// Each GroupNorm's scale and shift is one BatchNormalization
			// (affineAsBatchNorm), not a Mul and an Add.
			if ops["BatchNormalization"] != 24 || ops["Mul"] != 0 {
				t.Errorf("%d BatchNormalization and %d Mul, want AnimeGANv2's 24 GroupNorm affines as BatchNormalization", ops["BatchNormalization"], ops["Mul"])
			}
			if intPads != pads || pads == 0 {
				t.Errorf("%d of %d Pads pad uint8 values before a Conv, want all", intPads, pads)
			}
			for _, n := range g.Nodes {
				if n.OpType != "Shape" {
					continue
				}
				if p := producer[n.Inputs[0]]; p != nil && p.OpType == "DequantizeLinear" {
					t.Errorf("%s reads a DequantizeLinear's output: it would keep that float tensor computed", n.Name)
				}
			}
			for _, tn := range g.Inits {
				if tn.DType == onnxgraph.Float && len(tn.Dims) == 4 {
					t.Errorf("float conv weight %s left in the graph", tn.Name)
				}
			}
			spec, err := model.Inspect("q", data, model.Overrides{})
			if err != nil {
				t.Fatal(err)
			}
			if spec.Quantization != "int8 (QDQ)" {
				t.Errorf("Spec.Quantization %q", spec.Quantization)
			}
			if err := model.Verify(spec, data); err != nil {
				t.Fatalf("ONNX Runtime: %v", err)
			}
		})
	}
}

// TestRefusals: a graph with nothing to quantise, one quantised already,
// and one whose opset has no per-channel DequantizeLinear are refused
// with the reason.
func TestRefusals(t *testing.T) {
	plain, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.SwapInvert, Layout: modelgen.NCHW})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := quantised(t, modelgen.NCHW)
	v2, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	old := read(t, v2)
	old.Opset = 11
	for _, tc := range []struct {
		name string
		m    *onnxgraph.Model
		want error
		text string
	}{
		{"nothing to quantise", read(t, plain), quantize.ErrNothingToQuantize, "no Conv"},
		{"already quantised", read(t, done), quantize.ErrAlreadyQuantized, "QuantizeLinear"},
		{"opset 11", old, nil, "opset 11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := quantize.NewPlan(tc.m)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
}

// TestMissingRange: Quantize will not guess a range calibration did not
// give.
func TestMissingRange(t *testing.T) {
	v2, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := read(t, v2)
	p, err := quantize.NewPlan(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := quantize.Quantize(m, p, map[string]quantize.Range{}); err == nil || !strings.Contains(err.Error(), "no calibrated range") {
		t.Errorf("got %v", err)
	}
}

// TestOtherOperators: ConvTranspose is quantised along its output-channel
// axis 1, MatMul's weight along axis 1, Gemm's along 0 when transB says
// the weight is [N,K]; a Gemm whose alpha is not 1 keeps a float bias.
func TestOtherOperators(t *testing.T) {
	g := onnxgraph.NewGraph("ops")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dim(1), onnxgraph.Dim(2), onnxgraph.Dim(4), onnxgraph.Dim(4))
	ct := g.Op("ConvTranspose", []string{x, g.Floats([]int64{2, 3, 2, 2}, ramp(24)...), g.Floats([]int64{3}, 1, 2, 3)},
		onnxgraph.Ints("strides", 2, 2))
	flat := g.Op("Flatten", []string{ct})
	gemm := g.Op("Gemm", []string{flat, g.Floats([]int64{5, 192}, ramp(960)...), g.Floats([]int64{5}, ramp(5)...)},
		onnxgraph.Int("transB", 1))
	mm := g.Op("MatMul", []string{gemm, g.Floats([]int64{5, 4}, ramp(20)...)})
	gemm2 := g.Op("Gemm", []string{mm, g.Floats([]int64{4, 2}, ramp(8)...), g.Floats([]int64{2}, 1, 1)},
		onnxgraph.Float32("alpha", 0.5))
	g.Output(gemm2, "y", onnxgraph.Float, onnxgraph.Dim(1), onnxgraph.Dim(2))
	m := onnxgraph.NewModel(g)
	p, err := quantize.NewPlan(m)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"ConvTranspose": 1, "Gemm": 0, "MatMul": 1}
	for i, tg := range p.Targets {
		axis := want[tg.Node.OpType]
		if i == 3 {
			axis = 1 // the second Gemm, transB 0
			if tg.Bias != nil {
				t.Errorf("Gemm with alpha 0.5: bias quantised")
			}
		}
		if tg.Axis != axis {
			t.Errorf("%s: axis %d, want %d", tg.Node.OpType, tg.Axis, axis)
		}
	}
	if len(p.Targets) != 4 {
		t.Fatalf("%d targets, want 4", len(p.Targets))
	}
	ranges := map[string]quantize.Range{}
	for _, a := range p.Activations {
		ranges[a] = quantize.Range{Min: -1, Max: 1}
	}
	if err := quantize.Quantize(m, p, ranges); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Marshal(); err != nil {
		t.Fatal(err)
	}
}

func ramp(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%7) - 3
	}
	return v
}
