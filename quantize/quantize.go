// Package quantize rewrites a floating-point ONNX graph into a static QDQ
// int8 graph: the operators that carry nearly all of an image model's work
// (Conv, ConvTranspose, MatMul, Gemm with constant weights) get int8
// weights quantised per output channel (symmetric), int32 biases (scale =
// input scale x weight scale), and uint8 activations on their inputs and
// outputs (asymmetric, from calibrated ranges); everything else stays
// float. ONNX Runtime fuses each DequantizeLinear -> Conv -> QuantizeLinear
// into QLinearConv, an integer kernel.
//
// It knows nothing of files, photos or how the ranges were found: it takes
// a graph and the range of each activation Plan names, and returns a
// graph.
package quantize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"animegan/onnxgraph"
)

// ErrNothingToQuantize is a graph without an operator this package
// quantises.
var ErrNothingToQuantize = errors.New("nothing to quantise")

// ErrAlreadyQuantized is a graph that is quantised already.
var ErrAlreadyQuantized = errors.New("already quantised")

// MinOpset is the opset per-channel DequantizeLinear (its axis) needs.
const MinOpset = 13

// Range is the calibrated range of one activation tensor.
type Range struct{ Min, Max float32 }

// Target is one operator to quantise.
type Target struct {
	Node   *onnxgraph.Node
	Weight *onnxgraph.Tensor // float32 initializer
	Bias   *onnxgraph.Tensor // float32 initializer or nil (kept float when it cannot be quantised)
	Axis   int64             // the weight's output-channel axis
}

// Plan lists what Quantize will do to a graph: the operators it will
// quantise, and the activations whose ranges it needs (their inputs and
// outputs, in graph order, each once).
type Plan struct {
	Targets     []Target
	Activations []string
}

// NewPlan finds the operators to quantise in g, refusing a graph that is
// quantised already or has nothing to quantise, with the reason.
func NewPlan(m *onnxgraph.Model) (*Plan, error) {
	g := m.Graph
	if err := checkNotQuantized(g); err != nil {
		return nil, err
	}
	inits := map[string]*onnxgraph.Tensor{}
	for _, t := range g.Inits {
		inits[t.Name] = t
	}
	floatInit := func(name string) *onnxgraph.Tensor {
		if t := inits[name]; t != nil && t.DType == onnxgraph.Float && !t.External {
			return t
		}
		return nil
	}
	p := &Plan{}
	seen := map[string]bool{}
	addAct := func(name string) {
		if !seen[name] {
			seen[name] = true
			p.Activations = append(p.Activations, name)
		}
	}
	for _, n := range g.Nodes {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			continue
		}
		t, ok := target(n, floatInit)
		if !ok || inits[n.Inputs[0]] != nil || n.Inputs[0] == "" || len(n.Outputs) != 1 {
			continue
		}
		p.Targets = append(p.Targets, t)
		addAct(n.Inputs[0])
		addAct(n.Outputs[0])
	}
	if len(p.Targets) == 0 {
		return nil, fmt.Errorf("%w: the graph has no Conv, ConvTranspose, MatMul or Gemm with constant float32 weights", ErrNothingToQuantize)
	}
	if m.Opset < MinOpset {
		return nil, fmt.Errorf("opset %d: per-channel quantisation needs opset %d or later (re-export the model with a newer opset)", m.Opset, MinOpset)
	}
	return p, nil
}

// target says whether n is an operator this package quantises, and how.
func target(n *onnxgraph.Node, floatInit func(string) *onnxgraph.Tensor) (Target, bool) {
	if len(n.Inputs) < 2 {
		return Target{}, false
	}
	w := floatInit(n.Inputs[1])
	if w == nil {
		return Target{}, false
	}
	t := Target{Node: n, Weight: w}
	var bias string
	if len(n.Inputs) > 2 {
		bias = n.Inputs[2]
	}
	switch n.OpType {
	case "Conv":
		if len(w.Dims) < 3 {
			return Target{}, false
		}
		t.Axis = 0
	case "ConvTranspose":
		// Per-channel along the output channels (axis 1) is only the
		// output channel when there is one group.
		if len(w.Dims) < 3 || intAttr(n, "group", 1) != 1 {
			return Target{}, false
		}
		t.Axis = 1
	case "MatMul":
		if len(w.Dims) != 2 {
			return Target{}, false
		}
		t.Axis = 1
	case "Gemm":
		if len(w.Dims) != 2 || intAttr(n, "transA", 0) != 0 {
			return Target{}, false
		}
		t.Axis = 1
		if intAttr(n, "transB", 0) != 0 {
			t.Axis = 0
		}
		// C is scaled by beta and the product by alpha: an int32 bias is
		// only exact when both are 1.
		if floatAttr(n, "alpha", 1) != 1 || floatAttr(n, "beta", 1) != 1 {
			bias = ""
		}
	default:
		return Target{}, false
	}
	if b := floatInit(bias); b != nil && len(b.Dims) == 1 && b.Dims[0] == w.Dims[t.Axis] {
		t.Bias = b
	}
	return t, true
}

func intAttr(n *onnxgraph.Node, name string, def int64) int64 {
	for _, a := range n.Attrs {
		if a.Name == name && a.Kind == onnxgraph.AttrInt {
			return a.I
		}
	}
	return def
}

func floatAttr(n *onnxgraph.Node, name string, def float32) float32 {
	for _, a := range n.Attrs {
		if a.Name == name && a.Kind == onnxgraph.AttrFloat {
			return a.F
		}
	}
	return def
}

// quantOps are operators only a quantised graph has.
var quantOps = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true,
	"QLinearConv": true, "QLinearMatMul": true, "ConvInteger": true, "MatMulInteger": true,
	"QLinearAdd": true, "QLinearMul": true, "QGemm": true,
}

func checkNotQuantized(g *onnxgraph.Graph) error {
	for _, n := range g.Nodes {
		if quantOps[n.OpType] {
			return fmt.Errorf("%w: it has %s operators", ErrAlreadyQuantized, n.OpType)
		}
	}
	for _, t := range g.Inits {
		if t.DType == onnxgraph.Int8 || t.DType == onnxgraph.Uint8 {
			return fmt.Errorf("%w: initializer %s is %v", ErrAlreadyQuantized, t.Name, t.DType)
		}
	}
	return nil
}

// actParams are an activation's uint8 scale and zero point: the range
// widened to hold 0 (so that zero padding is exact), split in 255 steps.
func actParams(r Range) (scale float32, zp uint8) {
	lo, hi := min(float64(r.Min), 0), max(float64(r.Max), 0)
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = -1, 1
	}
	s := (hi - lo) / 255
	if s < 1e-8 {
		return 1, 0 // a constant 0 tensor
	}
	z := math.Round(-lo / s)
	return float32(s), uint8(max(0, min(255, z)))
}

// weightParams quantises w per channel along axis: symmetric int8 in
// [-127,127], one scale per channel.
func weightParams(w []float32, dims []int64, axis int64) (q []byte, scales []float32) {
	channels := dims[axis]
	inner := int64(1) // elements after the axis
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	channelOf := func(i int) int64 { return (int64(i) / inner) % channels }
	amax := make([]float64, channels)
	for i, v := range w {
		c := channelOf(i)
		amax[c] = max(amax[c], math.Abs(float64(v)))
	}
	scales = make([]float32, channels)
	for c, a := range amax {
		scales[c] = 1
		if a > 0 {
			scales[c] = float32(a / 127)
		}
	}
	q = make([]byte, len(w))
	for i, v := range w {
		x := math.Round(float64(v) / float64(scales[channelOf(i)]))
		q[i] = byte(int8(max(-127, min(127, x))))
	}
	return q, scales
}

// Quantize rewrites m's graph in place as Plan p says, with the range of
// every activation in p.Activations from ranges.
func Quantize(m *onnxgraph.Model, p *Plan, ranges map[string]Range) error {
	g := m.Graph
	for _, a := range p.Activations {
		if _, ok := ranges[a]; !ok {
			return fmt.Errorf("no calibrated range for %s", a)
		}
	}
	type qdq struct{ scale, zp, out string }
	acts := map[string]qdq{}
	var pre []*onnxgraph.Node // Q/DQ of graph inputs, at the start
	after := map[string][]*onnxgraph.Node{}
	produced := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			produced[o] = true
		}
	}
	for _, a := range p.Activations {
		scale, zp := actParams(ranges[a])
		q := qdq{
			scale: g.Const(onnxgraph.Tensor{Name: g.Fresh(a + "_scale"), DType: onnxgraph.Float, Floats: []float32{scale}}),
			zp:    g.Const(onnxgraph.Tensor{Name: g.Fresh(a + "_zero_point"), DType: onnxgraph.Uint8, Raw: []byte{zp}}),
			out:   g.Fresh(a + "_dq"),
		}
		acts[a] = q
		quant := g.Fresh(a + "_q")
		nodes := []*onnxgraph.Node{
			{Name: g.Fresh(a + "_QuantizeLinear"), OpType: "QuantizeLinear", Inputs: []string{a, q.scale, q.zp}, Outputs: []string{quant}},
			{Name: g.Fresh(a + "_DequantizeLinear"), OpType: "DequantizeLinear", Inputs: []string{quant, q.scale, q.zp}, Outputs: []string{q.out}},
		}
		if produced[a] {
			after[a] = nodes
		} else {
			pre = append(pre, nodes...)
		}
	}
	weightDQ := map[*onnxgraph.Node][]*onnxgraph.Node{}
	for _, t := range p.Targets {
		w, err := t.Weight.Float32s()
		if err != nil {
			return err
		}
		qw, wScales := weightParams(w, t.Weight.Dims, t.Axis)
		channels := int64(len(wScales))
		name := t.Weight.Name
		wq := g.Const(onnxgraph.Tensor{Name: g.Fresh(name + "_quantized"), DType: onnxgraph.Int8, Dims: slices.Clone(t.Weight.Dims), Raw: qw})
		ws := g.Const(onnxgraph.Tensor{Name: g.Fresh(name + "_scale"), DType: onnxgraph.Float, Dims: []int64{channels}, Floats: wScales})
		wz := g.Const(onnxgraph.Tensor{Name: g.Fresh(name + "_zero_point"), DType: onnxgraph.Int8, Dims: []int64{channels}, Raw: make([]byte, channels)})
		wOut := g.Fresh(name + "_dq")
		nodes := []*onnxgraph.Node{{Name: g.Fresh(name + "_DequantizeLinear"), OpType: "DequantizeLinear",
			Inputs: []string{wq, ws, wz}, Outputs: []string{wOut}, Attrs: []onnxgraph.Attr{onnxgraph.Int("axis", t.Axis)}}}
		t.Node.Inputs[1] = wOut
		if t.Bias != nil {
			b, err := t.Bias.Float32s()
			if err != nil {
				return err
			}
			xScale, _ := actParams(ranges[t.Node.Inputs[0]])
			qb, bScales := biasParams(b, xScale, wScales)
			bname := t.Bias.Name
			bq := g.Const(onnxgraph.Tensor{Name: g.Fresh(bname + "_quantized"), DType: onnxgraph.Int32, Dims: []int64{channels}, Raw: qb})
			bs := g.Const(onnxgraph.Tensor{Name: g.Fresh(bname + "_scale"), DType: onnxgraph.Float, Dims: []int64{channels}, Floats: bScales})
			bOut := g.Fresh(bname + "_dq")
			nodes = append(nodes, &onnxgraph.Node{Name: g.Fresh(bname + "_DequantizeLinear"), OpType: "DequantizeLinear",
				Inputs: []string{bq, bs}, Outputs: []string{bOut}, Attrs: []onnxgraph.Attr{onnxgraph.Int("axis", 0)}})
			t.Node.Inputs[2] = bOut
		}
		weightDQ[t.Node] = nodes
	}
	// Every consumer reads an activation through its DequantizeLinear;
	// graph outputs keep the float value.
	out := slices.Clone(pre)
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if q, ok := acts[in]; ok {
				n.Inputs[i] = q.out
			}
		}
		out = append(out, weightDQ[n]...)
		out = append(out, n)
		for _, o := range n.Outputs {
			out = append(out, after[o]...)
		}
	}
	g.Nodes = out
	padInInt8(g)
	shapesOfQuantized(g)
	affineAsBatchNorm(g)
	// Weights now read only through their quantised form.
	used := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for _, o := range g.Outputs {
		used[o.Name] = true
	}
	g.Inits = slices.DeleteFunc(g.Inits, func(t *onnxgraph.Tensor) bool { return !used[t.Name] })
	inputs := g.Inputs[:0]
	names := map[string]bool{}
	for _, t := range g.Inits {
		names[t.Name] = true
	}
	for _, in := range g.Inputs {
		// An input naming a removed weight (IR 3 style) goes with it.
		if used[in.Name] || names[in.Name] || !isWeightName(p, in.Name) {
			inputs = append(inputs, in)
		}
	}
	g.Inputs = inputs
	return g.Err()
}

func isWeightName(p *Plan, name string) bool {
	for _, t := range p.Targets {
		if t.Weight.Name == name || (t.Bias != nil && t.Bias.Name == name) {
			return true
		}
	}
	return false
}

// biasParams quantises a bias to int32 with scale xScale x wScale[c], the
// scale of the integer product it is added to.
func biasParams(b []float32, xScale float32, wScales []float32) (q []byte, scales []float32) {
	scales = make([]float32, len(b))
	q = make([]byte, 0, 4*len(b))
	for c, v := range b {
		scales[c] = xScale * wScales[c]
		x := math.Round(float64(v) / float64(scales[c]))
		x = max(math.MinInt32, min(math.MaxInt32, x))
		q = binary.LittleEndian.AppendUint32(q, uint32(int32(x)))
	}
	return q, scales
}
