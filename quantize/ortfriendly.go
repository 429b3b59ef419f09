package quantize

import "animegan/onnxgraph"

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
