package quantize

import (
	"slices"

	"animegan/onnxgraph"
)

// padInInt8 moves each QuantizeLinear that quantises a Pad's output to
// the Pad's input, so that the Pad copies uint8 values instead of float32
// ones:
//
//	x -> Pad -> QuantizeLinear -> DequantizeLinear -> Conv
//
// becomes
//
//	x -> QuantizeLinear -> Pad -> DequantizeLinear -> Conv
//
// The result is the same number for number: reflect, edge and wrap
// padding only copy values, and quantising commutes with copying; a
// constant pad of 0 becomes a pad with the zero point, which is what 0
// quantises to (actParams keeps 0 in every range). ONNX Runtime still
// fuses DequantizeLinear -> Conv -> QuantizeLinear into QLinearConv.
//
// Why: ONNX Runtime's Pad is a plain element copy, and AnimeGANv2 pads
// (reflect) before 20 of its 25 convolutions. Once the convolutions are
// integer kernels, padding float32 tensors took about as long as the
// convolutions themselves (ONNX Runtime's profiler, 512 px, one thread);
// a quarter of the bytes takes a fraction of that time.
func padInInt8(g *onnxgraph.Graph) {
	consumers := map[string]int{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			consumers[in]++
		}
	}
	for _, o := range g.Outputs {
		consumers[o.Name]++ // a graph output keeps its float value
	}
	inits := map[string]*onnxgraph.Tensor{}
	for _, t := range g.Inits {
		inits[t.Name] = t
	}
	producer := map[string]*onnxgraph.Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = n
		}
	}
	moved := map[*onnxgraph.Node]*onnxgraph.Node{} // Pad -> the QuantizeLinear now before it
	for _, q := range g.Nodes {
		if q.OpType != "QuantizeLinear" || len(q.Inputs) != 3 {
			continue
		}
		pad := producer[q.Inputs[0]]
		if pad == nil || pad.OpType != "Pad" || (pad.Domain != "" && pad.Domain != "ai.onnx") ||
			consumers[pad.Outputs[0]] != 1 || !copiesValues(pad, inits) {
			continue
		}
		// x -> Q -> Pad: the QuantizeLinear takes the Pad's input, and the
		// Pad makes the quantised value the DequantizeLinear reads.
		x, quant := pad.Inputs[0], q.Outputs[0]
		q.Inputs[0], q.Outputs[0] = x, g.Fresh(quant+"_unpadded")
		pad.Inputs[0], pad.Outputs[0] = q.Outputs[0], quant
		if padMode(pad) == "constant" {
			// The pad value must be the zero point (a uint8 like the data).
			if len(pad.Inputs) < 3 {
				pad.Inputs = append(pad.Inputs, q.Inputs[2])
			} else {
				pad.Inputs[2] = q.Inputs[2]
			}
		}
		moved[pad] = q
	}
	if len(moved) == 0 {
		return
	}
	// Put each QuantizeLinear right before its Pad (it now feeds it).
	movedQ := map[*onnxgraph.Node]bool{}
	for _, q := range moved {
		movedQ[q] = true
	}
	out := make([]*onnxgraph.Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		if movedQ[n] {
			continue
		}
		if q := moved[n]; q != nil {
			out = append(out, q)
		}
		out = append(out, n)
	}
	g.Nodes = out
}

func padMode(n *onnxgraph.Node) string {
	for _, a := range n.Attrs {
		if a.Name == "mode" && a.Kind == onnxgraph.AttrString {
			return a.S
		}
	}
	return "constant"
}

// copiesValues says whether Pad node n only copies its input's values
// (reflect, edge, wrap), or pads with a constant 0.
func copiesValues(n *onnxgraph.Node, inits map[string]*onnxgraph.Tensor) bool {
	switch padMode(n) {
	case "reflect", "edge", "wrap":
		return true
	case "constant":
		if len(n.Inputs) < 3 || n.Inputs[2] == "" {
			return true // constant_value defaults to 0
		}
		t := inits[n.Inputs[2]]
		if t == nil || t.DType != onnxgraph.Float {
			return false
		}
		v, err := t.Float32s()
		return err == nil && len(v) == 1 && v[0] == 0
	}
	return false
}

// shapesOfQuantized makes every Shape (and Size) that reads a
// DequantizeLinear's output read its quantised input instead: the shape is
// the same, and the DequantizeLinear need not run for it.
//
// Why: an exported GroupNorm takes the Shape of the normalised tensor to
// reshape it back. ONNX Runtime gives each consumer of a DequantizeLinear
// its own copy, so the Shape kept a full DequantizeLinear of each
// convolution's output alive, computed only for its dimensions: 23 of
// the 49 DequantizeLinear nodes in AnimeGANv2's optimised int8 graph.
func shapesOfQuantized(g *onnxgraph.Graph) {
	dq := map[string]string{} // DequantizeLinear output -> its input
	for _, n := range g.Nodes {
		if n.OpType == "DequantizeLinear" && (n.Domain == "" || n.Domain == "ai.onnx") {
			dq[n.Outputs[0]] = n.Inputs[0]
		}
	}
	for _, n := range g.Nodes {
		if (n.OpType == "Shape" || n.OpType == "Size") && (n.Domain == "" || n.Domain == "ai.onnx") {
			if in, ok := dq[n.Inputs[0]]; ok {
				n.Inputs[0] = in
			}
		}
	}
}

// affineAsBatchNorm turns each per-channel scale and shift spelt as two
// operators,
//
//	x -> Mul(gamma) -> Add(beta)        gamma, beta constant [C,1,...,1]
//
// into one BatchNormalization(x, gamma, beta, mean 0, variance 1,
// epsilon 0), which computes x*gamma+beta in one pass over x: the same
// numbers (x/sqrt(1+0) is x). It applies only where the constants'
// channel axis is x's axis 1, the one BatchNormalization scales, so x's
// rank must be known (ranks).
//
// Why: this is how an exported GroupNorm ends (Reshape, InstanceNorm,
// Reshape back, Mul, Add), once per convolution. With the convolutions
// integer, the float passes around them are what is left to cut: Mul then
// Add read and write the float tensor twice. One BatchNormalization took
// about 0.4 of that time in ONNX Runtime 1.30 (the CPU time of AnimeGANv2's
// 24 at 512 px, one thread).
func affineAsBatchNorm(g *onnxgraph.Graph) {
	var (
		producer  = map[string]*onnxgraph.Node{}
		consumers = map[string]int{}
		inits     = map[string]*onnxgraph.Tensor{}
	)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = n
		}
		for _, in := range n.Inputs {
			consumers[in]++
		}
	}
	for _, o := range g.Outputs {
		consumers[o.Name]++
	}
	for _, t := range g.Inits {
		inits[t.Name] = t
	}
	// constant follows Identity nodes back to a float32 initializer (the
	// PyTorch exporter shares equal weights that way).
	constant := func(name string) []float32 {
		for range len(g.Nodes) + 1 {
			if t := inits[name]; t != nil {
				if t.DType != onnxgraph.Float || t.External {
					return nil
				}
				v, err := t.Float32s()
				if err != nil {
					return nil
				}
				return v
			}
			p := producer[name]
			if p == nil || p.OpType != "Identity" || !standard(p) {
				return nil
			}
			name = p.Inputs[0]
		}
		return nil
	}
	// channelDims is the rank of a constant shaped [C,1,...,1], or 0.
	channelDims := func(name string) int {
		for range len(g.Nodes) + 1 {
			if t := inits[name]; t != nil {
				if len(t.Dims) == 0 {
					return 0
				}
				for _, d := range t.Dims[1:] {
					if d != 1 {
						return 0
					}
				}
				return len(t.Dims)
			}
			p := producer[name]
			if p == nil || p.OpType != "Identity" {
				return 0
			}
			name = p.Inputs[0]
		}
		return 0
	}
	ranks := newRanks(g, producer, inits)
	removed := map[*onnxgraph.Node]bool{}
	for _, mul := range g.Nodes {
		if mul.OpType != "Mul" || !standard(mul) || len(mul.Inputs) != 2 || consumers[mul.Outputs[0]] != 1 {
			continue
		}
		var add *onnxgraph.Node
		for _, n := range g.Nodes {
			if n.OpType == "Add" && standard(n) && len(n.Inputs) == 2 && slices.Contains(n.Inputs, mul.Outputs[0]) {
				add = n
			}
		}
		if add == nil {
			continue
		}
		xi := 0 // which of Mul's inputs is x
		if constant(mul.Inputs[0]) != nil {
			xi = 1
		}
		x, gName := mul.Inputs[xi], mul.Inputs[1-xi]
		bName := add.Inputs[0]
		if bName == mul.Outputs[0] {
			bName = add.Inputs[1]
		}
		gamma, beta := constant(gName), constant(bName)
		k := channelDims(gName)
		// One value for all channels ([1,1,1]) broadcasts in Mul, but
		// BatchNormalization wants one per channel of x, whose number the
		// graph need not say.
		if gamma == nil || beta == nil || constant(x) != nil || k == 0 || channelDims(bName) != k ||
			len(gamma) != len(beta) || len(gamma) < 2 || ranks.of(x) != k+1 {
			continue
		}
		c := int64(len(gamma))
		mean, variance := make([]float32, c), make([]float32, c)
		for i := range variance {
			variance[i] = 1
		}
		param := func(suffix string, v []float32) string {
			return g.Const(onnxgraph.Tensor{Name: g.Fresh(mul.Name + suffix), DType: onnxgraph.Float, Dims: []int64{c}, Floats: v})
		}
		// The Add's node and output stay (a name later nodes or the graph
		// output use); it becomes the BatchNormalization reading x.
		add.OpType = "BatchNormalization"
		add.Inputs = []string{x, param("_scale", gamma), param("_bias", beta), param("_mean", mean), param("_var", variance)}
		add.Attrs = []onnxgraph.Attr{onnxgraph.Float32("epsilon", 0)}
		add.Name = g.Fresh(add.Name + "_batchnorm")
		removed[mul] = true
	}
	if len(removed) > 0 {
		g.Nodes = slices.DeleteFunc(g.Nodes, func(n *onnxgraph.Node) bool { return removed[n] })
	}
}

func standard(n *onnxgraph.Node) bool { return n.Domain == "" || n.Domain == "ai.onnx" }

// ranks infers the rank of a graph's values where the operators make it
// plain (affineAsBatchNorm needs to know which axis a constant
// broadcasts to): graph inputs with a shape, initializers, operators
// whose output has their first input's rank, broadcasting arithmetic,
// and Reshape to a constant shape or to another value's Shape. -1 is
// unknown.
type ranks struct {
	g        *onnxgraph.Graph
	producer map[string]*onnxgraph.Node
	inits    map[string]*onnxgraph.Tensor
	inputs   map[string]int
	memo     map[string]int
}

func newRanks(g *onnxgraph.Graph, producer map[string]*onnxgraph.Node, inits map[string]*onnxgraph.Tensor) *ranks {
	r := &ranks{g: g, producer: producer, inits: inits, inputs: map[string]int{}, memo: map[string]int{}}
	for _, in := range g.Inputs {
		if in.Shape != nil {
			r.inputs[in.Name] = len(in.Shape)
		}
	}
	return r
}

// sameRank are operators whose first output has their first input's rank.
var sameRank = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true, "Conv": true, "ConvTranspose": true,
	"InstanceNormalization": true, "BatchNormalization": true, "LayerNormalization": true,
	"LeakyRelu": true, "Relu": true, "PRelu": true, "Sigmoid": true, "Tanh": true, "Clip": true,
	"Identity": true, "Cast": true, "Pad": true, "Resize": true, "Transpose": true,
	"MaxPool": true, "AveragePool": true, "Neg": true, "Abs": true, "Sqrt": true, "Exp": true,
}

var broadcasting = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Max": true, "Min": true}

func (r *ranks) of(name string) int {
	if v, ok := r.memo[name]; ok {
		return v
	}
	r.memo[name] = -1 // a cycle, were there one, is unknown
	v := r.infer(name)
	r.memo[name] = v
	return v
}

func (r *ranks) infer(name string) int {
	if t := r.inits[name]; t != nil {
		return len(t.Dims)
	}
	if v, ok := r.inputs[name]; ok {
		return v
	}
	n := r.producer[name]
	if n == nil || !standard(n) || len(n.Inputs) == 0 || n.Outputs[0] != name {
		return -1
	}
	switch {
	case sameRank[n.OpType]:
		return r.of(n.Inputs[0])
	case broadcasting[n.OpType]:
		out := -1
		for _, in := range n.Inputs {
			k := r.of(in)
			if k < 0 {
				return -1
			}
			out = max(out, k)
		}
		return out
	case n.OpType == "Reshape" && len(n.Inputs) == 2:
		if t := r.inits[n.Inputs[1]]; t != nil && len(t.Dims) == 1 {
			return int(t.Dims[0])
		}
		if s := r.producer[n.Inputs[1]]; s != nil && s.OpType == "Shape" && standard(s) && len(s.Attrs) == 0 {
			return r.of(s.Inputs[0])
		}
	}
	return -1
}
