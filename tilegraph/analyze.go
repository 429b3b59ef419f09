package tilegraph

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"animegan/onnxgraph"
)

// normKind is how a normalisation is written in the graph.
type normKind int

const (
	instanceNorm normKind = iota // one InstanceNormalization node
	meanVar                      // a ReduceMean of x and a ReduceMean of its squared deviation
	meanMoment                   // a ReduceMean of x and a ReduceMean of x² (var = E[x²] - mean²)
	opNorm                       // LayerNormalization, or GroupNormalization with one group
)

// found is one normalisation the analysis recognised.
type found struct {
	Norm
	kind  normKind
	node  *onnxgraph.Node // InstanceNormalization, or the mean's ReduceMean
	vnode *onnxgraph.Node // the second moment's ReduceMean (meanVar, meanMoment)
	x     string          // the normalised value
	axes  []int64         // axes the statistics are taken over
	stat  []dim           // shape of one statistic (keepdims)
	order int             // node index, for sorting
}

// analysis walks a graph once, in node order, following what each value
// is: its shape in terms of the image's height and width, whether it
// depends on the pixels, and its receptive field.
type analysis struct {
	g         *onnxgraph.Graph
	opset     int64
	vals      map[string]*value
	producer  map[string]*onnxgraph.Node
	index     map[*onnxgraph.Node]int
	candidate []*onnxgraph.Node // ReduceMeans over image axes, to be paired
	norms     []*found
	refusal   string
	input     string
	layout    string
	statNames []string // Thumbnail mode: mean_0, var_0, ... (Plan.StatsOutputs)
	resamples []*resample
	roiNames  []string // Plan.Resamples' inputs
}

func (a *analysis) refuse(format string, args ...any) {
	if a.refusal == "" {
		a.refusal = fmt.Sprintf(format, args...)
	}
}

func nodeName(n *onnxgraph.Node) string {
	if n.Name != "" {
		return n.Name
	}
	if len(n.Outputs) > 0 {
		return n.Outputs[0]
	}
	return "(unnamed)"
}

func attr(n *onnxgraph.Node, name string) *onnxgraph.Attr {
	for i := range n.Attrs {
		if n.Attrs[i].Name == name {
			return &n.Attrs[i]
		}
	}
	return nil
}

func attrInt(n *onnxgraph.Node, name string, def int64) int64 {
	if a := attr(n, name); a != nil {
		return a.I
	}
	return def
}

func attrInts(n *onnxgraph.Node, name string) []int64 {
	if a := attr(n, name); a != nil {
		return a.Is
	}
	return nil
}

func attrFloat(n *onnxgraph.Node, name string, def float32) float32 {
	if a := attr(n, name); a != nil {
		return a.F
	}
	return def
}

func attrString(n *onnxgraph.Node, name, def string) string {
	if a := attr(n, name); a != nil {
		return a.S
	}
	return def
}

// in is the value of a node's i-th input, nil when absent.
func (a *analysis) in(n *onnxgraph.Node, i int) *value {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil
	}
	if v, ok := a.vals[n.Inputs[i]]; ok {
		return v
	}
	return &value{rf: 1}
}

// constInts is an input's integer elements as plain numbers, ok only when
// every one is a known constant.
func (a *analysis) constInts(n *onnxgraph.Node, i int) ([]int64, bool) {
	v := a.in(n, i)
	if v == nil || v.ints == nil {
		return nil, false
	}
	out := make([]int64, len(v.ints))
	for k, d := range v.ints {
		if d.c == unk || d.sp != 0 {
			return nil, false
		}
		out[k] = d.c
	}
	return out, true
}

// newAnalysis prepares the walk and finds the image input and its layout.
func newAnalysis(info *onnxgraph.Info) (*analysis, error) {
	g := info.Graph
	a := &analysis{g: g, vals: map[string]*value{}, producer: map[string]*onnxgraph.Node{}, index: map[*onnxgraph.Node]int{}}
	for _, o := range info.OpsetList {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			a.opset = o.Version
		}
	}
	for _, t := range g.Inits {
		a.vals[t.Name] = constValue(t)
	}
	weights := map[string]bool{}
	for _, t := range g.Inits {
		weights[t.Name] = true
	}
	for _, in := range g.Inputs {
		if weights[in.Name] {
			continue
		}
		if a.input != "" {
			return nil, fmt.Errorf("graph has more than one input (%s, %s)", a.input, in.Name)
		}
		a.input = in.Name
		if len(in.Shape) != 4 {
			return nil, fmt.Errorf("input %s has %d dimensions, want 4 (NCHW or NHWC)", in.Name, len(in.Shape))
		}
		is3 := func(d onnxgraph.Dimension) bool { return d.Param == "" && d.Value == 3 }
		v := &value{img: true, rf: 1, dims: make([]dim, 4)}
		for i, d := range in.Shape {
			v.dims[i] = dim{c: unk}
			if d.Param == "" && d.Value > 0 {
				v.dims[i].c = d.Value
			}
		}
		h, w := 2, 3
		a.layout = "NCHW"
		switch {
		case is3(in.Shape[1]) && !is3(in.Shape[3]):
		case is3(in.Shape[3]) && !is3(in.Shape[1]):
			h, w, a.layout = 1, 2, "NHWC"
		default:
			return nil, fmt.Errorf("input %s: cannot tell the channel axis", in.Name)
		}
		v.dims[h].sp, v.dims[h].jump = spH, 1
		v.dims[w].sp, v.dims[w].jump = spW, 1
		a.vals[in.Name] = v
	}
	if a.input == "" {
		return nil, fmt.Errorf("graph has no image input")
	}
	return a, nil
}

// walk follows every node in order.
func (a *analysis) walk() {
	for i, n := range a.g.Nodes {
		a.index[n] = i
		for _, o := range n.Outputs {
			a.producer[o] = n
		}
		outs := a.node(n)
		for k, o := range n.Outputs {
			if o == "" {
				continue
			}
			if k < len(outs) && outs[k] != nil {
				a.vals[o] = outs[k]
			} else {
				a.vals[o] = &value{rf: 1}
			}
		}
	}
}

// node computes a node's output values, refusing (a.refuse) a global
// operation it cannot rewrite.
func (a *analysis) node(n *onnxgraph.Node) []*value {
	var img bool
	var rfUnknown bool
	rf := 1.0
	for i := range n.Inputs {
		if v := a.in(n, i); v != nil && v.img {
			img = true
			rf = max(rf, v.rf)
			rfUnknown = rfUnknown || v.rfUnknown
		}
	}
	x := a.in(n, 0)
	if x == nil {
		x = &value{rf: 1}
	}
	out := &value{img: img, rf: rf, rfUnknown: rfUnknown}
	one := []*value{out}
	name := nodeName(n)
	op := n.OpType
	if n.Domain != "" && n.Domain != "ai.onnx" && n.Domain != "com.microsoft" {
		if img {
			a.refuse("%s node %q (domain %s) is unknown to the tiling analysis", op, name, n.Domain)
		}
		return nil
	}

	switch {
	case op == "Constant":
		if at := attr(n, "value"); at != nil && at.T != nil {
			return []*value{constValue(at.T)}
		}
		for _, k := range []string{"value_int", "value_ints", "value_float", "value_floats"} {
			if at := attr(n, k); at != nil {
				v := &value{rf: 1}
				switch k {
				case "value_int":
					v.ints = []dim{{c: at.I}}
				case "value_ints":
					v.dims = []dim{{c: int64(len(at.Is))}}
					for _, x := range at.Is {
						v.ints = append(v.ints, dim{c: x})
					}
				case "value_float":
					v.floats = []float32{at.F}
				case "value_floats":
					v.dims = []dim{{c: int64(len(at.Fs))}}
					v.floats = at.Fs
				}
				return []*value{v}
			}
		}
		return one

	case elementwise[op]:
		ins := []*value{}
		for i := range n.Inputs {
			if v := a.in(n, i); v != nil {
				ins = append(ins, v)
			}
		}
		switch op {
		case "QuantizeLinear", "DequantizeLinear", "BatchNormalization", "Clip", "Dropout", "DynamicQuantizeLinear":
			ins = ins[:min(1, len(ins))] // the rest are per-channel parameters
		}
		out.dims = broadcast(ins...)
		out.ints = a.intsOf(n, ins)
		if len(n.Outputs) > 1 {
			return []*value{out, {rf: 1}, {rf: 1}}
		}
		return one

	case windowed[op]:
		return []*value{a.window(n, x, out)}

	case op == "Pad":
		out.dims = slices.Clone(x.dims)
		for i := range out.dims {
			out.dims[i].c = unk
			if out.dims[i].sp == 0 {
				out.dims[i].c = x.dims[i].c
			}
		}
		return one

	case op == "InstanceNormalization":
		if img && x.dims == nil {
			a.refuse("InstanceNormalization node %q: cannot tell which axes it normalises over", name)
			return one
		}
		out.dims = slices.Clone(x.dims)
		if img && slices.ContainsFunc(x.dims[min(2, len(x.dims)):], func(d dim) bool { return d.sp != 0 }) {
			a.instanceNorm(n, x)
		}
		return one

	case op == "LayerNormalization" || op == "GroupNormalization" || op == "MeanVarianceNormalization":
		out.dims = slices.Clone(x.dims)
		if !img {
			return one
		}
		if x.dims == nil {
			a.refuse("%s node %q: cannot tell which axes it normalises over", op, name)
			return one
		}
		var axes []int
		switch op {
		case "LayerNormalization":
			ax := normAxis(attrInt(n, "axis", -1), len(x.dims))
			for i := max(ax, 0); i < len(x.dims); i++ {
				axes = append(axes, i)
			}
		case "GroupNormalization":
			for i := 1; i < len(x.dims); i++ {
				axes = append(axes, i)
			}
		default:
			for _, ax := range attrInts(n, "axes") {
				axes = append(axes, normAxis(ax, len(x.dims)))
			}
			if attr(n, "axes") == nil {
				axes = []int{0, 2, 3}
			}
		}
		var sp uint8
		for _, ax := range axes {
			if ax >= 0 {
				sp |= x.dims[ax].sp
			}
		}
		if sp == 0 {
			return []*value{out, {rf: 1}, {rf: 1}}
		}
		switch {
		case op == "LayerNormalization" && len(n.Outputs) > 1 && slices.ContainsFunc(n.Outputs[1:], func(o string) bool { return o != "" }):
			a.refuse("LayerNormalization node %q normalises over the image's %s and its mean or inverse deviation is used elsewhere", name, sides(sp))
		case op == "GroupNormalization" && attrInt(n, "num_groups", 0) != 1:
			a.refuse("GroupNormalization node %q normalises over the image's %s in %d groups: the rewrite knows one group only", name, sides(sp), attrInt(n, "num_groups", 0))
		case op == "MeanVarianceNormalization":
			a.refuse("MeanVarianceNormalization node %q normalises over the image's %s: the rewrite does not know this operator", name, sides(sp))
		default:
			a.opNorm(n, x, axes)
		}
		return []*value{out, {rf: 1}, {rf: 1}}

	case reductions[op]:
		return []*value{a.reduce(n, x, out)}

	case globalPools[op]:
		if img && (x.dims == nil || x.spatial()) {
			a.refuse("%s node %q pools over the whole image", op, name)
		}
		if x.dims != nil {
			out.dims = slices.Clone(x.dims)
			for i := 2; i < len(out.dims); i++ {
				out.dims[i] = dim{c: 1}
			}
		}
		return one

	case alongAxis[op] != 0 || op == "ArgMax" || op == "ArgMin" || op == "CumSum":
		def := alongAxis[op]
		if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && a.opset < 13 {
			def = 1
		}
		out.dims = slices.Clone(x.dims)
		if img {
			if x.dims == nil {
				a.refuse("%s node %q: cannot tell which axis it works along", op, name)
				return one
			}
			ax := normAxis(attrInt(n, "axis", def), len(x.dims))
			if op == "CumSum" {
				if c, ok := a.constInts(n, 1); ok && len(c) == 1 {
					ax = normAxis(c[0], len(x.dims))
				} else {
					ax = -1
				}
			}
			last := ax + 1
			if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && a.opset < 13 {
				last = len(x.dims) // older opsets flatten every axis from axis on
			}
			if ax < 0 {
				a.refuse("%s node %q: cannot tell which axis it works along", op, name)
				return one
			}
			for i := ax; i < last; i++ {
				if x.dims[i].sp != 0 {
					a.refuse("%s node %q works along the image's %s, mixing the whole image", op, name, sides(x.dims[i].sp))
					break
				}
			}
			if op == "ArgMax" || op == "ArgMin" {
				if attrInt(n, "keepdims", 1) == 1 {
					out.dims[ax] = dim{c: 1}
				} else {
					out.dims = slices.Delete(out.dims, ax, ax+1)
				}
			}
		}
		return []*value{out, out}

	case op == "Resize" || op == "Upsample":
		return []*value{a.resize(n, x, out)}

	case op == "Shape":
		v := &value{rf: 1}
		if x.dims != nil {
			start, end := attrInt(n, "start", 0), attrInt(n, "end", int64(len(x.dims)))
			s, e := clampIndex(start, len(x.dims)), clampIndex(end, len(x.dims))
			if e >= s {
				v.ints = slices.Clone(x.dims[s:e])
			}
			v.dims = []dim{{c: int64(len(v.ints))}}
		}
		return []*value{v}

	case op == "Size":
		v := &value{rf: 1, dims: []dim{}}
		if x.dims != nil {
			d := dim{c: 1}
			for _, xd := range x.dims {
				d = arith("Mul", d, xd)
			}
			v.ints = []dim{d}
		}
		return []*value{v}

	case op == "Gather":
		return []*value{a.gather(n, x, out)}

	case op == "Slice":
		return []*value{a.slice(n, x, out)}

	case op == "Concat":
		ax := attrInt(n, "axis", 0)
		var ins []*value
		allInts := true
		for i := range n.Inputs {
			if v := a.in(n, i); v != nil {
				ins = append(ins, v)
				if v.ints == nil {
					allInts = false
				}
			}
		}
		if len(ins) == 0 {
			return one
		}
		if allInts {
			for _, v := range ins {
				out.ints = append(out.ints, v.ints...)
			}
			out.dims = []dim{{c: int64(len(out.ints))}}
			return one
		}
		if ins[0].dims == nil {
			return one
		}
		out.dims = slices.Clone(ins[0].dims)
		k := normAxis(ax, len(out.dims))
		if k < 0 {
			return one
		}
		total := dim{c: 0}
		for _, v := range ins {
			if len(v.dims) != len(out.dims) {
				return []*value{{img: img, rf: rf, rfUnknown: rfUnknown}}
			}
			total = arith("Add", total, v.dims[k])
			for i := range out.dims {
				out.dims[i].sp |= v.dims[i].sp
			}
		}
		out.dims[k].c = total.c
		if img && out.dims[k].sp != 0 {
			a.refuse("Concat node %q joins tensors along the image's %s", name, sides(out.dims[k].sp))
		}
		return one

	case op == "Unsqueeze" || op == "Squeeze":
		axes := attrInts(n, "axes")
		if attr(n, "axes") == nil {
			axes, _ = a.constInts(n, 1)
		}
		if x.ints != nil && op == "Unsqueeze" && len(x.dims) == 0 {
			out.ints = x.ints
			out.dims = []dim{{c: int64(len(x.ints))}}
			return one
		}
		if x.ints != nil && op == "Squeeze" && len(x.ints) == 1 {
			out.ints = x.ints
			out.dims = []dim{}
			return one
		}
		if x.dims == nil {
			return one
		}
		if op == "Squeeze" {
			if axes == nil {
				for i, d := range x.dims {
					if d.c != 1 || d.sp != 0 {
						out.dims = append(out.dims, x.dims[i])
					}
				}
				if out.dims == nil {
					out.dims = []dim{}
				}
				return one
			}
			drop := map[int]bool{}
			for _, ax := range axes {
				drop[normAxis(ax, len(x.dims))] = true
			}
			out.dims = []dim{}
			for i, d := range x.dims {
				if !drop[i] {
					out.dims = append(out.dims, d)
				}
			}
			return one
		}
		if axes == nil {
			return one
		}
		rank := len(x.dims) + len(axes)
		ins := map[int]bool{}
		for _, ax := range axes {
			ins[normAxis(ax, rank)] = true
		}
		out.dims = make([]dim, 0, rank)
		k := 0
		for i := 0; i < rank; i++ {
			if ins[i] {
				out.dims = append(out.dims, dim{c: 1})
			} else if k < len(x.dims) {
				out.dims = append(out.dims, x.dims[k])
				k++
			}
		}
		return one

	case op == "Transpose":
		if x.dims == nil {
			return one
		}
		perm := attrInts(n, "perm")
		if perm == nil {
			for i := len(x.dims) - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		if len(perm) != len(x.dims) {
			return one
		}
		out.dims = make([]dim, len(perm))
		for i, p := range perm {
			out.dims[i] = x.dims[p]
		}
		if len(x.dims) == 1 {
			out.ints = x.ints
		}
		return one

	case op == "Reshape":
		return []*value{a.reshape(n, x, out)}

	case op == "Flatten":
		if x.dims == nil {
			return one
		}
		ax := normAxis(attrInt(n, "axis", 1), len(x.dims)+1)
		if attrInt(n, "axis", 1) == int64(len(x.dims)) {
			ax = len(x.dims)
		}
		lo, hi := dim{c: 1}, dim{c: 1}
		for i, d := range x.dims {
			if i < ax {
				lo = arith("Mul", lo, d)
			} else {
				hi = arith("Mul", hi, d)
			}
		}
		out.dims = []dim{lo, hi}
		return one

	case op == "MatMul" || op == "MatMulInteger" || op == "Gemm" || op == "QLinearMatMul":
		ai, bi := 0, 1
		if op == "QLinearMatMul" {
			bi = 3
		}
		av, bv := a.in(n, ai), a.in(n, bi)
		if av == nil || bv == nil {
			return one
		}
		if img && (av.dims == nil || bv.dims == nil) {
			a.refuse("%s node %q: cannot tell which axes it multiplies over", op, name)
			return one
		}
		if !img {
			return one
		}
		ka, kb := len(av.dims)-1, len(bv.dims)-2
		if op == "Gemm" && attrInt(n, "transA", 0) == 1 {
			ka = 0
		}
		if op == "Gemm" && attrInt(n, "transB", 0) == 1 {
			kb = 1
		}
		if len(bv.dims) == 1 {
			kb = 0
		}
		if (ka >= 0 && av.dims[ka].sp != 0) || (kb >= 0 && kb < len(bv.dims) && bv.dims[kb].sp != 0) {
			a.refuse("%s node %q multiplies over the image's height or width (a fully connected layer over the whole image)", op, name)
			return one
		}
		if len(av.dims) >= 2 && len(bv.dims) >= 2 {
			out.dims = append(slices.Clone(av.dims[:len(av.dims)-1]), bv.dims[len(bv.dims)-1])
		}
		return one

	case op == "ConstantOfShape":
		if x.ints != nil {
			out.dims = slices.Clone(x.ints)
		}
		out.img = false
		if at := attr(n, "value"); at != nil && at.T != nil && len(x.ints) > 0 && len(x.ints) <= 8 {
			c := constValue(at.T)
			if len(c.ints) == 1 {
				size := int64(1)
				for _, d := range x.ints {
					if d.c < 0 || d.sp != 0 {
						size = -1
						break
					}
					size *= d.c
				}
				if size >= 0 && size <= 64 {
					for i := int64(0); i < size; i++ {
						out.ints = append(out.ints, c.ints[0])
					}
				}
			}
		}
		return one

	case op == "Expand":
		sh := a.in(n, 1)
		if x.dims != nil && sh != nil && sh.ints != nil {
			out.dims = broadcast(x, &value{dims: sh.ints})
		}
		return one

	case op == "Tile":
		if x.dims != nil {
			out.dims = slices.Clone(x.dims)
			for i := range out.dims {
				out.dims[i].c = unk
			}
			if img && x.spatial() {
				if r, ok := a.constInts(n, 1); !ok || slices.ContainsFunc(r, func(k int64) bool { return k != 1 }) {
					a.refuse("Tile node %q repeats the image along its axes", name)
				}
			}
		}
		return one

	case op == "Split":
		var outs []*value
		for range n.Outputs {
			v := *out
			v.dims = slices.Clone(x.dims)
			if ax := normAxis(attrInt(n, "axis", 0), len(x.dims)); ax >= 0 {
				if img && x.dims[ax].sp != 0 {
					a.refuse("Split node %q cuts the image into fixed parts along its %s", name, sides(x.dims[ax].sp))
				}
				v.dims[ax].c = unk
			}
			outs = append(outs, &v)
		}
		return outs

	case op == "DepthToSpace" || op == "SpaceToDepth":
		bs := float64(attrInt(n, "blocksize", 1))
		if x.dims != nil && len(x.dims) == 4 {
			out.dims = slices.Clone(x.dims)
			for i := 2; i < 4; i++ {
				if out.dims[i].sp == 0 {
					continue
				}
				out.dims[i].c = unk
				if op == "DepthToSpace" {
					out.dims[i].jump /= bs
				} else {
					out.rf += (bs - 1) * out.dims[i].jump
					out.dims[i].jump *= bs
				}
			}
			out.dims[1].c = unk
		}
		return one

	case op == "Range" || op == "NonZero" || op == "Einsum" || op == "Compress" || op == "ScatterND" ||
		op == "ScatterElements" || op == "GatherElements" || op == "GatherND" || op == "GridSample" ||
		op == "RoiAlign" || op == "NonMaxSuppression" || op == "Unique" || op == "ReverseSequence" || op == "If" || op == "Loop" || op == "Scan":
		if img {
			a.refuse("%s node %q: the tiling analysis cannot tell which pixels it reads", op, name)
		}
		return one
	}
	if img {
		a.refuse("%s node %q is unknown to the tiling analysis", op, name)
	}
	return one
}

// sides names the image sides an axis follows.
func sides(sp uint8) string {
	switch sp {
	case spH:
		return "height"
	case spW:
		return "width"
	}
	return "height and width"
}

func clampIndex(i int64, n int) int {
	if i < 0 {
		i += int64(n)
	}
	return int(max(0, min(i, int64(n))))
}

// intsOf follows shape arithmetic (Add/Sub/Mul/Div/Cast of shape vectors).
func (a *analysis) intsOf(n *onnxgraph.Node, ins []*value) []dim {
	switch n.OpType {
	case "Cast", "Identity":
		if len(ins) == 1 {
			return ins[0].ints
		}
	case "Add", "Sub", "Mul", "Div":
		if len(ins) != 2 || ins[0].ints == nil || ins[1].ints == nil {
			return nil
		}
		p, q := ins[0].ints, ins[1].ints
		if len(p) != len(q) && len(p) != 1 && len(q) != 1 {
			return nil
		}
		out := make([]dim, max(len(p), len(q)))
		for i := range out {
			out[i] = arith(n.OpType, p[min(i, len(p)-1)], q[min(i, len(q)-1)])
		}
		return out
	}
	return nil
}

// window is Conv, ConvTranspose and the pools: the output's spatial axes
// (2 and up) follow the input's, with the kernel widening the receptive
// field and the stride widening each step.
func (a *analysis) window(n *onnxgraph.Node, x, out *value) *value {
	if x.dims == nil {
		return out
	}
	out.dims = slices.Clone(x.dims)
	if len(out.dims) < 3 {
		return out
	}
	wi := 1
	if n.OpType == "QLinearConv" {
		wi = 3
	}
	kernel := attrInts(n, "kernel_shape")
	if w := a.in(n, wi); w != nil && w.dims != nil && len(w.dims) == len(x.dims) && !strings.Contains(n.OpType, "Pool") {
		if kernel == nil {
			for _, d := range w.dims[2:] {
				kernel = append(kernel, d.c)
			}
		}
		out.dims[1] = dim{c: w.dims[0].c}
		if n.OpType == "ConvTranspose" {
			out.dims[1] = dim{c: unk}
			if w.dims[1].c > 0 {
				out.dims[1].c = w.dims[1].c * attrInt(n, "group", 1)
			}
		}
	}
	strides, dil := attrInts(n, "strides"), attrInts(n, "dilations")
	grow := 0.0
	for i := 2; i < len(out.dims); i++ {
		k := i - 2
		kk, s, d := int64(1), int64(1), int64(1)
		if k < len(kernel) {
			kk = kernel[k]
		}
		if k < len(strides) {
			s = strides[k]
		}
		if k < len(dil) {
			d = dil[k]
		}
		if kk < 1 {
			out.rfUnknown = true
			kk = 1
		}
		eff := float64((kk-1)*d + 1)
		od := &out.dims[i]
		od.c = unk
		if od.sp == 0 {
			continue
		}
		j := od.jump
		if j == 0 {
			j = 1
		}
		if n.OpType == "ConvTranspose" {
			// Each output pixel sums ceil(eff/s) input pixels.
			grow = max(grow, (math.Ceil(eff/float64(s))-1)*j)
			od.jump = j / float64(s)
		} else {
			grow = max(grow, (eff-1)*j)
			od.jump = j * float64(s)
		}
	}
	out.rf += grow
	return out
}

// reduce is the Reduce* family: over the channel axis it is per pixel;
// over an image axis it is global, and only a ReduceMean may turn out to
// be part of a known normalisation (paired later).
func (a *analysis) reduce(n *onnxgraph.Node, x, out *value) *value {
	name := nodeName(n)
	axes := attrInts(n, "axes")
	axesGiven := attr(n, "axes") != nil
	if !axesGiven && len(n.Inputs) > 1 && n.Inputs[1] != "" {
		var ok bool
		if axes, ok = a.constInts(n, 1); !ok {
			if x.img {
				a.refuse("%s node %q: its axes are computed, so the tiling analysis cannot tell what it reduces over", n.OpType, name)
			}
			return out
		}
		axesGiven = true
	}
	if x.dims == nil {
		if x.img {
			a.refuse("%s node %q: cannot tell which axes it reduces over", n.OpType, name)
		}
		return out
	}
	rank := len(x.dims)
	reduced := map[int]bool{}
	if len(axes) == 0 {
		if attrInt(n, "noop_with_empty_axes", 0) == 1 {
			out.dims = slices.Clone(x.dims)
			return out
		}
		for i := 0; i < rank; i++ {
			reduced[i] = true
		}
	}
	for _, ax := range axes {
		k := normAxis(ax, rank)
		if k < 0 {
			return out
		}
		reduced[k] = true
	}
	keep := attrInt(n, "keepdims", 1) == 1
	var sp uint8
	for i := 0; i < rank; i++ {
		if reduced[i] {
			sp |= x.dims[i].sp
			if keep {
				out.dims = append(out.dims, dim{c: 1})
			}
		} else {
			out.dims = append(out.dims, x.dims[i])
		}
	}
	if out.dims == nil {
		out.dims = []dim{}
	}
	if sp == 0 || !x.img {
		return out
	}
	if n.OpType != "ReduceMean" {
		a.refuse("%s node %q reduces over the image's %s", n.OpType, name, sides(sp))
		return out
	}
	// A statistic: the tile model will take it as an input, so nothing
	// downstream of it widens the receptive field.
	a.candidate = append(a.candidate, n)
	out.rf, out.rfUnknown = 1, false
	return out
}

// reduceAxes is a Reduce node's axes, normalised and sorted.
func (a *analysis) reduceAxes(n *onnxgraph.Node) []int64 {
	x := a.vals[n.Inputs[0]]
	axes := attrInts(n, "axes")
	if attr(n, "axes") == nil && len(n.Inputs) > 1 {
		axes, _ = a.constInts(n, 1)
	}
	if x == nil || x.dims == nil {
		return axes
	}
	var out []int64
	if len(axes) == 0 {
		for i := range x.dims {
			out = append(out, int64(i))
		}
		return out
	}
	for _, ax := range axes {
		out = append(out, int64(normAxis(ax, len(x.dims))))
	}
	slices.Sort(out)
	return out
}

// resize is Resize and Upsample: scaled by constant factors or to the size
// of another image value, it stays local; to a fixed size it is global.
func (a *analysis) resize(n *onnxgraph.Node, x, out *value) *value {
	name := nodeName(n)
	if x.dims == nil {
		if x.img {
			out.rfUnknown = true
		}
		return out
	}
	out.dims = slices.Clone(x.dims)
	var scales []float32
	var sizes []dim
	switch {
	case n.OpType == "Upsample" && attr(n, "scales") != nil:
		scales = attr(n, "scales").Fs
	case n.OpType == "Upsample" || (n.OpType == "Resize" && a.opset == 10):
		if v := a.in(n, 1); v != nil {
			scales = v.floats
		}
	default:
		if v := a.in(n, 2); v != nil && v.floats != nil && len(v.floats) > 0 {
			scales = v.floats
		}
		if v := a.in(n, 3); v != nil {
			sizes = v.ints
			if sizes == nil && x.img && x.spatial() {
				out.rfUnknown = true
			}
		}
	}
	step := 0.0 // input steps of x one output pixel reads beyond its own
	switch attrString(n, "mode", "nearest") {
	case "linear", "bilinear":
		step = 1
	case "cubic", "bicubic":
		step = 3
	}
	out.rf += step * x.jump()
	for i := range out.dims {
		d := &out.dims[i]
		switch {
		case len(sizes) == len(out.dims):
			s := sizes[i]
			if d.sp != 0 && s.sp == 0 && x.img {
				a.refuse("Resize node %q resizes the image to a fixed %s of %d pixels", name, sides(d.sp), s.c)
			}
			*d = s
			if d.sp != 0 && d.jump == 0 {
				out.rfUnknown = true
			}
		case len(scales) == len(out.dims):
			if scales[i] != 1 {
				d.c = unk
				if d.sp != 0 && scales[i] > 0 {
					d.jump /= float64(scales[i])
				}
			}
		default:
			if d.sp != 0 {
				d.c = unk
				out.rfUnknown = true
			}
		}
	}
	a.resample(n, x, out)
	return out
}

// gather follows Gather on shape vectors (Shape -> Gather -> Unsqueeze is
// how PyTorch exports read one side) and refuses picking fixed positions
// along an image axis.
func (a *analysis) gather(n *onnxgraph.Node, x, out *value) *value {
	idx := a.in(n, 1)
	ax := attrInt(n, "axis", 0)
	if x.ints != nil && idx != nil && idx.ints != nil && ax == 0 {
		for _, i := range idx.ints {
			k := clampIndex(i.c, len(x.ints))
			if i.c == unk || i.c < 0 && i.c+int64(len(x.ints)) < 0 || k >= len(x.ints) || i.sp != 0 {
				return out
			}
			out.ints = append(out.ints, x.ints[k])
		}
		out.dims = idx.dims
		if out.dims == nil {
			out.dims = []dim{{c: int64(len(out.ints))}}
		}
		return out
	}
	if x.dims == nil || idx == nil || idx.dims == nil {
		if x.img {
			a.refuse("Gather node %q: cannot tell which axis it picks from", nodeName(n))
		}
		return out
	}
	k := normAxis(ax, len(x.dims))
	if k < 0 {
		return out
	}
	if x.img && x.dims[k].sp != 0 {
		a.refuse("Gather node %q picks fixed positions along the image's %s", nodeName(n), sides(x.dims[k].sp))
	}
	out.dims = append(append(slices.Clone(x.dims[:k]), idx.dims...), x.dims[k+1:]...)
	return out
}

// slice follows Slice: on shape vectors it slices the elements; on an
// image axis a crop measured from the edges (PyTorch's reflect padding
// trims, the built-in model's quadrant shifts) is local, a crop to a
// fixed size or a reversal is not.
func (a *analysis) slice(n *onnxgraph.Node, x, out *value) *value {
	var starts, ends, axes, steps []int64
	var ok bool
	if a.opset < 10 {
		starts, ends, axes = attrInts(n, "starts"), attrInts(n, "ends"), attrInts(n, "axes")
		ok = starts != nil && ends != nil
	} else {
		var ok1, ok2 bool
		starts, ok1 = a.constInts(n, 1)
		ends, ok2 = a.constInts(n, 2)
		ok = ok1 && ok2
		if len(n.Inputs) > 3 && n.Inputs[3] != "" {
			axes, _ = a.constInts(n, 3)
		}
		if len(n.Inputs) > 4 && n.Inputs[4] != "" {
			steps, _ = a.constInts(n, 4)
		}
	}
	if !ok || len(starts) != len(ends) {
		if x.img && x.spatial() {
			a.refuse("Slice node %q: its bounds are computed, so the tiling analysis cannot tell what it crops", nodeName(n))
		}
		if x.dims != nil {
			out.dims = slices.Clone(x.dims)
			for i := range out.dims {
				out.dims[i].c = unk
			}
		}
		return out
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if x.ints != nil && len(axes) == 1 && normAxis(axes[0], 1) == 0 && (steps == nil || steps[0] == 1) {
		s, e := clampIndex(starts[0], len(x.ints)), clampIndex(min(ends[0], int64(len(x.ints))), len(x.ints))
		if e >= s {
			out.ints = slices.Clone(x.ints[s:e])
			out.dims = []dim{{c: int64(len(out.ints))}}
			return out
		}
	}
	if x.dims == nil {
		return out
	}
	out.dims = slices.Clone(x.dims)
	shift := 0.0
	defer func() { out.rf += shift }()
	for i, ax := range axes {
		k := normAxis(ax, len(x.dims))
		if k < 0 {
			return out
		}
		d := &out.dims[k]
		st := int64(1)
		if i < len(steps) {
			st = steps[i]
		}
		if d.sp == 0 {
			d.c = unk
			if x.dims[k].c >= 0 && st == 1 {
				s, e := clampIndex(starts[i], int(x.dims[k].c)), clampIndex(min(ends[i], x.dims[k].c), int(x.dims[k].c))
				d.c = int64(max(0, e-s))
			}
			continue
		}
		d.c = unk
		if !x.img {
			continue
		}
		switch {
		case st < 0:
			a.refuse("Slice node %q reverses the image's %s", nodeName(n), sides(d.sp))
		case st > 1:
			d.jump *= float64(st)
		}
		if starts[i] > 0 && starts[i] < 1<<16 {
			// A shifted crop, joined with an unshifted one (the built-in
			// model's Kuwahara quadrants), widens the field by the shift.
			shift = max(shift, float64(starts[i])*x.jump())
		}
		edgeRelative := (starts[i] >= 0 && starts[i] < 1<<16) && (bigEnd(ends[i]) || ends[i] < 0)
		if !edgeRelative {
			a.refuse("Slice node %q crops the image's %s to fixed positions", nodeName(n), sides(d.sp))
		}
	}
	return out
}

// reshape follows Reshape with a shape vector whose elements are known:
// copied axes (0) keep what they were, the -1 axis merges what is left.
func (a *analysis) reshape(n *onnxgraph.Node, x, out *value) *value {
	sh := a.in(n, 1)
	if sh == nil || sh.ints == nil {
		if x.ints != nil {
			out.ints = x.ints
		}
		return out
	}
	if x.ints != nil && len(sh.ints) <= 1 {
		out.ints = x.ints
		out.dims = []dim{{c: int64(len(x.ints))}}
		if len(sh.ints) == 0 {
			out.dims = []dim{}
		}
		return out
	}
	allowZero := attrInt(n, "allowzero", 0) == 1
	out.dims = make([]dim, len(sh.ints))
	var used uint8
	minus := -1
	for i, e := range sh.ints {
		switch {
		case e.sp == 0 && e.c == 0 && !allowZero && x.dims != nil && i < len(x.dims):
			out.dims[i] = x.dims[i]
		case e.sp == 0 && e.c == -1:
			minus = i
			continue
		default:
			out.dims[i] = e
		}
		used |= out.dims[i].sp
	}
	if minus >= 0 {
		rest := dim{c: unk}
		if x.dims != nil {
			for _, d := range x.dims {
				rest.sp |= d.sp
			}
			rest.sp &^= used
			if x.dims != nil && !x.spatial() {
				// every size known: compute it
				total, part, known := int64(1), int64(1), true
				for _, d := range x.dims {
					known = known && d.c >= 0
					total *= d.c
				}
				for i, d := range out.dims {
					if i != minus {
						known = known && d.c > 0
						part *= d.c
					}
				}
				if known && part > 0 {
					rest.c = total / part
				}
			}
		} else if x.img {
			rest.sp = spH | spW
		}
		out.dims[minus] = rest
	}
	return out
}
