// Package tilegraph decides how an image-to-image ONNX model can be run
// tile by tile, and rewrites it for that. It knows ONNX graphs (through
// onnxgraph), not images or files.
//
// Most layers of an image model look at a bounded neighbourhood of each
// pixel: a tile of the image, with a margin as wide as that
// neighbourhood, gives the same pixels as the whole image. A global
// operation breaks this: a normalisation over the whole image (the
// GroupNorm(1) of PyTorch's AnimeGAN exports, the layer norm of the
// TensorFlow ones) gives every tile statistics of its own, and the picture
// changes from tile to tile. Analyze follows every value of the graph from
// the image input, knowing which of its axes grow with the image's height
// and width (through Transpose, Reshape to [N,1,-1] and back, Shape
// arithmetic, Concat and Slice), so a ReduceMean over channels is told
// from one over the image, in NCHW and NHWC alike.
//
// A model with normalisations the rewrite knows is split in two (URST,
// Chen et al. 2022, "thumbnail instance normalisation"): a statistics
// model (the original graph that also outputs each normalisation's mean
// and variance, computed exactly as the node computes them) run once on a
// thumbnail of the whole image, and a tile model in which each
// normalisation takes that mean and variance as inputs. Any other global
// operation is refused, named.
package tilegraph

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"animegan/onnxgraph"
)

// Mode says how a model can be tiled.
type Mode int

const (
	// Refused: a global operation the rewrite does not know; the model
	// runs whole only (Plan.Reason names the operation).
	Refused Mode = iota
	// Exact: no global operation; tiles of the original model are exact
	// up to the receptive field.
	Exact
	// Thumbnail: normalisations rewritten into a statistics model and a
	// tile model.
	Thumbnail
)

func (m Mode) String() string {
	switch m {
	case Refused:
		return "refused"
	case Exact:
		return "exact"
	case Thumbnail:
		return "thumbnail"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// MarshalText writes the mode's name (inspect --json).
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// The normalisation patterns Analyze recognises (Norm.Pattern).
const (
	PatternGroupNorm    = "GroupNorm(1) as InstanceNormalization"
	PatternInstanceNorm = "InstanceNormalization"
	PatternLayerNorm    = "layer norm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div)"
	PatternMoments      = "layer norm from moments (ReduceMean of x and of x²)"
	PatternLayerNormOp  = "LayerNormalization"
	PatternGroupNormOp  = "GroupNormalization(1)"
)

// Norm is one normalisation found.
type Norm struct {
	Node    string // the node's name (or its output's): InstanceNormalization, or the mean's ReduceMean
	Pattern string // one of the Pattern constants
}

// Plan is what Analyze found, and for Thumbnail mode the two models.
type Plan struct {
	Mode   Mode
	Reason string // Refused: which operation, and why
	Layout string // "NCHW" or "NHWC": where the image input keeps its channels
	Norms  []Norm
	// ReceptiveField is how many input pixels one output pixel depends on,
	// on each side, traced from the graph (see receptiveField); -1 when an
	// operator on the way could not be traced.
	ReceptiveField int
	// Stats and Tile are serialized ONNX models (Thumbnail mode only, and
	// only from Analyze): Stats is the original graph with StatsOutputs
	// added after the original output; Tile takes TileInputs after the
	// image. Both keep the original input and output names and metadata.
	Stats, Tile  []byte
	StatsOutputs []string // mean_0, var_0, mean_1, ... (their real names)
	TileInputs   []string // the same names, in the same order
	// StatShapes is each statistic's shape, in StatsOutputs' order; -1 for
	// an axis the graph leaves symbolic (the batch).
	StatShapes [][]int64
	// Resamples are the Resizes the tile model samples at the whole
	// image's coordinates (align_corners; see Resample): each takes its
	// region of interest from an input after TileInputs. With any, Tile is
	// written in Exact mode too.
	Resamples []Resample
}

// Analyze reads an ONNX model and finds how it can be tiled, writing the
// statistics and tile models when it can be tiled with thumbnail
// statistics. Its error is only for data that is not a readable ONNX
// graph with one image input; a model that cannot be tiled is a Plan in
// Refused mode.
func Analyze(data []byte) (*Plan, error) {
	info, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return nil, err
	}
	a, p, err := analyze(info)
	if err != nil || p.Mode == Refused || (p.Mode == Exact && len(p.Resamples) == 0) {
		return p, err
	}
	if p.Mode == Thumbnail {
		if p.Stats, err = a.writeStats(data); err != nil {
			return nil, fmt.Errorf("writing the statistics model: %w", err)
		}
	}
	if p.Tile, err = a.writeTile(data); err != nil {
		return nil, fmt.Errorf("writing the tile model: %w", err)
	}
	return p, nil
}

// Summarize is Analyze on a graph already read, without writing the two
// models: what `inspect` prints. It does not change info.
func Summarize(info *onnxgraph.Info) (*Plan, error) {
	_, p, err := analyze(info)
	return p, err
}

func analyze(info *onnxgraph.Info) (*analysis, *Plan, error) {
	a, err := newAnalysis(info)
	if err != nil {
		return nil, nil, err
	}
	a.walk()
	a.pair()
	p := &Plan{Layout: a.layout, ReceptiveField: a.receptiveField()}
	for _, f := range a.norms {
		p.Norms = append(p.Norms, f.Norm)
	}
	switch {
	case a.refusal != "":
		p.Mode, p.Reason = Refused, a.refusal
	case len(a.norms) == 0:
		p.Mode = Exact
	default:
		p.Mode = Thumbnail
	}
	if p.Mode != Refused {
		a.nameInputs(p)
	}
	return a, p, nil
}

// receptiveField is the traced receptive field at the graph's first
// output, on each side: (size-1)/2 rounded up. Each Conv or pool widens it
// by (kernel-1)·dilation input steps of its input, and multiplies the step
// by its stride; ConvTranspose and Resize divide the step by their factor,
// and an interpolating Resize reads one (linear) or three (cubic) more
// steps. Pads only shift the window, so they are left out; two branches
// joined by Add or Concat take the wider field. The figure is the
// theoretical bound: the weights of a deep network fall off long before it
// (README "How a model is tiled" gives the measured effective field).
func (a *analysis) receptiveField() int {
	if len(a.g.Outputs) == 0 {
		return -1
	}
	v := a.vals[a.g.Outputs[0].Name]
	if v == nil || v.rfUnknown {
		return -1
	}
	return int(math.Ceil((v.rf - 1) / 2))
}

// instanceNorm records an InstanceNormalization over image axes.
func (a *analysis) instanceNorm(n *onnxgraph.Node, x *value) {
	pattern := PatternInstanceNorm
	if p := a.producer[n.Inputs[0]]; p != nil && p.OpType == "Reshape" && x.dims != nil && len(x.dims) == 3 && x.dims[1].c == 1 {
		pattern = PatternGroupNorm
	}
	f := &found{Norm: Norm{Node: nodeName(n), Pattern: pattern}, kind: instanceNorm, node: n, x: n.Inputs[0], order: len(a.index) - 1}
	for i := 2; i < len(x.dims); i++ {
		f.axes = append(f.axes, int64(i))
	}
	f.stat = slices.Clone(x.dims)
	for i := 2; i < len(f.stat); i++ {
		f.stat[i] = dim{c: 1}
	}
	a.norms = append(a.norms, f)
}

// opNorm records a LayerNormalization or a one-group GroupNormalization
// over image axes.
func (a *analysis) opNorm(n *onnxgraph.Node, x *value, axes []int) {
	pattern := PatternLayerNormOp
	if n.OpType == "GroupNormalization" {
		pattern = PatternGroupNormOp
	}
	f := &found{Norm: Norm{Node: nodeName(n), Pattern: pattern}, kind: opNorm, node: n, x: n.Inputs[0], order: len(a.index) - 1}
	f.stat = slices.Clone(x.dims)
	for _, ax := range axes {
		f.axes = append(f.axes, int64(ax))
		f.stat[ax] = dim{c: 1}
	}
	a.norms = append(a.norms, f)
}

// pair matches the ReduceMeans over image axes into layer norms: a mean
// m = ReduceMean(x) and a second moment over the same axes of either
// (x-m)² (Pow(Sub(x,m),2) or Mul of the difference by itself) or x². A
// ReduceMean left over is refused.
func (a *analysis) pair() {
	used := map[*onnxgraph.Node]bool{}
	isMean := func(name string) *onnxgraph.Node {
		p := a.producer[name]
		if p != nil && p.OpType == "ReduceMean" && slices.Contains(a.candidate, p) {
			return p
		}
		return nil
	}
	for _, v := range a.candidate {
		sq := a.producer[v.Inputs[0]]
		if sq == nil {
			continue
		}
		var base string // the value squared
		switch sq.OpType {
		case "Pow":
			if e := a.in(sq, 1); e != nil && len(e.floats) == 1 && e.floats[0] == 2 {
				base = sq.Inputs[0]
			} else if e != nil && len(e.ints) == 1 && e.ints[0].c == 2 {
				base = sq.Inputs[0]
			}
		case "Mul":
			if sq.Inputs[0] == sq.Inputs[1] {
				base = sq.Inputs[0]
			}
		}
		if base == "" {
			continue
		}
		// (x - m)²: base is Sub(x, m) or Sub(m, x)
		if d := a.producer[base]; d != nil && d.OpType == "Sub" {
			for k := 0; k < 2; k++ {
				m := isMean(d.Inputs[k])
				if m == nil || m == v || used[m] || m.Inputs[0] != d.Inputs[1-k] || !slices.Equal(a.reduceAxes(m), a.reduceAxes(v)) {
					continue
				}
				a.addLayerNorm(m, v, meanVar)
				used[m], used[v] = true, true
				break
			}
			if used[v] {
				continue
			}
		}
		// x²: a mean of x over the same axes
		for _, m := range a.candidate {
			if m != v && !used[m] && m.Inputs[0] == base && slices.Equal(a.reduceAxes(m), a.reduceAxes(v)) {
				a.addLayerNorm(m, v, meanMoment)
				used[m], used[v] = true, true
				break
			}
		}
	}
	for _, c := range a.candidate {
		if !used[c] {
			x := a.vals[c.Inputs[0]]
			var sp uint8
			for _, ax := range a.reduceAxes(c) {
				if x != nil && int(ax) < len(x.dims) {
					sp |= x.dims[ax].sp
				}
			}
			a.refuse("ReduceMean node %q averages over the image's %s outside a known normalisation pattern", nodeName(c), sides(sp))
			break
		}
	}
	slices.SortFunc(a.norms, func(p, q *found) int { return p.order - q.order })
}

func (a *analysis) addLayerNorm(m, v *onnxgraph.Node, kind normKind) {
	pattern := PatternLayerNorm
	if kind == meanMoment {
		pattern = PatternMoments
	}
	f := &found{Norm: Norm{Node: nodeName(m), Pattern: pattern}, kind: kind, node: m, vnode: v, x: m.Inputs[0], axes: a.reduceAxes(m), order: a.index[m]}
	f.stat = a.vals[m.Outputs[0]].dims
	a.norms = append(a.norms, f)
}

// nameInputs names the tile model's extra inputs: mean_k and var_k for
// the statistics, roi_k for the Resamples, with a prefix the graph does
// not use.
func (a *analysis) nameInputs(p *Plan) {
	used := func(s string) bool {
		if _, ok := a.vals[s]; ok {
			return true
		}
		return slices.ContainsFunc(a.g.Outputs, func(v onnxgraph.ValueInfo) bool { return v.Name == s })
	}
	prefix := "tile_stats."
	for k := 0; ; k++ {
		clash := false
		for i := range a.norms {
			if used(fmt.Sprintf("%smean_%d", prefix, i)) || used(fmt.Sprintf("%svar_%d", prefix, i)) {
				clash = true
			}
		}
		for i := range a.resamples {
			if used(fmt.Sprintf("%sroi_%d", prefix, i)) {
				clash = true
			}
		}
		if !clash {
			break
		}
		prefix = fmt.Sprintf("tile_stats%d.", k)
	}
	for i, f := range a.norms {
		shape := make([]int64, len(f.stat))
		for k, d := range f.stat {
			shape[k] = d.c
			if d.c < 0 {
				shape[k] = -1
			}
		}
		p.StatsOutputs = append(p.StatsOutputs, fmt.Sprintf("%smean_%d", prefix, i), fmt.Sprintf("%svar_%d", prefix, i))
		p.StatShapes = append(p.StatShapes, shape, shape)
	}
	p.TileInputs = slices.Clone(p.StatsOutputs)
	a.statNames = p.StatsOutputs
	for i, r := range a.resamples {
		r.Input = fmt.Sprintf("%sroi_%d", prefix, i)
		a.roiNames = append(a.roiNames, r.Input)
		p.Resamples = append(p.Resamples, r.Resample)
	}
}

// String is a one-line summary for logs.
func (p *Plan) String() string {
	switch p.Mode {
	case Refused:
		return "refused: " + p.Reason
	case Exact:
		return fmt.Sprintf("exact (no global operation), receptive field %d px", p.ReceptiveField)
	}
	counts := map[string]int{}
	var order []string
	for _, n := range p.Norms {
		if counts[n.Pattern] == 0 {
			order = append(order, n.Pattern)
		}
		counts[n.Pattern]++
	}
	var parts []string
	for _, pat := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[pat], pat))
	}
	return fmt.Sprintf("thumbnail statistics: %s; receptive field %d px", strings.Join(parts, ", "), p.ReceptiveField)
}
