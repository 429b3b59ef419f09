package modelgen

import (
	"fmt"

	"animegan/onnxgraph"
)

// Range is the value range of a model's image tensors.
type Range int

const (
	// Signed is [-1, 1] (x/127.5 - 1), the AnimeGAN convention.
	Signed Range = iota
	// Unit is [0, 1] (x/255), used by some repackaged models.
	Unit
)

func (r Range) String() string {
	if r == Unit {
		return "0,1"
	}
	return "-1,1"
}

// FixtureKind selects what a fixture model does.
type FixtureKind int

const (
	// SwapInvert is a valid image model that swaps R and B and inverts:
	// out = -x for Signed, out = 1-x for Unit, channel c of the output
	// reading channel 2-c of the input. Exact in float32, so tests can
	// compare pixels exactly, and any layout or range mistake in the caller
	// shows up as wrong colours.
	SwapInvert FixtureKind = iota
	// TwoInputs has two image inputs (Input and Input+"2", same shape);
	// the output is SwapInvert of their sum. A loader must reject it.
	TwoInputs
	// GrayInput has a 1-channel image input; the output is the inverted
	// gray value in all three channels. A loader must reject it.
	GrayInput
	// Int64Input has an int64 image input (cast to float inside, then
	// SwapInvert). A loader must reject it.
	Int64Input
	// GrayOutput has a normal 3-channel input and a 1-channel output (the
	// inverted channel mean). A loader must reject it.
	GrayOutput
	// Multiple16 is SwapInvert that runs only when H and W are multiples
	// of 16: inside it round-trips the image through SpaceToDepth and
	// DepthToSpace with block size 16, which ONNX Runtime rejects at run
	// time for other sizes (like AnimeGANv3 "tiny" models that fail in a
	// broadcast when the size is not a multiple of 16). With a fixed Size
	// that is not a multiple of 16 the model already fails to load.
	Multiple16
	// Slow is SwapInvert plus SlowLayers 32-channel 3x3 convolutions at
	// full resolution whose result is multiplied by zero and added to the
	// output: exact output, cost about SlowLayers x 9.2k MACs per pixel
	// (roughly 15-20 ms per layer at 256x256 on two cores). For timeout
	// tests.
	Slow
)

var fixtureKindNames = map[FixtureKind]string{
	SwapInvert: "swapinvert", TwoInputs: "twoinputs", GrayInput: "grayinput",
	Int64Input: "int64input", GrayOutput: "grayoutput", Multiple16: "multiple16", Slow: "slow",
}

func (k FixtureKind) String() string {
	if s, ok := fixtureKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("FixtureKind(%d)", int(k))
}

// ParseFixtureKind reads a FixtureKind by its String name.
func ParseFixtureKind(s string) (FixtureKind, error) {
	for k := SwapInvert; k <= Slow; k++ {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown fixture kind %q", s)
}

// FixtureSpec describes a fixture model for loader tests.
type FixtureSpec struct {
	Kind   FixtureKind
	Layout Layout
	Range  Range
	// Height and Width fix the image size with batch 1 (e.g. 1x3x64x64);
	// zero means dynamic N, H, W (symbolic "N", "H", "W").
	Height, Width int64
	// Input and Output name the tensors; defaults "input" and "output".
	Input, Output string
	// SlowLayers is the Slow fixture's convolution count (default 64).
	SlowLayers int
	// Metadata is written into metadata_props in this order. Fixtures
	// carry none unless asked, so tests can check both cases.
	Metadata []onnxgraph.KeyValue
}

// Fixture builds a small test model as spec describes; see FixtureKind
// for each kind's behaviour.
func Fixture(spec FixtureSpec) ([]byte, error) {
	if spec.Input == "" {
		spec.Input = "input"
	}
	if spec.Output == "" {
		spec.Output = "output"
	}
	if (spec.Height == 0) != (spec.Width == 0) || spec.Height < 0 || spec.Width < 0 {
		return nil, fmt.Errorf("modelgen: fixture size %dx%d: set both or neither", spec.Height, spec.Width)
	}
	if spec.Layout != NCHW && spec.Layout != NHWC {
		return nil, fmt.Errorf("modelgen: bad layout %v", spec.Layout)
	}
	g := onnxgraph.NewGraph("fixture_" + spec.Kind.String())
	chAxis := int64(1)
	if spec.Layout == NHWC {
		chAxis = 3
	}
	rgb := imageShape(spec.Layout, 3, spec.Height, spec.Width)
	gray := imageShape(spec.Layout, 1, spec.Height, spec.Width)
	invert := func(x string) string {
		if spec.Range == Unit {
			return g.Op("Sub", []string{g.Scalar(1), x})
		}
		return g.Op("Neg", []string{x})
	}
	swapInvert := func(x string) string {
		return invert(g.Op("Gather", []string{x, g.Vec(2, 1, 0)}, onnxgraph.Int("axis", chAxis)))
	}

	var out string
	outShape := rgb
	switch spec.Kind {
	case SwapInvert:
		out = swapInvert(g.Input(spec.Input, onnxgraph.Float, rgb...))
	case TwoInputs:
		a := g.Input(spec.Input, onnxgraph.Float, rgb...)
		b := g.Input(spec.Input+"2", onnxgraph.Float, rgb...)
		out = swapInvert(g.Op("Add", []string{a, b}))
	case GrayInput:
		x := g.Input(spec.Input, onnxgraph.Float, gray...)
		out = invert(g.Op("Concat", []string{x, x, x}, onnxgraph.Int("axis", chAxis)))
	case Int64Input:
		x := g.Input(spec.Input, onnxgraph.Int64, rgb...)
		out = swapInvert(g.Op("Cast", []string{x}, onnxgraph.Int("to", int64(onnxgraph.Float))))
	case GrayOutput:
		x := g.Input(spec.Input, onnxgraph.Float, rgb...)
		out = invert(g.Op("ReduceMean", []string{x}, onnxgraph.Ints("axes", chAxis), onnxgraph.Int("keepdims", 1)))
		outShape = gray
	case Multiple16:
		x := g.Input(spec.Input, onnxgraph.Float, rgb...)
		if spec.Layout == NHWC {
			x = toNCHW(g, x)
		}
		x = g.Op("SpaceToDepth", []string{x}, onnxgraph.Int("blocksize", 16))
		x = g.Op("DepthToSpace", []string{x}, onnxgraph.Int("blocksize", 16), onnxgraph.String("mode", "DCR"))
		if spec.Layout == NHWC {
			x = toNHWC(g, x)
		}
		out = swapInvert(x)
	case Slow:
		in := g.Input(spec.Input, onnxgraph.Float, rgb...)
		x := in
		if spec.Layout == NHWC {
			x = toNCHW(g, x)
		}
		layers := spec.SlowLayers
		if layers <= 0 {
			layers = 64
		}
		// Box-filter weights keep activations bounded, so 0*y stays 0.
		conv := func(x string, cin, cout int64) string {
			w := g.Floats([]int64{cout, cin, 3, 3}, filled(int(cout*cin*9), 1/float32(cin*9))...)
			return g.Op("Conv", []string{x, w}, onnxgraph.Ints("pads", 1, 1, 1, 1))
		}
		y := conv(x, 3, 32)
		for i := 0; i < layers; i++ {
			y = conv(y, 32, 32)
		}
		y = conv(y, 32, 3)
		if spec.Layout == NHWC {
			y = toNHWC(g, y)
		}
		zero := g.Op("Mul", []string{y, g.Scalar(0)})
		out = g.Op("Add", []string{swapInvert(in), zero})
	default:
		return nil, fmt.Errorf("modelgen: unknown fixture kind %v", spec.Kind)
	}
	g.Output(out, spec.Output, onnxgraph.Float, outShape...)

	m := onnxgraph.NewModel(g)
	m.ProducerName, m.ProducerVersion = Producer, ProducerVersion
	m.DocString = fmt.Sprintf("test fixture %s, %s, range %s", spec.Kind, spec.Layout, spec.Range)
	for _, kv := range spec.Metadata {
		m.SetMetadata(kv.Key, kv.Value)
	}
	return m.Marshal()
}
