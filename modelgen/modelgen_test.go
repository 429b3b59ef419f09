package modelgen

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"sort"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/internal/ortest"
	"animegan/model/builtin"
	"animegan/onnxgraph"
)

func TestDeterministicBytes(t *testing.T) {
	builds := map[string]func() ([]byte, error){
		"cartoon":         Cartoon,
		"animeganv2-nchw": func() ([]byte, error) { return AnimeGANv2(NCHW, 7) },
		"animeganv2-nhwc": func() ([]byte, error) { return AnimeGANv2(NHWC, 7) },
		"fixture":         func() ([]byte, error) { return Fixture(FixtureSpec{Layout: NHWC, Range: Unit}) },
		"fixture-slow":    func() ([]byte, error) { return Fixture(FixtureSpec{Kind: Slow, SlowLayers: 3}) },
	}
	names := make([]string, 0, len(builds))
	for n := range builds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			a, err := builds[name]()
			if err != nil {
				t.Fatal(err)
			}
			b, err := builds[name]()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatal("two builds differ")
			}
		})
	}
	a, _ := AnimeGANv2(NCHW, 1)
	b, _ := AnimeGANv2(NCHW, 2)
	if bytes.Equal(a, b) {
		t.Error("different seeds give the same model")
	}
}

func TestBuiltinEqualsEmbedded(t *testing.T) {
	got, err := Cartoon()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, builtin.Cartoon) {
		t.Fatalf("model/builtin/cartoon.onnx is stale (%d bytes, Cartoon() gives %d): run go generate ./model/builtin", len(builtin.Cartoon), len(got))
	}
}

func TestCartoonHeader(t *testing.T) {
	ortest.Init(t)
	info, err := onnxgraph.Inspect(builtin.Cartoon)
	if err != nil {
		t.Fatal(err)
	}
	if info.ProducerName != Producer || info.DocString == "" ||
		info.Meta("animegan.range") != "-1,1" || info.Meta("animegan.multiple") != "8" {
		t.Errorf("header: producer %q doc %q metadata %v", info.ProducerName, info.DocString, info.Metadata)
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(builtin.Cartoon)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]int64{-1, -1, -1, 3})
	if len(ins) != 1 || ins[0].Name != CartoonInput || fmt.Sprint([]int64(ins[0].Dimensions)) != want ||
		len(outs) != 1 || outs[0].Name != CartoonOutput || fmt.Sprint([]int64(outs[0].Dimensions)) != want {
		t.Errorf("io: %+v -> %+v", ins, outs)
	}
	if builtin.Input != CartoonInput || builtin.Output != CartoonOutput {
		t.Error("builtin names disagree with modelgen")
	}
}

func TestCartoonShapes(t *testing.T) {
	s := newSession(t, builtin.Cartoon, 2)
	r := &rng{s: 3}
	for _, sz := range [][3]int64{{1, 8, 8}, {1, 37, 53}, {2, 16, 24}, {1, 9, 130}} {
		t.Run(fmt.Sprint(sz), func(t *testing.T) {
			n := int(sz[0] * sz[1] * sz[2] * 3)
			x := r.uniform(n, 1)
			y, shape, err := s.run(x, sz[0], sz[1], sz[2], 3)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(shape) != fmt.Sprint([]int64{sz[0], sz[1], sz[2], 3}) {
				t.Fatalf("shape %v", shape)
			}
			for i, v := range y {
				if !(v >= -1 && v <= 1) {
					t.Fatalf("y[%d] = %v outside [-1,1]", i, v)
				}
			}
		})
	}
}

// photoLike is a synthetic photo: a lit gradient background with a red
// rectangle, a green disc and a blue ellipse, plus uniform noise. It
// returns the NHWC [-1,1] image and each pixel's region (0 background).
func photoLike(h, w int) ([]float32, []int) {
	r := &rng{s: 42}
	noise := r.uniform(h*w*3, 0.05)
	x := make([]float32, h*w*3)
	region := make([]int, h*w)
	colours := [][3]float64{{}, {0.8, 0.2, 0.15}, {0.25, 0.65, 0.3}, {0.3, 0.45, 0.9}}
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			fi, fj := float64(i)/float64(h), float64(j)/float64(w)
			reg := 0
			switch {
			case fi > 0.1 && fi < 0.45 && fj > 0.1 && fj < 0.5:
				reg = 1
			case math.Hypot(fi-0.7, fj-0.3) < 0.18:
				reg = 2
			case math.Pow((fi-0.6)/0.3, 2)+math.Pow((fj-0.75)/0.15, 2) < 1:
				reg = 3
			}
			c := colours[reg]
			if reg == 0 {
				c = [3]float64{0.8 + 0.15*fj, 0.85, 0.9 - 0.15*fi}
			}
			region[i*w+j] = reg
			for k := 0; k < 3; k++ {
				v := c[k] + float64(noise[(i*w+j)*3+k])
				x[(i*w+j)*3+k] = float32(2*math.Max(0, math.Min(1, v)) - 1)
			}
		}
	}
	return x, region
}

func luma(x []float32, p int) float64 {
	u := func(v float32) float64 { return (float64(v) + 1) / 2 }
	return 0.299*u(x[3*p]) + 0.587*u(x[3*p+1]) + 0.114*u(x[3*p+2])
}

func distinctColours(x []float32) int {
	seen := map[[3]uint8]bool{}
	for p := 0; p+2 < len(x); p += 3 {
		seen[[3]uint8{to8(x[p]), to8(x[p+1]), to8(x[p+2])}] = true
	}
	return len(seen)
}

func TestCartoonEffect(t *testing.T) {
	const h, w = 160, 192
	x, region := photoLike(h, w)
	s := newSession(t, builtin.Cartoon, 2)
	y, _, err := s.run(x, 1, h, w, 3)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MODELGEN_VISUAL") != "" {
		writePNG(t, os.Getenv("MODELGEN_VISUAL")+"/synthetic.png", x, y, h, w)
	}

	cin, cout := distinctColours(x), distinctColours(y)
	t.Logf("distinct colours: input %d, output %d", cin, cout)
	if cout*5 > cin {
		t.Errorf("output has %d distinct colours, input %d: want at least 5x fewer", cout, cin)
	}

	// distance (Chebyshev, capped at 8) from each pixel to another region
	dist := func(i, j int) int {
		for d := 1; d <= 8; d++ {
			for di := -d; di <= d; di++ {
				for dj := -d; dj <= d; dj++ {
					ii, jj := i+di, j+dj
					if ii >= 0 && jj >= 0 && ii < h && jj < w && region[ii*w+jj] != region[i*w+j] {
						return d
					}
				}
			}
		}
		return 9
	}
	var edgeSamples, edgeDark, flat, flatDark int
	for i := 8; i < h-8; i++ {
		for j := 8; j < w-8; j++ {
			p := i*w + j
			switch d := dist(i, j); {
			case d == 1 && region[p] == 0:
				// a boundary pixel on the background side: expect a dark
				// outline pixel within 2 px
				edgeSamples++
				minL := 1.0
				for di := -2; di <= 2; di++ {
					for dj := -2; dj <= 2; dj++ {
						minL = math.Min(minL, luma(y, (i+di)*w+j+dj))
					}
				}
				if minL < 0.2 {
					edgeDark++
				}
			case d > 6:
				flat++
				if luma(y, p) < 0.2 || luma(y, p) < luma(x, p)-0.15 {
					flatDark++
				}
			}
		}
	}
	t.Logf("edges: %d/%d boundary samples have a dark outline; flat: %d/%d dark", edgeDark, edgeSamples, flatDark, flat)
	if edgeSamples == 0 || float64(edgeDark) < 0.9*float64(edgeSamples) {
		t.Errorf("only %d of %d boundary samples have a dark outline nearby", edgeDark, edgeSamples)
	}
	if flat == 0 || flatDark > flat/500 {
		t.Errorf("%d of %d flat-region pixels came out dark", flatDark, flat)
	}
}

func TestAnimeGANv2(t *testing.T) {
	const h, w = 40, 56
	var outputs [2][]float32
	for _, layout := range []Layout{NCHW, NHWC} {
		data, err := AnimeGANv2(layout, 1)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := onnxgraph.ParamCount(data); err != nil || n != 2143552 {
			t.Fatalf("%v: ParamCount = %d, %v", layout, n, err)
		}
		info, _ := onnxgraph.Inspect(data)
		if ops := info.OpCounts(); ops["Conv"] != 25 || ops["Resize"] != 2 || ops["InstanceNormalization"] != 24 || ops["LeakyRelu"] != 20 {
			t.Errorf("%v: ops %v", layout, ops)
		}
		s := newSession(t, data, 2)
		if s.in[0] != "input" || s.out[0] != "output" {
			t.Errorf("names %v %v", s.in, s.out)
		}
		r := &rng{s: 5}
		nchw := r.uniform(2*3*h*w, 1)
		in, shape := nchw, []int64{2, 3, h, w}
		if layout == NHWC {
			in, shape = transposeNCHWToNHWC(nchw, 2, 3, h, w), []int64{2, h, w, 3}
		}
		y, yshape, err := s.run(in, shape...)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(yshape) != fmt.Sprint(shape) {
			t.Fatalf("%v: output shape %v, want %v", layout, yshape, shape)
		}
		var spread float64
		for _, v := range y {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("%v: output %v outside tanh range", layout, v)
			}
			spread = math.Max(spread, math.Abs(float64(v-y[0])))
		}
		if spread == 0 {
			t.Errorf("%v: constant output", layout)
		}
		if layout == NHWC {
			y = transposeNHWCToNCHW(y, 2, 3, h, w)
		}
		outputs[layout] = y
	}
	// same seed, same weights: the layouts must agree
	for i := range outputs[0] {
		if math.Abs(float64(outputs[0][i]-outputs[1][i])) > 1e-4 {
			t.Fatalf("NCHW and NHWC outputs differ at %d: %v vs %v", i, outputs[0][i], outputs[1][i])
		}
	}
}

func transposeNCHWToNHWC(x []float32, n, c, h, w int) []float32 {
	y := make([]float32, len(x))
	for b := 0; b < n; b++ {
		for k := 0; k < c; k++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					y[((b*h+i)*w+j)*c+k] = x[((b*c+k)*h+i)*w+j]
				}
			}
		}
	}
	return y
}

func transposeNHWCToNCHW(x []float32, n, c, h, w int) []float32 {
	y := make([]float32, len(x))
	for b := 0; b < n; b++ {
		for k := 0; k < c; k++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					y[((b*c+k)*h+i)*w+j] = x[((b*h+i)*w+j)*c+k]
				}
			}
		}
	}
	return y
}
