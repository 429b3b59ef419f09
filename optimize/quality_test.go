package optimize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"image"

	"animegan/calibrate"
	"animegan/convert"
	"animegan/internal/ortest"
	"animegan/model"
	"animegan/onnxgraph"
	"animegan/quantize"
)

// variant is one way of choosing ranges (and which operators to quantise).
type variant struct {
	name   string
	ranges func(plan *quantize.Plan, names []string, c *calibrate.Collector) map[string]quantize.Range
	plan   func(p *quantize.Plan) *quantize.Plan
}

func byMethod(method calibrate.Method, p float64) func(*quantize.Plan, []string, *calibrate.Collector) map[string]quantize.Range {
	return func(_ *quantize.Plan, names []string, c *calibrate.Collector) map[string]quantize.Range {
		out := map[string]quantize.Range{}
		for i, n := range names {
			out[n] = c.Stats(i).Range(method, p)
		}
		return out
	}
}

// convOutputs lists the activations that are some target's output.
func convOutputs(p *quantize.Plan) map[string]bool {
	m := map[string]bool{}
	for _, t := range p.Targets {
		m[t.Node.Outputs[0]] = true
	}
	return m
}

// TestQualityLeaveOut measures what each way of choosing ranges gives on
// real photos, honestly: the photos (in convert's listing order) are cut
// in 5 folds, and each photo is converted by an int8 model calibrated on
// the 4 folds it is not in; the last fold is optimize's own split for 30
// photos and --samples 24 (24 calibrated on, the last 6 held back). It
// prints, for each variant, the PSNR from fp32 of every photo, the mean
// and the worst over all of them, and over the last fold. With
// ANIMEGAN_QUALITY_DIAG set it also diagnoses the worst photo under
// 99.99% percentile on every tensor: each tensor's calibrated range
// against the photo's own values, and the photo's PSNR when the ranges of
// some tensors are widened to hold its values. It needs real models and
// photos, so it runs only when asked:
//
//	ANIMEGAN_QUALITY_MODELS=$(realpath ../shared/models/animeganv2-arch-trained-nchw.onnx) \
//	ANIMEGAN_QUALITY_PHOTOS=$(realpath ../shared/photos) go test -run TestQualityLeaveOut -v -timeout 3h ./optimize
//
// (ANIMEGAN_QUALITY_VARIANTS=default measures the default method only.)
//
// (about 4 GB: run it in a memory cgroup on a shared machine.)
func TestQualityLeaveOut(t *testing.T) {
	models := os.Getenv("ANIMEGAN_QUALITY_MODELS")
	if models == "" {
		t.Skip("set ANIMEGAN_QUALITY_MODELS")
	}
	photosDir := os.Getenv("ANIMEGAN_QUALITY_PHOTOS")
	maxSide, _ := strconv.Atoi(os.Getenv("ANIMEGAN_QUALITY_SIZE"))
	if maxSide == 0 {
		maxSide = 512
	}
	ortest.Init(t)
	const folds = 5
	variants := []variant{
		{name: "minmax", ranges: byMethod(calibrate.MinMax, 0)},
		{name: "percentile-99.99", ranges: byMethod(calibrate.Percentile, 99.99)},
		{name: "percentile-99.999 (default)", ranges: byMethod(calibrate.Percentile, calibrate.DefaultPercentile)},
		{name: "percentile, Conv outputs min/max", ranges: func(p *quantize.Plan, names []string, c *calibrate.Collector) map[string]quantize.Range {
			outs := convOutputs(p)
			r := map[string]quantize.Range{}
			for i, n := range names {
				r[n] = c.Stats(i).Range(calibrate.Percentile, 99.99)
				if outs[n] {
					r[n] = c.Stats(i).Range(calibrate.MinMax, 0)
				}
			}
			return r
		}},
		{name: "entropy", ranges: byMethod(calibrate.Entropy, 0)},
	}
	// ANIMEGAN_QUALITY_VARIANTS keeps only the variants whose name holds
	// it (e.g. "default"): a shorter run when only one method is in
	// question. The diagnosis needs the 99.99% variant.
	if only := os.Getenv("ANIMEGAN_QUALITY_VARIANTS"); only != "" {
		variants = slices.DeleteFunc(variants, func(v variant) bool { return !strings.Contains(v.name, only) })
	}
	diag := os.Getenv("ANIMEGAN_QUALITY_DIAG") != "" && slices.ContainsFunc(variants, func(v variant) bool { return v.name == "percentile-99.99" })
	for _, path := range strings.Split(models, ",") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ctx := context.Background()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := model.Inspect(path, data, model.Overrides{})
			if err != nil {
				t.Fatal(err)
			}
			fresh := func() (*onnxgraph.Model, *quantize.Plan) {
				return planOf(t, data)
			}
			fp32, err := convert.NewEngine(spec, data, convert.EngineOptions{MaxSide: maxSide, Workers: 1,
				Session: model.DefaultSessionOptions(1, 2), MemBudget: -1, Cores: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer fp32.Close()
			var photos []decoded
			for _, in := range convert.Collect([]string{photosDir}, "").Inputs {
				d, err := fp32.Decode(in.Path, false)
				if err != nil {
					t.Fatal(err)
				}
				photos = append(photos, decoded{in.Path, d})
			}
			per := len(photos) / folds
			foldOf := func(i int) int { return min(i/per, folds-1) }
			start := time.Now()
			var refs []*imageNRGBA
			for _, p := range photos {
				a, err := fp32.Infer(ctx, p.d, convert.Steady)
				if err != nil {
					t.Fatal(err)
				}
				refs = append(refs, a)
			}
			t.Logf("fp32 on %d photos: %s", len(photos), time.Since(start).Round(time.Second))
			m, plan := fresh()
			probed := probedActivations(m, plan)
			probeData, err := exposeActivations(m, probed)
			if err != nil {
				t.Fatal(err)
			}
			probe, err := model.NewProbe(spec, probeData, probed, model.SessionOptions{IntraOpThreads: 2, InterOpThreads: 1, MemArena: true})
			if err != nil {
				t.Fatal(err)
			}
			cols := make([]*calibrate.Collector, folds)
			for f := range cols {
				cols[f] = calibrate.NewCollector(probed, calibrate.Entropy)
			}
			own := make([]*calibrate.Collector, len(photos))
			start = time.Now()
			for i, p := range photos {
				own[i] = calibrate.NewCollector(probed, calibrate.Entropy)
				err := probe.Run(ctx, p.d.Img, func(k int, v []float32) error {
					if diag {
						own[i].Add(k, v)
					}
					for f := range cols {
						if f != foldOf(i) {
							cols[f].Add(k, v)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			probe.Close()
			t.Logf("probed in %s", time.Since(start).Round(time.Second))
			inputs := map[string]bool{}
			for _, in := range m.Graph.Inputs {
				inputs[in.Name] = true
			}
			lo := float32(-1)
			if spec.Range == model.RangeUnit {
				lo = 0
			}
			// eval quantises with ranges and converts the photos of fold f.
			eval := func(v variant, f int, ranges map[string]quantize.Range, which []int) map[int]float64 {
				m, plan := fresh()
				if v.plan != nil {
					plan = v.plan(plan)
				}
				for _, a := range plan.Activations {
					if inputs[a] {
						ranges[a] = quantize.Range{Min: lo, Max: 1}
					}
				}
				if err := quantize.Quantize(m, plan, ranges); err != nil {
					t.Fatal(err)
				}
				q8, err := m.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				spec8, err := model.Inspect("int8.onnx", q8, model.Overrides{})
				if err != nil {
					t.Fatal(err)
				}
				e, err := convert.NewEngine(spec8, q8, convert.EngineOptions{MaxSide: maxSide, Workers: 1,
					Session: model.DefaultSessionOptions(1, 2), MemBudget: -1, Cores: 2})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				out := map[int]float64{}
				for _, i := range which {
					b, err := e.Infer(ctx, photos[i].d, convert.Steady)
					if err != nil {
						t.Fatal(err)
					}
					out[i] = PSNR(refs[i], b)
				}
				return out
			}
			foldPhotos := func(f int) []int {
				var w []int
				for i := range photos {
					if foldOf(i) == f {
						w = append(w, i)
					}
				}
				return w
			}
			name := func(i int) string { return strings.TrimSuffix(filepath.Base(photos[i].path), ".jpg") }
			var worstPct int
			for _, v := range variants {
				start := time.Now()
				psnr := make([]float64, len(photos))
				for f := range folds {
					for i, p := range eval(v, f, v.ranges(plan, probed, cols[f]), foldPhotos(f)) {
						psnr[i] = p
					}
				}
				var mean, gmean float64
				worst, gworst := 0, -1
				var line []string
				for i, p := range psnr {
					mean += p / float64(len(psnr))
					if p < psnr[worst] {
						worst = i
					}
					if foldOf(i) == folds-1 {
						gmean += p / float64(per)
						if gworst < 0 || p < psnr[gworst] {
							gworst = i
						}
					}
					line = append(line, fmt.Sprintf("%s=%.1f", name(i), p))
				}
				if v.name == "percentile-99.99" {
					worstPct = worst
				}
				t.Logf("RESULT %s %s: all30 mean %.2f worst %.2f (%s); gate fold mean %.2f worst %.2f (%s) [%s]\n  %s",
					filepath.Base(path), v.name, mean, psnr[worst], name(worst), gmean, psnr[gworst], name(gworst),
					time.Since(start).Round(time.Second), strings.Join(line, " "))
			}
			if !diag {
				return
			}
			// Diagnose the worst photo under percentile.
			i, f := worstPct, foldOf(worstPct)
			base := byMethod(calibrate.Percentile, 99.99)(plan, probed, cols[f])
			outs := convOutputs(plan)
			type row struct {
				k       int
				outside float64
				over    float64
			}
			var rows []row
			for k, n := range probed {
				r := base[n]
				s := own[i].Stats(k)
				over := max(float64(s.Max-r.Max), float64(r.Min-s.Min), 0) / float64(r.Max-r.Min)
				rows = append(rows, row{k, s.Outside(r), over})
				t.Logf("DIAG %s %-60s convout=%v calib[% .3f,% .3f] minmax[% .3f,% .3f] photo[% .3f,% .3f] outside %.2e over %.2f",
					name(i), n, outs[n], r.Min, r.Max, cols[f].Stats(k).Min, cols[f].Stats(k).Max, s.Min, s.Max, s.Outside(r), over)
			}
			sort.Slice(rows, func(a, b int) bool { return rows[a].outside > rows[b].outside })
			widen := func(keep func(k int) bool) map[string]quantize.Range {
				r := map[string]quantize.Range{}
				for k, n := range probed {
					r[n] = base[n]
					if keep(k) {
						s := own[i].Stats(k)
						r[n] = quantize.Range{Min: min(base[n].Min, s.Min), Max: max(base[n].Max, s.Max)}
					}
				}
				return r
			}
			try := func(label string, keep func(k int) bool) {
				p := eval(variant{}, f, widen(keep), []int{i})[i]
				t.Logf("ABLATE %s %s: %.2f dB", name(i), label, p)
			}
			try("none widened", func(int) bool { return false })
			try("all widened to photo", func(int) bool { return true })
			try("conv outputs widened", func(k int) bool { return outs[probed[k]] })
			try("conv inputs widened", func(k int) bool { return !outs[probed[k]] })
			for _, r := range rows[:6] {
				try("only "+probed[r.k], func(k int) bool { return k == r.k })
			}
		})
	}
}

type imageNRGBA = image.NRGBA
