package model

import (
	"math"

	"animegan/onnxgraph"
)

// ONNX Runtime 1.30's CPU Resize kernel computes where each channel starts
// in its output in 32 bits: when the last channel starts 2^31 elements or
// more into the output, the offset wraps round and the kernel writes about
// 2 GB before its buffer, and the process dies of SIGSEGV. Found by running
// a one-node Resize model (128 channels resized to 4096x4130 crashes; to
// 4096x4098, whose last channel starts just under 2^31, runs). A crash
// cannot be caught, so the inferences that would meet it are refused
// before they start: ResizeMaxPixels.
const resizeChannelOffsetLimit = 1 << 31

// attrValueField is a Constant node's tensor attribute.
const attrValueField = "value"

// imageInfo is what the walk knows of an image tensor: its elements and
// its pixels, per pixel of the model's input.
type imageInfo struct {
	elems, ratio float64
}

func (i imageInfo) channels() float64 { return i.elems / i.ratio }

// opNode is one NodeProto, as the walk needs it.
type opNode struct {
	op           string
	inputs, outs []string
	ints         map[string][]int64
	constant     *constTensor // a Constant node's value
}

type constTensor struct {
	dims   []int64
	floats []float32
}

// resizeMaxPixels is the largest model input, in pixels, at which no
// Resize in the graph meets the crash above; 0 when the graph has no
// Resize whose input channels and output size could be traced. The trace
// follows each image tensor's channels and resolution from the model's
// input through the operators image-to-image models are made of
// (convolutions by their weights and strides, pooling, element-wise
// operators, normalisations, padding, reshapes and transposes that keep the
// elements, concatenation, depth/space shuffles); a Resize's output size
// comes from constant scales, or from the largest tensor whose Shape its
// sizes are computed from. A Resize reached through anything else is left
// out: the guard then says nothing rather than guess.
func resizeMaxPixels(data []byte, input string) int64 {
	m, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return 0
	}
	return resizeMaxPixelsOf(m.Graph, input)
}

// resizeMaxPixelsOf is resizeMaxPixels on a graph already read.
func resizeMaxPixelsOf(g *onnxgraph.Graph, input string) int64 {
	var nodes []opNode
	consts := map[string]*constTensor{}
	for _, t := range g.Inits {
		consts[t.Name] = constOf(t)
	}
	for _, n := range g.Nodes {
		nd := nodeOf(n)
		switch {
		case nd.op == "Constant" && nd.constant != nil && len(nd.outs) == 1:
			consts[nd.outs[0]] = nd.constant
		case nd.op == "DequantizeLinear" && len(nd.inputs) > 0 && consts[nd.inputs[0]] != nil && len(nd.outs) == 1:
			// A quantised weight has the dims of the float one it stands for.
			consts[nd.outs[0]] = &constTensor{dims: consts[nd.inputs[0]].dims}
		}
		nodes = append(nodes, nd)
	}
	info := map[string]imageInfo{input: {elems: 3, ratio: 1}}
	producer := map[string]*opNode{}
	for i := range nodes {
		for _, o := range nodes[i].outs {
			producer[o] = &nodes[i]
		}
	}
	limit := int64(0)
	for i := range nodes {
		nd := &nodes[i]
		out, ok := traceNode(nd, info, consts, producer, &limit)
		if ok {
			for _, o := range nd.outs {
				info[o] = out
			}
		}
	}
	return limit
}

var passThrough = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Relu": true, "LeakyRelu": true, "PRelu": true,
	"Tanh": true, "Sigmoid": true, "HardSigmoid": true, "HardSwish": true, "Clip": true, "Elu": true,
	"Selu": true, "Softplus": true, "Mish": true, "Gelu": true, "Erf": true, "Abs": true, "Neg": true,
	"Sqrt": true, "Pow": true, "Exp": true, "Log": true, "Max": true, "Min": true, "Sum": true,
	"Mean": true, "Identity": true, "Dropout": true, "Cast": true, "Floor": true, "Ceil": true,
	"QuantizeLinear": true, "DequantizeLinear": true, // an int8 model's activations
	"Round": true, "Sign": true, "Reciprocal": true, "InstanceNormalization": true,
	"BatchNormalization": true, "LayerNormalization": true, "GroupNormalization": true,
	"Pad": true, "Reshape": true, "Transpose": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true,
}

// traceNode gives a node's image output from its inputs', and records in
// limit what its Resize allows.
func traceNode(nd *opNode, info map[string]imageInfo, consts map[string]*constTensor, producer map[string]*opNode, limit *int64) (imageInfo, bool) {
	in := func(i int) (imageInfo, bool) {
		if i >= len(nd.inputs) {
			return imageInfo{}, false
		}
		v, ok := info[nd.inputs[i]]
		return v, ok && v.ratio > 0 && v.elems > 0
	}
	x, ok := in(0)
	switch {
	case passThrough[nd.op]:
		// The image among the inputs (a residual Add has two alike; a
		// scale or a bias is a constant).
		var best imageInfo
		for i := range nd.inputs {
			if v, ok := in(i); ok && v.elems > best.elems {
				best = v
			}
		}
		return best, best.elems > 0
	case !ok:
		return imageInfo{}, false
	case nd.op == "Conv" || nd.op == "ConvTranspose":
		if len(nd.inputs) < 2 || consts[nd.inputs[1]] == nil || len(consts[nd.inputs[1]].dims) < 3 {
			return imageInfo{}, false
		}
		dims := consts[nd.inputs[1]].dims
		stride := 1.0
		for _, s := range nd.ints["strides"] {
			stride *= float64(max(1, s))
		}
		ch, ratio := float64(dims[0]), x.ratio/stride
		if nd.op == "ConvTranspose" {
			group := int64(1)
			if g := nd.ints["group"]; len(g) == 1 && g[0] > 0 {
				group = g[0]
			}
			ch, ratio = float64(dims[1]*group), x.ratio*stride
		}
		return imageInfo{elems: ch * ratio, ratio: ratio}, true
	case nd.op == "MaxPool" || nd.op == "AveragePool":
		stride := 1.0
		for _, s := range nd.ints["strides"] {
			stride *= float64(max(1, s))
		}
		return imageInfo{elems: x.elems / stride, ratio: x.ratio / stride}, true
	case nd.op == "DepthToSpace" || nd.op == "SpaceToDepth":
		b := nd.ints["blocksize"]
		if len(b) != 1 || b[0] < 1 {
			return imageInfo{}, false
		}
		f := float64(b[0] * b[0])
		if nd.op == "SpaceToDepth" {
			f = 1 / f
		}
		return imageInfo{elems: x.elems, ratio: x.ratio * f}, true
	case nd.op == "Concat":
		var sum imageInfo
		for i := range nd.inputs {
			if v, ok := in(i); ok {
				sum.elems += v.elems
				sum.ratio = max(sum.ratio, v.ratio)
			}
		}
		return sum, true
	case nd.op == "Resize" || nd.op == "Upsample":
		ratio, ok := resizeRatio(nd, x, info, consts, producer)
		if !ok {
			return imageInfo{}, false
		}
		ch := x.channels()
		if ch > 1 {
			// The last channel starts at (channels-1) x output pixels.
			px := int64(max(1, float64(resizeChannelOffsetLimit-1)/((ch-1)*ratio)))
			if *limit == 0 || px < *limit {
				*limit = px
			}
		}
		return imageInfo{elems: ch * ratio, ratio: ratio}, true
	}
	return imageInfo{}, false
}

// resizeRatio is a Resize's output pixels per model input pixel: from
// constant scales (opset 10's second input, or the third), else from the
// largest image tensor whose Shape the sizes are computed from.
func resizeRatio(nd *opNode, x imageInfo, info map[string]imageInfo, consts map[string]*constTensor, producer map[string]*opNode) (float64, bool) {
	scalesAt := 2
	if nd.op == "Upsample" || len(nd.inputs) == 2 {
		scalesAt = 1
	}
	if scalesAt < len(nd.inputs) && nd.inputs[scalesAt] != "" {
		if c := consts[nd.inputs[scalesAt]]; c != nil && len(c.floats) >= 2 {
			f := 1.0
			for _, s := range c.floats {
				f *= float64(s)
			}
			return x.ratio * f, f > 0 && !math.IsInf(f, 0)
		}
	}
	if len(nd.inputs) < 4 || nd.inputs[3] == "" {
		return 0, false
	}
	// Walk back from the sizes to the Shape nodes they come from.
	best, seen := 0.0, map[string]bool{}
	queue := []string{nd.inputs[3]}
	for steps := 0; len(queue) > 0 && steps < 64; steps++ {
		name := queue[0]
		queue = queue[1:]
		p := producer[name]
		if p == nil || seen[name] {
			continue
		}
		seen[name] = true
		if p.op == "Shape" {
			if len(p.inputs) == 0 {
				continue
			}
			if v, ok := info[p.inputs[0]]; ok && v.ratio > best {
				best = v.ratio
			}
			continue
		}
		queue = append(queue, p.inputs...)
	}
	return best, best > 0
}

// nodeOf is the part of a node the walk needs.
func nodeOf(n *onnxgraph.Node) opNode {
	nd := opNode{op: n.OpType, inputs: n.Inputs, outs: n.Outputs, ints: map[string][]int64{}}
	for _, a := range n.Attrs {
		var ints []int64
		switch a.Kind {
		case onnxgraph.AttrInt:
			ints = []int64{a.I}
		case onnxgraph.AttrInts:
			ints = a.Is
		}
		if len(ints) > 0 {
			nd.ints[a.Name] = ints
		}
		if a.Name == attrValueField && a.T != nil {
			nd.constant = constOf(a.T)
		}
	}
	return nd
}

// constOf is a tensor's dims, and its values when it is a small float32
// tensor (Resize scales).
func constOf(t *onnxgraph.Tensor) *constTensor {
	ct := &constTensor{dims: t.Dims}
	if t.DType == onnxgraph.Float && t.Len() <= 16 {
		ct.floats, _ = t.Float32s()
	}
	return ct
}
