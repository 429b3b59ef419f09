package tilegraph_test

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"animegan/modelgen"
	"animegan/onnxgraph"
	"animegan/tilegraph"
)

// net builds a one-input graph: body gets the image (NCHW [N,3,H,W], or
// NHWC when nhwc) and returns the output.
func net(t *testing.T, nhwc bool, body func(g *onnxgraph.Graph, x string) string) []byte {
	t.Helper()
	g := onnxgraph.NewGraph("t")
	shape := []onnxgraph.Dimension{onnxgraph.Sym("N"), onnxgraph.Dim(3), onnxgraph.Sym("H"), onnxgraph.Sym("W")}
	if nhwc {
		shape = []onnxgraph.Dimension{onnxgraph.Sym("N"), onnxgraph.Sym("H"), onnxgraph.Sym("W"), onnxgraph.Dim(3)}
	}
	x := g.Input("input", onnxgraph.Float, shape...)
	y := body(g, x)
	g.Output(y, "output", onnxgraph.Float, shape...)
	data, err := onnxgraph.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// named gives the node just added a name.
func named(g *onnxgraph.Graph, name, out string) string {
	g.Nodes[len(g.Nodes)-1].Name = name
	return out
}

func conv(g *onnxgraph.Graph, x string, k int64, attrs ...onnxgraph.Attr) string {
	w := g.Floats([]int64{3, 3, k, k}, make([]float32, 9*k*k)...)
	return g.Op("Conv", []string{x, w}, append([]onnxgraph.Attr{onnxgraph.Ints("kernel_shape", k, k)}, attrs...)...)
}

func mean(g *onnxgraph.Graph, x string, axes ...int64) string {
	return g.Op("ReduceMean", []string{x}, onnxgraph.Ints("axes", axes...), onnxgraph.Int("keepdims", 1))
}

// TestAnalyze: which operations are global, told apart by the axes they
// work on in each layout, and the refusal naming the operation.
func TestAnalyze(t *testing.T) {
	builtin, err := modelgen.Cartoon()
	if err != nil {
		t.Fatal(err)
	}
	v2, err := modelgen.AnimeGANv2(modelgen.NHWC, 1)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := modelgen.LayerNormNet(1)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		data   []byte
		mode   tilegraph.Mode
		reason string // substring of Plan.Reason
		norms  int
		rf     int
	}{
		{"built-in model", builtin, tilegraph.Exact, "", 0, 6},
		{"animeganv2 nhwc", v2, tilegraph.Thumbnail, "", 24, 48},
		{"tensorflow layer norms", ln, tilegraph.Thumbnail, "", 3, 4},
		{"conv stack", net(t, false, func(g *onnxgraph.Graph, x string) string {
			y := conv(g, x, 3, onnxgraph.Ints("pads", 1, 1, 1, 1))
			y = conv(g, y, 3, onnxgraph.Ints("strides", 2, 2), onnxgraph.Ints("pads", 1, 1, 1, 1))
			y = conv(g, y, 3, onnxgraph.Ints("dilations", 2, 2), onnxgraph.Ints("pads", 2, 2, 2, 2))
			return g.Op("Resize", []string{y, "", g.Floats([]int64{4}, 1, 1, 2, 2)}, onnxgraph.String("mode", "linear"))
			// field 1+2 (3x3), +2·1 (3x3 stride 2), +4·2 (dilated 3x3 at step 2),
			// +1·2 (linear upsampling reads a neighbour at step 2): 15, ±7
		}), tilegraph.Exact, "", 0, 7},
		{"channel mean nchw", net(t, false, func(g *onnxgraph.Graph, x string) string {
			return g.Op("Sub", []string{x, mean(g, x, 1)})
		}), tilegraph.Exact, "", 0, 0},
		{"channel mean nhwc", net(t, true, func(g *onnxgraph.Graph, x string) string {
			return g.Op("Sub", []string{x, mean(g, x, -1)})
		}), tilegraph.Exact, "", 0, 0},
		{"spatial mean nhwc", net(t, true, func(g *onnxgraph.Graph, x string) string {
			return g.Op("Sub", []string{x, named(g, "centre", mean(g, x, 1, 2))})
		}), tilegraph.Refused, `ReduceMean node "centre" averages over the image's height and width outside a known normalisation pattern`, 0, 0},
		{"width mean nchw", net(t, false, func(g *onnxgraph.Graph, x string) string {
			return g.Op("Sub", []string{x, named(g, "rows", mean(g, x, 3))})
		}), tilegraph.Refused, `ReduceMean node "rows" averages over the image's width`, 0, 0},
		{"global average pool", net(t, false, func(g *onnxgraph.Graph, x string) string {
			return g.Op("Mul", []string{x, named(g, "gap_3", g.Op("GlobalAveragePool", []string{x}))})
		}), tilegraph.Refused, `GlobalAveragePool node "gap_3" pools over the whole image`, 0, 0},
		{"spatial max", net(t, false, func(g *onnxgraph.Graph, x string) string {
			m := g.Op("ReduceMax", []string{x}, onnxgraph.Ints("axes", 2, 3))
			return g.Op("Div", []string{x, named(g, "peak", m)})
		}), tilegraph.Refused, `ReduceMax node "peak" reduces over the image's height and width`, 0, 0},
		{"layer normalization op", net(t, false, func(g *onnxgraph.Graph, x string) string {
			return named(g, "ln", g.Op("LayerNormalization", []string{x, g.Floats([]int64{1}, 1)}, onnxgraph.Int("axis", 1)))
		}), tilegraph.Thumbnail, "", 1, 0},
		{"layer normalization over channels nhwc", net(t, true, func(g *onnxgraph.Graph, x string) string {
			return g.Op("LayerNormalization", []string{x, g.Floats([]int64{3}, 1, 1, 1)}, onnxgraph.Int("axis", -1))
		}), tilegraph.Exact, "", 0, 0},
		{"group normalization in groups", net(t, false, func(g *onnxgraph.Graph, x string) string {
			return named(g, "gn3", g.Op("GroupNormalization", []string{x, g.Floats([]int64{3}, 1, 1, 1), g.Floats([]int64{3}, 0, 0, 0)}, onnxgraph.Int("num_groups", 3)))
		}), tilegraph.Refused, `GroupNormalization node "gn3" normalises over the image's height and width in 3 groups: the rewrite knows one group only`, 0, 0},
		{"resize to fixed size", net(t, false, func(g *onnxgraph.Graph, x string) string {
			return named(g, "to256", g.Op("Resize", []string{x, "", "", g.Vec(1, 3, 256, 256)}))
		}), tilegraph.Refused, `Resize node "to256" resizes the image to a fixed height of 256 pixels`, 0, 0},
		{"flatten gemm", net(t, false, func(g *onnxgraph.Graph, x string) string {
			f := g.Op("Flatten", []string{x})
			y := named(g, "fc", g.Op("Gemm", []string{f, g.Floats([]int64{4, 4}, make([]float32, 16)...)}))
			return g.Op("Add", []string{x, g.Op("ReduceMean", []string{y}, onnxgraph.Ints("axes", 1))})
		}), tilegraph.Refused, `Gemm node "fc" multiplies over the image's height or width`, 0, 0},
		{"softmax over pixels", net(t, false, func(g *onnxgraph.Graph, x string) string {
			return named(g, "attn", g.Op("Softmax", []string{x}, onnxgraph.Int("axis", 3)))
		}), tilegraph.Refused, `Softmax node "attn" works along the image's width`, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tilegraph.Analyze(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != tc.mode || !strings.Contains(p.Reason, tc.reason) || (tc.reason == "") != (p.Reason == "") {
				t.Fatalf("mode %v (%q), want %v (%q)", p.Mode, p.Reason, tc.mode, tc.reason)
			}
			if len(p.Norms) != tc.norms && p.Mode != tilegraph.Refused {
				t.Errorf("%d normalisations, want %d", len(p.Norms), tc.norms)
			}
			if tc.mode != tilegraph.Refused && p.ReceptiveField != tc.rf {
				t.Errorf("receptive field %d, want %d", p.ReceptiveField, tc.rf)
			}
			if (p.Mode == tilegraph.Thumbnail) != (p.Stats != nil && p.Tile != nil) {
				t.Errorf("mode %v with stats model %d bytes, tile model %d bytes", p.Mode, len(p.Stats), len(p.Tile))
			}
			if p.Mode == tilegraph.Thumbnail {
				checkModels(t, tc.data, p)
			}
		})
	}
}

// checkModels: both models keep the original input, output and metadata,
// and carry the statistics as outputs and inputs.
func checkModels(t *testing.T, orig []byte, p *tilegraph.Plan) {
	t.Helper()
	o, _ := onnxgraph.Read(orig)
	for _, m := range []struct {
		name string
		data []byte
	}{{"stats", p.Stats}, {"tile", p.Tile}} {
		info, err := onnxgraph.Read(m.data)
		if err != nil {
			t.Fatalf("%s model: %v", m.name, err)
		}
		g := info.Graph
		if g.Inputs[0].Name != o.Graph.Inputs[0].Name || g.Outputs[0].Name != o.Graph.Outputs[0].Name {
			t.Errorf("%s model: input %s output %s, want %s and %s", m.name, g.Inputs[0].Name, g.Outputs[0].Name, o.Graph.Inputs[0].Name, o.Graph.Outputs[0].Name)
		}
		if len(info.Metadata) != len(o.Metadata) || (len(o.Metadata) > 0 && info.Metadata[0] != o.Metadata[0]) {
			t.Errorf("%s model: metadata %v, want %v", m.name, info.Metadata, o.Metadata)
		}
		var extra []string
		if m.name == "stats" {
			for _, v := range g.Outputs[1:] {
				extra = append(extra, v.Name)
			}
			if strings.Join(extra, ",") != strings.Join(p.StatsOutputs, ",") {
				t.Errorf("stats outputs %v, want %v", extra, p.StatsOutputs)
			}
		} else {
			want := slices.Clone(p.TileInputs)
			for _, r := range p.Resamples {
				want = append(want, r.Input)
			}
			for _, v := range g.Inputs[1:] {
				extra = append(extra, v.Name)
			}
			if strings.Join(extra, ",") != strings.Join(want, ",") {
				t.Errorf("tile inputs %v, want %v", extra, want)
			}
			extra = extra[:min(len(extra), len(p.TileInputs))]
			for _, n := range g.Nodes {
				if n.OpType == "InstanceNormalization" || n.OpType == "ReduceMean" && len(p.Norms) > 0 && strings.HasPrefix(p.Norms[0].Pattern, "layer") {
					t.Errorf("tile model still computes statistics: %s node %s", n.OpType, n.Name)
				}
			}
		}
		if len(extra) != 2*len(p.Norms) {
			t.Errorf("%s model: %d statistics, want %d", m.name, len(extra), 2*len(p.Norms))
		}
	}
}

// TestAnalyzeErrors: only data that is no readable image graph is an error.
func TestAnalyzeErrors(t *testing.T) {
	if _, err := tilegraph.Analyze([]byte("not onnx")); err == nil {
		t.Error("Analyze accepted garbage")
	}
}

// sharedModel reads one of the real PyTorch exports in ../shared/models
// (developers' machines only), skipping when it is absent.
func sharedModel(t testing.TB, name string) []byte {
	for _, up := range []string{"..", "../..", "../../.."} {
		if b, err := os.ReadFile(filepath.Join("..", up, "shared", "models", name)); err == nil {
			return b
		}
	}
	t.Skipf("%s not present (../shared/models is on developers' machines only)", name)
	return nil
}

// TestSharedExports: the real PyTorch exports of the AnimeGANv2
// architecture (pads computed by Shape/ConstantOfShape/Slice chains,
// Resize sizes from Shape/Gather/Concat) are found as the modelgen one.
func TestSharedExports(t *testing.T) {
	for _, name := range []string{"animeganv2-arch-nchw.onnx", "animeganv2-arch-nhwc.onnx", "animeganv2-arch-trained-nchw.onnx"} {
		t.Run(name, func(t *testing.T) {
			data := sharedModel(t, name)
			p, err := tilegraph.Analyze(data)
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != tilegraph.Thumbnail || len(p.Norms) != 24 || p.ReceptiveField != 48 {
				t.Fatalf("%v, %d norms, receptive field %d: want thumbnail, 24, 48 (%s)", p.Mode, len(p.Norms), p.ReceptiveField, p.Reason)
			}
			// The two upsamplings (PyTorch's align_corners=True) at a
			// quarter and a half of the image's resolution.
			if len(p.Resamples) != 2 || p.Resamples[0].Axes[0].In != 4 || p.Resamples[0].Axes[0].Out != 2 || p.Resamples[1].Axes[0].In != 2 || p.Resamples[1].Axes[0].Out != 1 {
				t.Errorf("resamples %+v, want two: 4 -> 2 and 2 -> 1 px per step", p.Resamples)
			}
			checkModels(t, data, p)
		})
	}
}

// BenchmarkSummarize is what Inspect adds for the tiling summary, and
// BenchmarkAnalyze what NewTiler pays once, on the AnimeGANv2 architecture.
func BenchmarkSummarize(b *testing.B) {
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		b.Fatal(err)
	}
	info, err := onnxgraph.Read(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tilegraph.Summarize(info); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnalyze(b *testing.B) {
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tilegraph.Analyze(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestResampleROI checks Resample.ROI against ONNX's tf_crop_and_resize
// formula, x = start·(L_in-1) + j·(end-start)·(L_in-1)/(L_out-1), by hand:
// output pixel j of a tile must read the padded input at the whole
// image's align_corners position (P_out+j)·(N_in-1)/(N_out-1), less the
// tile's input origin, plus the one-pixel pad.
func TestResampleROI(t *testing.T) {
	r := tilegraph.Resample{Node: "up", Rank: 4, Axes: []tilegraph.ResampleAxis{
		{Axis: 2, Vertical: true, In: 4, Out: 2},
		{Axis: 3, In: 4, Out: 2},
	}}
	size := image.Pt(320, 192)
	for _, tile := range []image.Rectangle{image.Rect(0, 0, 320, 192), image.Rect(0, 0, 120, 120), image.Rect(96, 72, 216, 192), image.Rect(200, 8, 320, 128)} {
		roi, err := r.ROI(tile, size)
		if err != nil {
			t.Fatal(err)
		}
		if roi[0] != 0 || roi[1] != 0 || roi[4] != 1 || roi[5] != 1 {
			t.Errorf("tile %v: batch and channel region %v, want 0..1", tile, roi)
		}
		for _, ax := range []struct {
			axis     int
			n, p, l  int
			vertical bool
		}{{2, size.Y, tile.Min.Y, tile.Dy(), true}, {3, size.X, tile.Min.X, tile.Dx(), false}} {
			nIn, nOut := float64(ax.n/4), float64(ax.n/2)
			pIn, pOut := float64(ax.p/4), float64(ax.p/2)
			lIn, lOut := float64(ax.l/4+2), float64(ax.l/2)
			start, end := float64(roi[ax.axis]), float64(roi[4+ax.axis])
			for j := 0.0; j < lOut; j++ {
				got := start*(lIn-1) + j*(end-start)*(lIn-1)/(lOut-1)
				want := (pOut+j)*(nIn-1)/(nOut-1) - pIn + 1
				if math.Abs(got-want) > 1e-4 {
					t.Fatalf("tile %v, axis %d, output %v: reads %.6f, want %.6f", tile, ax.axis, j, got, want)
				}
			}
		}
	}
	if _, err := r.ROI(image.Rect(2, 0, 122, 120), size); err == nil {
		t.Error("a tile off the Resize's steps got a region")
	}
}
