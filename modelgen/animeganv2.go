package modelgen

import (
	"fmt"

	"animegan/onnxgraph"
)

// AnimeGANv2Params is the parameter count of the AnimeGANv2 generator
// (animegan2-pytorch layer sizes).
const AnimeGANv2Params = 2143552

// AnimeGANv2 builds the AnimeGANv2 generator of the animegan2-pytorch port
// with seeded, untrained weights: the real compute graph for cost
// benchmarks, producing meaningless pictures.
//
// Input "input" and output "output" are float32 images in [-1, 1] with
// dynamic N, H, W: [N,3,H,W] for NCHW, [N,H,W,3] for NHWC (transposed
// inside). The output has the input's size.
//
// Architecture: conv-norm-lrelu units (reflect pad, bias-free conv,
// GroupNorm with one group and per-channel affine, LeakyReLU 0.2).
// Block a: 3→32 7x7, 32→64 3x3 stride 2 (padded right/bottom only), 64→64.
// Block b: 64→128 stride 2, 128→128. Block c: 128→128, four inverted
// residual blocks (128→256, 256→256 x3 with residual add; expansion 2:
// 1x1 unit, 3x3 depthwise unit with conv bias, 1x1 conv, GroupNorm), then
// 256→128. Bilinear align-corners resize to block a's output size,
// block d: 128→128 x2, resize to the input size, block e: 128→64, 64→64,
// 64→32 7x7, then a bias-free 1x1 conv 32→3 and tanh. 2,143,552
// parameters. GroupNorm is written as the PyTorch exporter writes it
// (reshape to [N,1,-1], InstanceNormalization, reshape back, scale and
// shift) so that the cost matches a PyTorch export.
func AnimeGANv2(layout Layout, seed uint64) ([]byte, error) {
	g := onnxgraph.NewGraph("animeganv2")
	b := &v2builder{g: g, r: &rng{s: seed}}
	b.one = g.Op("Constant", nil, onnxgraph.TensorAttr("value", onnxgraph.Tensor{DType: onnxgraph.Float, Dims: []int64{1}, Floats: []float32{1}}))
	b.zero = g.Op("Constant", nil, onnxgraph.TensorAttr("value", onnxgraph.Tensor{DType: onnxgraph.Float, Dims: []int64{1}, Floats: []float32{0}}))
	b.flat = g.Vec(0, 1, -1)

	shape := imageShape(layout, 3, 0, 0)
	in := g.Input("input", onnxgraph.Float, shape...)
	x := in
	if layout == NHWC {
		x = toNCHW(g, x)
	}
	full, same := [4]int64{3, 3, 3, 3}, [4]int64{1, 1, 1, 1}
	down := [4]int64{0, 0, 1, 1} // top, left, bottom, right

	// block a
	y := b.unit(x, 3, 32, 7, 1, full, 1, false)
	y = b.unit(y, 32, 64, 3, 2, down, 1, false)
	half := b.unit(y, 64, 64, 3, 1, same, 1, false)
	// block b
	y = b.unit(half, 64, 128, 3, 2, down, 1, false)
	y = b.unit(y, 128, 128, 3, 1, same, 1, false)
	// block c
	y = b.unit(y, 128, 128, 3, 1, same, 1, false)
	y = b.invertedResidual(y, 128, 256)
	for i := 0; i < 3; i++ {
		y = b.invertedResidual(y, 256, 256)
	}
	y = b.unit(y, 256, 128, 3, 1, same, 1, false)
	y = b.resizeLike(y, half)
	// block d
	y = b.unit(y, 128, 128, 3, 1, same, 1, false)
	y = b.unit(y, 128, 128, 3, 1, same, 1, false)
	y = b.resizeLike(y, x)
	// block e
	y = b.unit(y, 128, 64, 3, 1, same, 1, false)
	y = b.unit(y, 64, 64, 3, 1, same, 1, false)
	y = b.unit(y, 64, 32, 7, 1, full, 1, false)
	y = b.conv(y, 32, 3, 1, 1, 1, false)
	y = g.Op("Tanh", []string{y})
	if layout == NHWC {
		y = toNHWC(g, y)
	}
	g.Output(y, "output", onnxgraph.Float, shape...)

	if n := g.ParamCount(); n != AnimeGANv2Params {
		return nil, fmt.Errorf("modelgen: AnimeGANv2 has %d parameters, want %d", n, AnimeGANv2Params)
	}
	m := onnxgraph.NewModel(g)
	m.ProducerName, m.ProducerVersion = Producer, ProducerVersion
	m.DocString = fmt.Sprintf("AnimeGANv2 generator architecture (animegan2-pytorch layer sizes), %s, seeded untrained weights (seed %d): for cost benchmarks only.", layout, seed)
	m.SetMetadata("animegan.range", "-1,1")
	return m.Marshal()
}

type v2builder struct {
	g               *onnxgraph.Graph
	r               *rng
	one, zero, flat string
}

// conv is a bias-optional convolution without padding.
func (b *v2builder) conv(x string, cin, cout, k, stride, groups int, bias bool) string {
	fanIn := cin / groups * k * k
	bound := kaimingBound(fanIn)
	w := b.g.Floats([]int64{int64(cout), int64(cin / groups), int64(k), int64(k)}, b.r.uniform(cout*fanIn, bound)...)
	ins := []string{x, w}
	if bias {
		ins = append(ins, b.g.Floats([]int64{int64(cout)}, b.r.uniform(cout, bound)...))
	}
	return b.g.Op("Conv", ins,
		onnxgraph.Ints("kernel_shape", int64(k), int64(k)),
		onnxgraph.Ints("strides", int64(stride), int64(stride)),
		onnxgraph.Int("group", int64(groups)))
}

// groupNorm1 is GroupNorm(1, c) with weight 1 and bias 0.
func (b *v2builder) groupNorm1(x string, c int) string {
	g := b.g
	shape := g.Op("Shape", []string{x})
	y := g.Op("Reshape", []string{x, b.flat})
	y = g.Op("InstanceNormalization", []string{y, b.one, b.zero}, onnxgraph.Float32("epsilon", 1e-5))
	y = g.Op("Reshape", []string{y, shape})
	y = g.Op("Mul", []string{y, g.Floats([]int64{int64(c), 1, 1}, filled(c, 1)...)})
	return g.Op("Add", []string{y, g.Floats([]int64{int64(c), 1, 1}, filled(c, 0)...)})
}

// unit is reflect pad, conv, GroupNorm(1), LeakyReLU(0.2). pad is
// top, left, bottom, right.
func (b *v2builder) unit(x string, cin, cout, k, stride int, pad [4]int64, groups int, bias bool) string {
	g := b.g
	if pad != [4]int64{} {
		x = g.Op("Pad", []string{x, g.Vec(0, 0, pad[0], pad[1], 0, 0, pad[2], pad[3])}, onnxgraph.String("mode", "reflect"))
	}
	y := b.conv(x, cin, cout, k, stride, groups, bias)
	y = b.groupNorm1(y, cout)
	return g.Op("LeakyRelu", []string{y}, onnxgraph.Float32("alpha", 0.2))
}

// invertedResidual is the expansion-2 inverted residual block.
func (b *v2builder) invertedResidual(x string, cin, cout int) string {
	mid := 2 * cin
	y := b.unit(x, cin, mid, 1, 1, [4]int64{}, 1, false)
	y = b.unit(y, mid, mid, 3, 1, [4]int64{1, 1, 1, 1}, mid, true)
	y = b.conv(y, mid, cout, 1, 1, 1, false)
	y = b.groupNorm1(y, cout)
	if cin == cout {
		y = b.g.Op("Add", []string{x, y})
	}
	return y
}

// resizeLike resizes x (bilinear, align corners) to ref's height and width.
func (b *v2builder) resizeLike(x, ref string) string {
	g := b.g
	nc := g.Op("Shape", []string{x}, onnxgraph.Int("start", 0), onnxgraph.Int("end", 2))
	hw := g.Op("Shape", []string{ref}, onnxgraph.Int("start", 2), onnxgraph.Int("end", 4))
	sizes := g.Op("Concat", []string{nc, hw}, onnxgraph.Int("axis", 0))
	return g.Op("Resize", []string{x, "", "", sizes},
		onnxgraph.String("mode", "linear"),
		onnxgraph.String("coordinate_transformation_mode", "align_corners"))
}
