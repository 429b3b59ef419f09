package modelgen

import (
	"fmt"
	"math"

	"animegan/onnxgraph"
)

// Names of the built-in model's input and output (AnimeGANv3 convention).
const (
	CartoonInput  = "input_image"
	CartoonOutput = "output_image"
)

// cartoonParams are the filter's tuning knobs.
type cartoonParams struct {
	radii      []int64 // Kuwahara passes, quadrant radius of each
	sharpness  float32 // softmax sharpness over -variance, relative to the local mean variance
	lumaLevels float32 // luma posterisation levels over [0,1]
	chromaStep float32 // chroma posterisation step
	quantSharp float32 // steepness of the soft staircase (sigmoid gain)
	saturation float32 // chroma gain
	edgeLow    float32 // Sobel magnitude where outlines start
	edgeGain   float32 // sigmoid gain of the outline threshold
	edgeDark   float32 // how dark outlines get (0 none, 1 black)
}

var defaultCartoon = cartoonParams{
	radii:      []int64{3, 2},
	sharpness:  4,
	lumaLevels: 6,
	chromaStep: 0.1,
	quantSharp: 12,
	saturation: 1.25,
	edgeLow:    0.14,
	edgeGain:   30,
	edgeDark:   0.85,
}

// Cartoon builds the product's built-in default model: a classic cartoon
// filter written as an ONNX graph (no trained weights).
//
//  1. Edge-preserving smoothing: two Kuwahara passes (quadrant radii 3 then
//     2). Means of x and x² over the four overlapping quadrant windows come
//     from one AveragePool of the reflect-padded image; each pixel takes a
//     softmax-weighted mix of the quadrant means, weighted towards the
//     quadrants of least colour variance, so regions flatten while edges
//     stay sharp.
//  2. Colour quantisation: luma is posterised into 6 levels and chroma
//     (RGB minus luma) in steps of 0.1, both with a soft staircase
//     (floor plus a steep sigmoid of the fractional part) that keeps
//     transitions continuous instead of banding hard; chroma is boosted
//     by 1.25.
//  3. Outlines: a Sobel gradient of the smoothed luma, thresholded with a
//     sigmoid, darkens the picture along strong edges.
//
// Input "input_image" and output "output_image" are NHWC float32
// [N,H,W,3] RGB in [-1,1] with symbolic N, H, W; any H, W >= 8 works and
// the output has the input's shape. Metadata: animegan.range=-1,1,
// animegan.multiple=8.
func Cartoon() ([]byte, error) { return cartoon(defaultCartoon) }

func cartoon(p cartoonParams) ([]byte, error) {
	g := onnxgraph.NewGraph("cartoon")
	shape := imageShape(NHWC, 3, 0, 0)
	in := g.Input(CartoonInput, onnxgraph.Float, shape...)
	half := g.Scalar(0.5)

	// [-1,1] NHWC -> [0,1] NCHW
	x := toNCHW(g, in)
	x = g.Op("Add", []string{g.Op("Mul", []string{x, half}), half})

	s := x
	for _, r := range p.radii {
		s = kuwahara(g, s, r, p.sharpness)
	}

	// luma and chroma of the smoothed image
	lumaW := g.Floats([]int64{1, 3, 1, 1}, 0.299, 0.587, 0.114)
	y := g.Op("Conv", []string{s, lumaW})
	chroma := g.Op("Sub", []string{s, y})

	yq := softQuant(g, y, 1/p.lumaLevels, p.quantSharp)
	cq := softQuant(g, chroma, p.chromaStep, p.quantSharp)
	cq = g.Op("Mul", []string{cq, g.Scalar(p.saturation)})
	out := g.Op("Add", []string{yq, cq})

	// outlines: Sobel on the smoothed luma, magnitude in units of the
	// step height (a step edge of contrast d gives d)
	yp := g.Op("Pad", []string{y, g.Vec(0, 0, 1, 1, 0, 0, 1, 1)}, onnxgraph.String("mode", "edge"))
	sobel := g.Floats([]int64{2, 1, 3, 3},
		-0.25, 0, 0.25, -0.5, 0, 0.5, -0.25, 0, 0.25,
		-0.25, -0.5, -0.25, 0, 0, 0, 0.25, 0.5, 0.25)
	gxy := g.Op("Conv", []string{yp, sobel})
	g2 := g.Op("ReduceSum", []string{g.Op("Mul", []string{gxy, gxy}), g.Vec(1)}, onnxgraph.Int("keepdims", 1))
	mag := g.Op("Sqrt", []string{g.Op("Add", []string{g2, g.Scalar(1e-8)})})
	edge := g.Op("Sigmoid", []string{g.Op("Mul", []string{g.Op("Sub", []string{mag, g.Scalar(p.edgeLow)}), g.Scalar(p.edgeGain)})})
	keep := g.Op("Sub", []string{g.Scalar(1), g.Op("Mul", []string{edge, g.Scalar(p.edgeDark)})})
	out = g.Op("Mul", []string{out, keep})

	// [0,1] NCHW -> [-1,1] NHWC, clipped
	out = g.Op("Sub", []string{g.Op("Mul", []string{out, g.Scalar(2)}), g.Scalar(1)})
	out = g.Op("Clip", []string{out, g.Scalar(-1), g.Scalar(1)})
	out = toNHWC(g, out)
	g.Output(out, CartoonOutput, onnxgraph.Float, shape...)

	m := onnxgraph.NewModel(g)
	m.ProducerName, m.ProducerVersion = Producer, ProducerVersion
	m.DocString = fmt.Sprintf("Built-in cartoon filter (not a neural network): %d-pass Kuwahara edge-preserving smoothing, "+
		"soft posterisation of luma (%g levels) and chroma, dark Sobel outlines. NHWC RGB in [-1,1].", len(p.radii), p.lumaLevels)
	m.SetMetadata("animegan.range", "-1,1")
	m.SetMetadata("animegan.multiple", "8")
	return m.Marshal()
}

// kuwahara is one soft Kuwahara pass with quadrant radius r over an NCHW
// image x [N,3,H,W]. H and W must exceed r (reflect padding).
func kuwahara(g *onnxgraph.Graph, x string, r int64, sharpness float32) string {
	p := g.Op("Pad", []string{x, g.Vec(0, 0, r, r, 0, 0, r, r)}, onnxgraph.String("mode", "reflect"))
	both := g.Op("Concat", []string{p, g.Op("Mul", []string{p, p})}, onnxgraph.Int("axis", 1))
	// means over (r+1)x(r+1) windows: m[i,j] covers padded rows i..i+r,
	// i.e. original rows i-r..i, so the four quadrants of pixel (i,j)
	// are m[i,j], m[i,j+r], m[i+r,j], m[i+r,j+r]. Shape [N,6,H+r,W+r].
	m := g.Op("AveragePool", []string{both}, onnxgraph.Ints("kernel_shape", r+1, r+1))
	const big = math.MaxInt64
	var quads []string
	for _, off := range [][2]int64{{0, 0}, {0, r}, {r, 0}, {r, r}} {
		starts := g.Vec(off[0], off[1])
		endOf := func(o int64) int64 {
			if o == 0 {
				return -r
			}
			return big
		}
		q := g.Op("Slice", []string{m, starts, g.Vec(endOf(off[0]), endOf(off[1])), g.Vec(2, 3)})
		quads = append(quads, g.Op("Unsqueeze", []string{q, g.Vec(1)}))
	}
	st := g.Op("Concat", quads, onnxgraph.Int("axis", 1)) // [N,4,6,H,W]
	mean := g.Op("Slice", []string{st, g.Vec(0), g.Vec(3), g.Vec(2)})
	ex2 := g.Op("Slice", []string{st, g.Vec(3), g.Vec(6), g.Vec(2)})
	v := g.Op("Sub", []string{ex2, g.Op("Mul", []string{mean, mean})})
	v = g.Op("ReduceSum", []string{v, g.Vec(2)}, onnxgraph.Int("keepdims", 1)) // [N,4,1,H,W]
	// Scale-free weights: variance relative to the mean of the four
	// quadrants' variances (plus a floor so flat areas average evenly).
	vm := g.Op("ReduceMean", []string{v}, onnxgraph.Ints("axes", 1), onnxgraph.Int("keepdims", 1)) // axes is an attribute before opset 18
	vm = g.Op("Add", []string{vm, g.Scalar(1e-4)})
	logits := g.Op("Mul", []string{g.Op("Div", []string{v, vm}), g.Scalar(-sharpness)})
	w := g.Op("Softmax", []string{logits}, onnxgraph.Int("axis", 1))
	return g.Op("ReduceSum", []string{g.Op("Mul", []string{w, mean}), g.Vec(1)}, onnxgraph.Int("keepdims", 0))
}

// softQuant snaps x towards multiples of step with a continuous soft
// staircase: step * (floor(t) + sigmoid(gain*(frac(t)-0.5))), t = x/step.
func softQuant(g *onnxgraph.Graph, x string, step, gain float32) string {
	t := g.Op("Div", []string{x, g.Scalar(step)})
	fl := g.Op("Floor", []string{t})
	fr := g.Op("Sub", []string{t, fl})
	s := g.Op("Sigmoid", []string{g.Op("Mul", []string{g.Op("Sub", []string{fr, g.Scalar(0.5)}), g.Scalar(gain)})})
	return g.Op("Mul", []string{g.Op("Add", []string{fl, s}), g.Scalar(step)})
}
