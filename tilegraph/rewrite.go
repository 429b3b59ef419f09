package tilegraph

import (
	"fmt"
	"slices"

	"animegan/onnxgraph"
)

// statDims is the declared shape of normalisation k's statistics.
func (a *analysis) statDims(k int) []onnxgraph.Dimension {
	f := a.norms[k]
	out := make([]onnxgraph.Dimension, len(f.stat))
	for i, d := range f.stat {
		if d.c >= 0 {
			out[i] = onnxgraph.Dim(d.c)
		} else {
			out[i] = onnxgraph.Sym(fmt.Sprintf("tile_stats_%d_%d", k, i))
		}
	}
	return out
}

// reduceMean appends ReduceMean(x) over axes with keepdims, writing axes
// as the model's opset wants them (an input from opset 18 on).
func reduceMean(g *onnxgraph.Graph, opset int64, x string, axes []int64) string {
	if opset >= 18 {
		return g.Op("ReduceMean", []string{x, g.Vec(axes...)}, onnxgraph.Int("keepdims", 1))
	}
	return g.Op("ReduceMean", []string{x}, onnxgraph.Ints("axes", axes...), onnxgraph.Int("keepdims", 1))
}

// writeStats is the original graph with each normalisation's mean and
// variance as extra outputs. An InstanceNormalization gets them from
// ReduceMean(x) and ReduceMean((x-mean)²) over its axes, in float32 as
// the node does (two passes, like ONNX Runtime's kernel); a layer norm
// pattern already computes them, and only gains outputs.
func (a *analysis) writeStats(data []byte) ([]byte, error) {
	info, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return nil, err
	}
	m := info.Model()
	g := m.Graph
	for k, f := range a.norms {
		var mean, variance string
		switch f.kind {
		case instanceNorm, opNorm:
			mean = reduceMean(g, m.Opset, f.x, f.axes)
			d := g.Op("Sub", []string{f.x, mean})
			variance = reduceMean(g, m.Opset, g.Op("Mul", []string{d, d}), f.axes)
		default:
			mean = g.Op("Identity", []string{f.node.Outputs[0]})
			variance = g.Op("Identity", []string{f.vnode.Outputs[0]})
		}
		dims := a.statDims(k)
		g.Output(mean, a.statNames[2*k], onnxgraph.Float, dims...)
		g.Output(variance, a.statNames[2*k+1], onnxgraph.Float, dims...)
	}
	return m.Marshal()
}

// capture runs fn, which appends nodes to g, and takes those nodes back
// out of g, so that they can be placed where they belong.
func capture(g *onnxgraph.Graph, fn func()) []*onnxgraph.Node {
	n := len(g.Nodes)
	fn()
	out := slices.Clone(g.Nodes[n:])
	g.Nodes = g.Nodes[:n]
	return out
}

// writeTile is the graph in which every normalisation takes its mean and
// variance from graph inputs: an InstanceNormalization becomes
// (x-mean)/sqrt(var+eps)·scale+bias, a layer norm's two ReduceMeans are
// replaced by the inputs, and what only fed them is dropped; and every
// Resample samples at the region of interest from its own input.
func (a *analysis) writeTile(data []byte) ([]byte, error) {
	info, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return nil, err
	}
	m := info.Model()
	g := m.Graph
	orig := slices.Clone(g.Nodes)
	replace := map[int][]*onnxgraph.Node{} // node index -> its replacement (nil: removed)
	var front []*onnxgraph.Node
	for k, f := range a.norms {
		dims := a.statDims(k)
		mean := g.Input(a.statNames[2*k], onnxgraph.Float, dims...)
		variance := g.Input(a.statNames[2*k+1], onnxgraph.Float, dims...)
		i := a.index[f.node]
		n := orig[i]
		switch f.kind {
		case instanceNorm, opNorm:
			// (x-mean)/sqrt(var+eps)·scale+bias; InstanceNormalization's
			// and GroupNormalization's scale and bias are per channel
			// (axis 1), LayerNormalization's have the normalised shape
			// and broadcast as they are.
			eps := attrFloat(n, "epsilon", 1e-5)
			perChannel := n.OpType != "LayerNormalization"
			ones := make([]int64, len(f.stat)-1)
			for j := range ones {
				ones[j] = 1
			}
			ones[0] = -1
			nodes := capture(g, func() {
				d := g.Op("Sub", []string{n.Inputs[0], mean})
				s := g.Op("Sqrt", []string{g.Op("Add", []string{variance, g.Scalar(eps)})})
				y := g.Op("Div", []string{d, s})
				param := func(name string) string {
					if perChannel {
						return g.Op("Reshape", []string{name, g.Vec(ones...)})
					}
					return name
				}
				y = g.Op("Mul", []string{y, param(n.Inputs[1])})
				if len(n.Inputs) > 2 && n.Inputs[2] != "" {
					y = g.Op("Add", []string{y, param(n.Inputs[2])})
				} else {
					y = g.Op("Identity", []string{y})
				}
			})
			nodes[len(nodes)-1].Outputs[0] = n.Outputs[0]
			replace[i] = nodes
		default:
			v := orig[a.index[f.vnode]]
			front = append(front, capture(g, func() {
				g.Op("Identity", []string{mean})
				g.Op("Identity", []string{variance})
			})...)
			front[len(front)-2].Outputs[0] = n.Outputs[0]
			front[len(front)-1].Outputs[0] = v.Outputs[0]
			replace[i], replace[a.index[f.vnode]] = nil, nil
		}
	}
	for k, r := range a.resamples {
		i := a.index[r.node]
		roi := g.Input(a.roiNames[k], onnxgraph.Float, onnxgraph.Dim(int64(2*r.Rank)))
		nodes := rewriteResample(g, m.Opset, r, orig[i], roi)
		nodes[len(nodes)-1].Outputs[0] = orig[i].Outputs[0]
		replace[i] = nodes
	}
	nodes := front
	for i, n := range orig {
		if r, ok := replace[i]; ok {
			nodes = append(nodes, r...)
			continue
		}
		nodes = append(nodes, n)
	}
	g.Nodes = prune(g, nodes)
	return m.Marshal()
}

// prune drops the nodes whose outputs nothing uses (what computed a
// replaced statistic), and the value_info of values no longer there.
func prune(g *onnxgraph.Graph, nodes []*onnxgraph.Node) []*onnxgraph.Node {
	live := map[string]bool{}
	for _, o := range g.Outputs {
		live[o.Name] = true
	}
	keep := make([]bool, len(nodes))
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if !slices.ContainsFunc(n.Outputs, func(o string) bool { return live[o] }) {
			continue
		}
		keep[i] = true
		for _, in := range n.Inputs {
			live[in] = true
		}
	}
	var out []*onnxgraph.Node
	for i, n := range nodes {
		if keep[i] {
			out = append(out, n)
		}
	}
	produced := map[string]bool{}
	for _, n := range out {
		for _, o := range n.Outputs {
			produced[o] = true
		}
	}
	g.ValueInfo = slices.DeleteFunc(g.ValueInfo, func(v onnxgraph.ValueInfo) bool { return !produced[v.Name] })
	return out
}
