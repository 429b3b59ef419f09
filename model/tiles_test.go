package model_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
	"animegan/onnxgraph"
	"animegan/quantize"
)

// scene is a photo-like test picture: smooth gradients, a few shapes and
// fine texture, so that statistics of a thumbnail resemble the whole's.
func scene(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r := 60 + 150*fx + 20*math.Sin(float64(x*y)/37)
			g := 80 + 120*fy
			b := 200 - 120*fx*fy
			if dx, dy := fx-0.35, fy-0.45; dx*dx+dy*dy < 0.04 {
				r, g, b = 230, 200, 40
			}
			if fx > 0.6 && fx < 0.85 && fy > 0.2 && fy < 0.7 {
				r, g, b = 30, 60+40*math.Sin(float64(y)/3), 90
			}
			img.SetNRGBA(x, y, color.NRGBA{clamp8(r), clamp8(g), clamp8(b), 255})
		}
	}
	return img
}

func clamp8(v float64) uint8 { return uint8(max(0, min(255, v))) }

func thumbnail(img *image.NRGBA, w, h int) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(out, out.Rect, img, img.Rect, draw.Src, nil)
	return out
}

// int8Model quantises data with the project's quantize package (every
// activation given the range [-6,6]: the test needs a QDQ graph, not a
// calibrated one).
func int8Model(t *testing.T, data []byte) []byte {
	t.Helper()
	info, err := onnxgraph.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	m := info.Model()
	plan, err := quantize.NewPlan(m)
	if err != nil {
		t.Fatal(err)
	}
	ranges := map[string]quantize.Range{}
	for _, a := range plan.Activations {
		ranges[a] = quantize.Range{Min: -6, Max: 6}
	}
	if err := quantize.Quantize(m, plan, ranges); err != nil {
		t.Fatal(err)
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gen(t *testing.T, f func() ([]byte, error)) []byte {
	t.Helper()
	data, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func tilerOf(t *testing.T, name string, data []byte) (*model.Spec, *model.Tiler) {
	t.Helper()
	spec, err := model.Inspect(name, data, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := model.NewTiler(spec, data)
	if err != nil {
		t.Fatal(err)
	}
	return spec, tl
}

var oneThread = model.SessionOptions{IntraOpThreads: 2, InterOpThreads: 1}

// TestTileModelWholeImage is the rewrite's proof: the tile model run on
// the whole image with that image's own statistics (from the statistics
// model) gives the original model's output, to float rounding, for both
// layouts of the AnimeGANv2 architecture (GroupNorm(1) as
// InstanceNormalization), a TensorFlow-style layer-norm model, and an int8
// model made by the quantize package. A statistic computed over other
// axes or in another way, or a normalisation left out, fails it.
func TestTileModelWholeImage(t *testing.T) {
	ortest.Init(t)
	v2 := gen(t, func() ([]byte, error) { return modelgen.AnimeGANv2(modelgen.NCHW, 7) })
	cases := []struct {
		name    string
		data    []byte
		norms   int
		pattern string
		tol     float64 // largest difference allowed
		meanTol float64 // mean difference allowed
	}{
		{"animeganv2 nchw", v2, 24, "GroupNorm(1) as InstanceNormalization", 1e-4, 1e-5},
		{"animeganv2 nhwc", gen(t, func() ([]byte, error) { return modelgen.AnimeGANv2(modelgen.NHWC, 7) }), 24, "GroupNorm(1) as InstanceNormalization", 1e-4, 1e-5},
		{"tensorflow layer norms", gen(t, func() ([]byte, error) { return modelgen.LayerNormNet(3) }), 3, "layer norm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div)", 1e-4, 1e-5},
		// int8 rounds every activation to steps of 12/255 here: the
		// rewritten normalisation's float results differ from the fused
		// kernel's in the last bit, which flips a few roundings (3% of the
		// output values move, by 1.3e-3 on average, measured); a wrong
		// statistic moves them by tenths.
		{"normalisation operators (opset 18)", normOpsModel(t), 2, "LayerNormalization", 1e-4, 1e-5},
		{"animeganv2 int8", int8Model(t, v2), 24, "GroupNorm(1) as InstanceNormalization", 0.2, 5e-3},
	}
	// The real PyTorch exports, on developers' machines.
	for _, name := range []string{"animeganv2-arch-nhwc.onnx", "animeganv2-arch-trained-nchw.onnx"} {
		for _, up := range []string{"../..", "../../.."} {
			if b, err := os.ReadFile(filepath.Join(up, "shared", "models", name)); err == nil {
				cases = append(cases, struct {
					name    string
					data    []byte
					norms   int
					pattern string
					tol     float64
					meanTol float64
				}{"shared " + name, b, 24, "GroupNorm(1) as InstanceNormalization", 1e-4, 1e-5})
				break
			}
		}
	}
	img := scene(64, 48)
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, tl := tilerOf(t, tc.name, tc.data)
			if tl.Mode() != model.TileThumbnail || !tl.NeedsStats() {
				t.Fatalf("mode %v, want thumbnail", tl.Mode())
			}
			if got := len(tl.Norms()); got != tc.norms {
				t.Fatalf("%d normalisations found, want %d", got, tc.norms)
			}
			if tl.Norms()[0].Pattern != tc.pattern {
				t.Errorf("pattern %q, want %q", tl.Norms()[0].Pattern, tc.pattern)
			}
			if spec.Tiling == nil || spec.Tiling.Mode != model.TileThumbnail || len(spec.Tiling.Norms) != tc.norms {
				t.Errorf("Spec.Tiling = %+v, want thumbnail with %d norms", spec.Tiling, tc.norms)
			}
			whole, err := model.NewSession(spec, tc.data, oneThread)
			if err != nil {
				t.Fatal(err)
			}
			defer whole.Close()
			ss, err := tl.NewStatsSession(oneThread)
			if err != nil {
				t.Fatal(err)
			}
			defer ss.Close()
			ts, err := tl.NewTileSession(oneThread)
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()

			want, wantShape, err := whole.RunFloats(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			st, err := ss.Run(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(st.Values()); got != 2*tc.norms {
				t.Fatalf("%d statistics, want %d", got, 2*tc.norms)
			}
			got, gotShape, err := ts.RunFloats(ctx, img, st)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || !equalShape(gotShape, wantShape) {
				t.Fatalf("tile model gave shape %v, original %v", gotShape, wantShape)
			}
			var worst, spread, sum float64
			var offBy int
			for i := range got {
				d := math.Abs(float64(got[i] - want[i]))
				worst = max(worst, d)
				sum += d
				if d > 1e-4 {
					offBy++
				}
				spread = max(spread, math.Abs(float64(want[i])))
			}
			t.Logf("max |tile model - original| = %.3g, mean %.3g, %d of %d values off by more than 1e-4 (output values up to %.3g)", worst, sum/float64(len(got)), offBy, len(got), spread)
			if worst > tc.tol || math.IsNaN(worst) || sum/float64(len(got)) > tc.meanTol {
				t.Errorf("tile model with the image's own statistics differs from the original by %.3g at most, %.3g on average, want <= %g and %g",
					worst, sum/float64(len(got)), tc.tol, tc.meanTol)
			}
			// Statistics of another image must matter: the test would pass
			// for a tile model that ignored its inputs otherwise.
			other, err := ss.Run(ctx, thumbnail(testImage(40, 40), 64, 48))
			if err != nil {
				t.Fatal(err)
			}
			off, _, err := ts.RunFloats(ctx, img, other)
			if err != nil {
				t.Fatal(err)
			}
			var moved float64
			for i := range off {
				moved = max(moved, math.Abs(float64(off[i]-want[i])))
			}
			if moved < 0.1 {
				t.Errorf("tile model output moved only %.3g with another image's statistics", moved)
			}
		})
	}
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// normOpsModel is an NCHW net normalised by ONNX's own operators, as newer
// exporters write them: LayerNormalization over C, H and W, then
// GroupNormalization with one group.
func normOpsModel(t *testing.T) []byte {
	g := onnxgraph.NewGraph("normops")
	shape := []onnxgraph.Dimension{onnxgraph.Sym("N"), onnxgraph.Dim(3), onnxgraph.Sym("H"), onnxgraph.Sym("W")}
	x := g.Input("input", onnxgraph.Float, shape...)
	w := make([]float32, 8*3*9)
	for i := range w {
		w[i] = float32((i*37)%17-8) / 20
	}
	y := g.Op("Conv", []string{x, g.Floats([]int64{8, 3, 3, 3}, w...)}, onnxgraph.Ints("pads", 1, 1, 1, 1))
	ln := g.Op("LayerNormalization", []string{y, g.Floats([]int64{1, 1, 1}, 1.5), g.Floats([]int64{1}, 0.1)}, onnxgraph.Int("axis", 1), onnxgraph.Float32("epsilon", 1e-5))
	ln = g.Op("LeakyRelu", []string{ln}, onnxgraph.Float32("alpha", 0.2))
	y = g.Op("Conv", []string{ln, g.Floats([]int64{3, 8, 3, 3}, w...)}, onnxgraph.Ints("pads", 1, 1, 1, 1))
	y = g.Op("GroupNormalization", []string{y, g.Floats([]int64{1}, 0.7), g.Floats([]int64{1}, -0.2)}, onnxgraph.Int("num_groups", 1))
	g.Output(g.Op("Tanh", []string{y}), "output", onnxgraph.Float, shape...)
	m := onnxgraph.NewModel(g)
	m.Opset, m.IRVersion = 18, onnxgraph.IRVersionFor(18)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTilerModes: the built-in model needs no rewrite (its ReduceMean and
// ReduceSums run over channels and quadrants, not the image), and a model
// with a global operation the rewrite does not know is refused by
// NewTiler with the operation named; inspect's summary agrees.
func TestTilerModes(t *testing.T) {
	builtin := gen(t, modelgen.Cartoon)
	spec, tl := tilerOf(t, "built-in", builtin)
	if tl.Mode() != model.TileExact || tl.NeedsStats() {
		t.Errorf("built-in model: mode %v, want exact", tl.Mode())
	}
	if spec.Tiling.Mode != model.TileExact || spec.Tiling.ReceptiveField != tl.ReceptiveField() {
		t.Errorf("built-in Spec.Tiling = %+v", spec.Tiling)
	}
	if tl.Overlap()%spec.Multiple != 0 || tl.Overlap() < tl.ReceptiveField() {
		t.Errorf("overlap %d: want a multiple of %d covering the receptive field %d", tl.Overlap(), spec.Multiple, tl.ReceptiveField())
	}
	if _, err := tl.NewStatsSession(oneThread); err == nil {
		t.Error("a statistics session for an exact model was made")
	}

	gap := gapModel(t)
	spec, err := model.Inspect("gap.onnx", gap, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = model.NewTiler(spec, gap)
	var refused *model.TilingRefusedError
	if !errors.As(err, &refused) || !errors.Is(err, model.ErrTilingRefused) {
		t.Fatalf("NewTiler on a GlobalAveragePool model: %v, want a TilingRefusedError", err)
	}
	const want = `model gap.onnx cannot run in tiles: GlobalAveragePool node "squeeze" pools over the whole image`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if spec.Tiling.Mode != model.TileRefused || spec.Tiling.Reason != refused.Reason {
		t.Errorf("Spec.Tiling = %+v, want refused with %q", spec.Tiling, refused.Reason)
	}
}

// gapModel is a squeeze-and-excitation block: a global average pool
// scaling the channels, which thumbnail statistics do not cover.
func gapModel(t *testing.T) []byte {
	g := onnxgraph.NewGraph("se")
	x := g.Input("input", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(3), onnxgraph.Sym("H"), onnxgraph.Sym("W"))
	pooled := g.Op("GlobalAveragePool", []string{x})
	g.Nodes[len(g.Nodes)-1].Name = "squeeze"
	y := g.Op("Mul", []string{x, g.Op("Sigmoid", []string{pooled})})
	g.Output(y, "output", onnxgraph.Float, onnxgraph.Sym("N"), onnxgraph.Dim(3), onnxgraph.Sym("H"), onnxgraph.Sym("W"))
	data, err := onnxgraph.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestThumbnailStatistics is URST's premise and promise, measured on the
// AnimeGANv2 architecture: a thumbnail's statistics are close to the
// whole image's, and tiles run with them are much closer to the untiled
// result than tiles run with statistics of their own.
func TestThumbnailStatistics(t *testing.T) {
	ortest.Init(t)
	data := gen(t, func() ([]byte, error) { return modelgen.AnimeGANv2(modelgen.NCHW, 7) })
	spec, tl := tilerOf(t, "animeganv2", data)
	ctx := context.Background()
	ss, err := tl.NewStatsSession(oneThread)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	ts, err := tl.NewTileSession(oneThread)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	whole, err := model.NewSession(spec, data, oneThread)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()

	const w, h, tile = 160, 96, 64
	img := scene(w, h)
	full, err := ss.Run(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := ss.Run(ctx, thumbnail(img, w/2, h/2))
	if err != nil {
		t.Fatal(err)
	}
	// Means and standard deviations of the thumbnail within a fraction of
	// the whole image's spread.
	var worst float64
	for k := 0; k < len(full.Values()); k += 2 {
		m, mt := full.Values()[k][0], thumb.Values()[k][0]
		v, vt := full.Values()[k+1][0], thumb.Values()[k+1][0]
		sd := math.Sqrt(float64(v))
		worst = max(worst, math.Abs(float64(m-mt))/sd, math.Abs(math.Sqrt(float64(vt))-sd)/sd)
	}
	t.Logf("thumbnail statistics: worst |mean or sd difference| / sd = %.3f", worst)
	if worst > 0.25 {
		t.Errorf("thumbnail statistics differ from the whole image's by %.3f standard deviations, want <= 0.25", worst)
	}

	untiled, err := whole.Run(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	withThumb := runTiles(t, ts, img, tile, func(*image.NRGBA) *model.Stats { return thumb })
	withOwn := runTiles(t, ts, img, tile, func(part *image.NRGBA) *model.Stats {
		st, err := ss.Run(ctx, part)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
	pThumb, pOwn := psnr(untiled, withThumb), psnr(untiled, withOwn)
	t.Logf("PSNR from untiled, %dx%d in %d px tiles: thumbnail statistics %.1f dB, each tile's own %.1f dB", w, h, tile, pThumb, pOwn)
	if pThumb < pOwn+3 {
		t.Errorf("tiles with thumbnail statistics %.1f dB, with their own %.1f dB: want at least 3 dB better", pThumb, pOwn)
	}
}

// runTiles cuts img into tile x tile pieces overlapping by at least a
// quarter tile, runs each, and keeps of each the pixels nearest its
// centre (a plain cut in the middle of each overlap: enough to compare
// statistics, not a blender).
func runTiles(t *testing.T, ts *model.TileSession, img *image.NRGBA, tile int, stats func(*image.NRGBA) *model.Stats) *image.NRGBA {
	t.Helper()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	starts := func(n int) []int {
		k := max(1, int(math.Ceil(float64(n-tile)/float64(tile*3/4)))+1)
		out := make([]int, k)
		for i := range out {
			if k > 1 {
				out[i] = i * (n - tile) / (k - 1) / 8 * 8 // on the model's multiple, as tiling.NewGrid places them
			}
		}
		return out
	}
	out := image.NewNRGBA(img.Rect)
	xs, ys := starts(w), starts(h)
	for iy, y0 := range ys {
		for ix, x0 := range xs {
			r := image.Rect(x0, y0, x0+tile, y0+tile)
			part := image.NewNRGBA(image.Rect(0, 0, tile, tile))
			draw.Copy(part, image.Point{}, img, r, draw.Src, nil)
			res, err := ts.Run(context.Background(), part, r, img.Rect.Size(), stats(part))
			if err != nil {
				t.Fatal(err)
			}
			// keep [lo, hi) in each axis: up to the middle of the overlaps
			keep := func(i int, s []int, n int) (int, int) {
				lo, hi := 0, n
				if i > 0 {
					lo = (s[i-1] + tile + s[i]) / 2
				}
				if i < len(s)-1 {
					hi = (s[i] + tile + s[i+1]) / 2
				}
				return lo, hi
			}
			xl, xh := keep(ix, xs, w)
			yl, yh := keep(iy, ys, h)
			draw.Copy(out, image.Pt(xl, yl), res, image.Rect(xl-x0, yl-y0, xh-x0, yh-y0), draw.Src, nil)
		}
	}
	return out
}

func psnr(a, b *image.NRGBA) float64 {
	var se float64
	var n int
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			for c := 0; c < 3; c++ {
				d := float64(a.Pix[y*a.Stride+4*x+c]) - float64(b.Pix[y*b.Stride+4*x+c])
				se += d * d
				n++
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}
