package modelgen

import (
	"fmt"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/internal/ortest"
	"animegan/onnxgraph"
)

// expectSwapInvert checks y against the fixture transform of x, exactly.
func expectSwapInvert(t *testing.T, x, y []float32, layout Layout, rg Range, n, h, w int) {
	t.Helper()
	if len(y) != len(x) {
		t.Fatalf("output has %d values, want %d", len(y), len(x))
	}
	idx := func(b, c, i, j int) int {
		if layout == NHWC {
			return ((b*h+i)*w+j)*3 + c
		}
		return ((b*3+c)*h+i)*w + j
	}
	for b := 0; b < n; b++ {
		for c := 0; c < 3; c++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					v := x[idx(b, 2-c, i, j)]
					want := -v
					if rg == Unit {
						want = 1 - v
					}
					if got := y[idx(b, c, i, j)]; got != want {
						t.Fatalf("out[%d,c%d,%d,%d] = %v, want %v", b, c, i, j, got, want)
					}
				}
			}
		}
	}
}

func imageInput(layout Layout, rg Range, n, h, w int, seed uint64) ([]float32, []int64) {
	r := &rng{s: seed}
	x := r.uniform(n*h*w*3, 1)
	if rg == Unit {
		for i := range x {
			x[i] = (x[i] + 1) / 2
		}
	}
	if layout == NHWC {
		return x, []int64{int64(n), int64(h), int64(w), 3}
	}
	return x, []int64{int64(n), 3, int64(h), int64(w)}
}

func TestFixtureSwapInvert(t *testing.T) {
	for _, layout := range []Layout{NCHW, NHWC} {
		for _, rg := range []Range{Signed, Unit} {
			for _, fixed := range []bool{false, true} {
				name := fmt.Sprintf("%v_%v_fixed=%v", layout, rg, fixed)
				t.Run(strings.ReplaceAll(name, ",", ".."), func(t *testing.T) {
					spec := FixtureSpec{Layout: layout, Range: rg, Input: "img_in", Output: "img_out"}
					n, h, w := 2, 12, 20
					if fixed {
						spec.Height, spec.Width = 64, 64
						n, h, w = 1, 64, 64
					}
					data, err := Fixture(spec)
					if err != nil {
						t.Fatal(err)
					}
					s := newSession(t, data, 1)
					if s.in[0] != "img_in" || s.out[0] != "img_out" {
						t.Fatalf("names %v -> %v", s.in, s.out)
					}
					ins, _, _ := ort.GetInputOutputInfoWithONNXData(data)
					wantDims := imageDimsForTest(layout, 3, fixed)
					if fmt.Sprint([]int64(ins[0].Dimensions)) != fmt.Sprint(wantDims) {
						t.Errorf("input dims %v, want %v", ins[0].Dimensions, wantDims)
					}
					x, shape := imageInput(layout, rg, n, h, w, 9)
					y, yshape, err := s.run(x, shape...)
					if err != nil {
						t.Fatal(err)
					}
					if fmt.Sprint(yshape) != fmt.Sprint(shape) {
						t.Fatalf("output shape %v, want %v", yshape, shape)
					}
					expectSwapInvert(t, x, y, layout, rg, n, h, w)
				})
			}
		}
	}
}

func imageDimsForTest(l Layout, c int64, fixed bool) []int64 {
	n, h, w := int64(-1), int64(-1), int64(-1)
	if fixed {
		n, h, w = 1, 64, 64
	}
	if l == NHWC {
		return []int64{n, h, w, c}
	}
	return []int64{n, c, h, w}
}

// TestBadFixtures checks that each defective fixture has exactly the
// defect it documents, as ONNX Runtime reports the model.
func TestBadFixtures(t *testing.T) {
	ortest.Init(t)
	cases := []struct {
		kind  FixtureKind
		check func(ins, outs []ort.InputOutputInfo) bool
	}{
		{TwoInputs, func(ins, outs []ort.InputOutputInfo) bool {
			return len(ins) == 2 && ins[1].Name == "input2" && len(outs) == 1
		}},
		{GrayInput, func(ins, outs []ort.InputOutputInfo) bool {
			return len(ins) == 1 && ins[0].Dimensions[1] == 1 && outs[0].Dimensions[1] == 3
		}},
		{Int64Input, func(ins, outs []ort.InputOutputInfo) bool {
			return len(ins) == 1 && ins[0].DataType == ort.TensorElementDataTypeInt64 && outs[0].DataType == ort.TensorElementDataTypeFloat
		}},
		{GrayOutput, func(ins, outs []ort.InputOutputInfo) bool {
			return ins[0].Dimensions[1] == 3 && len(outs) == 1 && outs[0].Dimensions[1] == 1
		}},
	}
	for _, c := range cases {
		t.Run(c.kind.String(), func(t *testing.T) {
			data, err := Fixture(FixtureSpec{Kind: c.kind})
			if err != nil {
				t.Fatal(err)
			}
			ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(ins, outs) {
				t.Errorf("inputs %+v outputs %+v", ins, outs)
			}
		})
	}
	// the gray-output fixture still computes what it says
	data, _ := Fixture(FixtureSpec{Kind: GrayOutput, Layout: NHWC, Range: Unit})
	s := newSession(t, data, 1)
	y, shape, err := s.run([]float32{0.1, 0.2, 0.6, 1, 1, 1}, 1, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(shape) != "[1 1 2 1]" || abs32(y[0]-0.7) > 1e-6 || abs32(y[1]) > 1e-6 {
		t.Errorf("gray output %v %v", shape, y)
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestFixtureMultiple16(t *testing.T) {
	for _, layout := range []Layout{NCHW, NHWC} {
		t.Run(layout.String(), func(t *testing.T) {
			data, err := Fixture(FixtureSpec{Kind: Multiple16, Layout: layout})
			if err != nil {
				t.Fatal(err)
			}
			s := newSession(t, data, 1)
			x, shape := imageInput(layout, Signed, 1, 32, 48, 1)
			y, _, err := s.run(x, shape...)
			if err != nil {
				t.Fatalf("32x48 should run: %v", err)
			}
			expectSwapInvert(t, x, y, layout, Signed, 1, 32, 48)
			for _, hw := range [][2]int{{32, 40}, {24, 32}} {
				x, shape := imageInput(layout, Signed, 1, hw[0], hw[1], 1)
				if _, _, err := s.run(x, shape...); err == nil {
					t.Errorf("%dx%d should fail at run time", hw[0], hw[1])
				} else {
					t.Logf("%dx%d: %v", hw[0], hw[1], err)
				}
			}
		})
	}
}

func TestFixtureSlow(t *testing.T) {
	data, err := Fixture(FixtureSpec{Kind: Slow, Layout: NHWC, Range: Unit, SlowLayers: 4})
	if err != nil {
		t.Fatal(err)
	}
	info, err := onnxgraph.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.OpCounts()["Conv"]; got != 6 {
		t.Errorf("slow fixture with 4 layers has %d convolutions, want 6", got)
	}
	s := newSession(t, data, 1)
	x, shape := imageInput(NHWC, Unit, 1, 16, 24, 4)
	y, _, err := s.run(x, shape...)
	if err != nil {
		t.Fatal(err)
	}
	expectSwapInvert(t, x, y, NHWC, Unit, 1, 16, 24)
}

func TestFixtureSpecErrors(t *testing.T) {
	for _, spec := range []FixtureSpec{
		{Height: 64},
		{Layout: Layout(5)},
		{Kind: FixtureKind(99)},
	} {
		if _, err := Fixture(spec); err == nil {
			t.Errorf("Fixture(%+v) succeeded", spec)
		}
	}
	if _, err := ParseFixtureKind("nope"); err == nil {
		t.Error("ParseFixtureKind accepted nope")
	}
	if k, err := ParseFixtureKind("multiple16"); err != nil || k != Multiple16 {
		t.Errorf("ParseFixtureKind(multiple16) = %v, %v", k, err)
	}
}
