package modelgen

import (
	"fmt"

	"animegan/onnxgraph"
)

// LayerNormNet builds a small NHWC generator normalised the way
// TensorFlow exports (tf2onnx) write it, for tests of the tile rewrite:
// Transposes around each Conv, and normalisations spelt out as
// ReduceMean -> Sub -> Pow(2) -> ReduceMean -> Add eps -> Sqrt -> Div
// (a layer norm over H, W and C) and as ReduceMean -> Sub -> Mul(d,d) ->
// ReduceMean -> Add eps -> Sqrt -> Reciprocal -> Mul (an instance norm over
// H and W, per channel), each followed by a per-channel scale and shift.
// Seeded, untrained weights; input "input" and output "output" are
// [N,H,W,3] in [-1,1], any size.
func LayerNormNet(seed uint64) ([]byte, error) {
	g := onnxgraph.NewGraph("layernorm_net")
	r := &rng{s: seed}
	shape := imageShape(NHWC, 3, 0, 0)
	x := g.Input("input", onnxgraph.Float, shape...)
	conv := func(x string, cin, cout, k int) string {
		bound := kaimingBound(cin * k * k)
		w := g.Floats([]int64{int64(cout), int64(cin), int64(k), int64(k)}, r.uniform(cout*cin*k*k, bound)...)
		b := g.Floats([]int64{int64(cout)}, r.uniform(cout, bound)...)
		p := int64(k / 2)
		y := g.Op("Conv", []string{toNCHW(g, x), w, b}, onnxgraph.Ints("kernel_shape", int64(k), int64(k)), onnxgraph.Ints("pads", p, p, p, p))
		return toNHWC(g, y)
	}
	affine := func(y string, c int) string {
		y = g.Op("Mul", []string{y, g.Floats([]int64{int64(c)}, r.uniform(c, 1)...)})
		return g.Op("Add", []string{y, g.Floats([]int64{int64(c)}, r.uniform(c, 0.5)...)})
	}
	mean := func(x string, axes ...int64) string {
		return g.Op("ReduceMean", []string{x}, onnxgraph.Ints("axes", axes...), onnxgraph.Int("keepdims", 1))
	}
	layerNorm := func(x string, c int) string {
		m := mean(x, 1, 2, 3)
		d := g.Op("Sub", []string{x, m})
		v := mean(g.Op("Pow", []string{d, g.Scalar(2)}), 1, 2, 3)
		s := g.Op("Sqrt", []string{g.Op("Add", []string{v, g.Scalar(1e-5)})})
		return affine(g.Op("Div", []string{d, s}), c)
	}
	instanceNorm := func(x string, c int) string {
		m := mean(x, 1, 2)
		d := g.Op("Sub", []string{x, m})
		v := mean(g.Op("Mul", []string{d, d}), 1, 2)
		inv := g.Op("Reciprocal", []string{g.Op("Sqrt", []string{g.Op("Add", []string{v, g.Scalar(1e-3)})})})
		return affine(g.Op("Mul", []string{d, inv}), c)
	}
	lrelu := func(x string) string { return g.Op("LeakyRelu", []string{x}, onnxgraph.Float32("alpha", 0.2)) }
	y := lrelu(layerNorm(conv(x, 3, 16, 3), 16))
	y = lrelu(instanceNorm(conv(y, 16, 16, 3), 16))
	y = lrelu(layerNorm(conv(y, 16, 16, 3), 16))
	y = g.Op("Tanh", []string{conv(y, 16, 3, 3)})
	g.Output(y, "output", onnxgraph.Float, shape...)
	m := onnxgraph.NewModel(g)
	m.ProducerName, m.ProducerVersion = Producer, ProducerVersion
	m.DocString = fmt.Sprintf("Small NHWC generator with TensorFlow-style layer and instance norms, seeded untrained weights (seed %d): for tests of tiling.", seed)
	m.SetMetadata("animegan.range", "-1,1")
	return m.Marshal()
}
