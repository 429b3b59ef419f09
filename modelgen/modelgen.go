// Package modelgen builds the ONNX models the project makes itself: the
// built-in cartoon filter (Cartoon), an untrained AnimeGANv2 generator for
// cost benchmarks (AnimeGANv2), and small fixture models for tests of the
// model loader (Fixture). Every builder is deterministic: the same
// arguments give the same bytes.
package modelgen

import (
	"fmt"
	"math"
	"strings"

	"animegan/onnxgraph"
)

// Producer is the producer_name written into every generated model.
const Producer = "animegan-modelgen"

// ProducerVersion is bumped when a generator's output changes on purpose.
const ProducerVersion = "1"

// Layout is the memory order of an image tensor.
type Layout int

const (
	// NCHW is [batch, channels, height, width] (PyTorch exports).
	NCHW Layout = iota
	// NHWC is [batch, height, width, channels] (TensorFlow exports,
	// AnimeGANv3).
	NHWC
)

func (l Layout) String() string {
	switch l {
	case NCHW:
		return "nchw"
	case NHWC:
		return "nhwc"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// ParseLayout reads "nchw" or "nhwc" (any case).
func ParseLayout(s string) (Layout, error) {
	switch strings.ToLower(s) {
	case "nchw":
		return NCHW, nil
	case "nhwc":
		return NHWC, nil
	}
	return 0, fmt.Errorf("unknown layout %q (want nchw or nhwc)", s)
}

// imageShape is the declared shape of an image tensor with c channels:
// symbolic N, H, W when h == 0, else [1, c, h, w] in the layout's order.
func imageShape(l Layout, c, h, w int64) []onnxgraph.Dimension {
	n, hh, ww := onnxgraph.Sym("N"), onnxgraph.Sym("H"), onnxgraph.Sym("W")
	if h > 0 {
		n, hh, ww = onnxgraph.Dim(1), onnxgraph.Dim(h), onnxgraph.Dim(w)
	}
	if l == NHWC {
		return []onnxgraph.Dimension{n, hh, ww, onnxgraph.Dim(c)}
	}
	return []onnxgraph.Dimension{n, onnxgraph.Dim(c), hh, ww}
}

func toNCHW(g *onnxgraph.Graph, x string) string {
	return g.Op("Transpose", []string{x}, onnxgraph.Ints("perm", 0, 3, 1, 2))
}

func toNHWC(g *onnxgraph.Graph, x string) string {
	return g.Op("Transpose", []string{x}, onnxgraph.Ints("perm", 0, 2, 3, 1))
}

// rng is SplitMix64: tiny, seedable, and fixed forever, so seeded weights
// never change with the Go release.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform returns n values uniform in [-bound, bound).
func (r *rng) uniform(n int, bound float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		u := float64(r.next()>>11) / (1 << 53)
		v[i] = float32((2*u - 1) * bound)
	}
	return v
}

func filled(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// kaimingBound is PyTorch's default Conv2d init bound, 1/sqrt(fan_in).
func kaimingBound(fanIn int) float64 { return 1 / math.Sqrt(float64(fanIn)) }
