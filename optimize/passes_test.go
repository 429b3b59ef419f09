package optimize

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"animegan/calibrate"
	"animegan/convert"
	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
	"animegan/onnxgraph"
	"animegan/quantize"
	"animegan/synth"
)

// TestGroupBySize: tensors are packed in order into groups of at most
// room bytes (float32, counted twice); one tensor larger than room alone
// is refused with its size.
func TestGroupBySize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perPixel []float64
		px, room int64
		want     string
		tooLarge int64
	}{
		{"all in one", []float64{1, 2, 3}, 10, 1000, "[[0 1 2]]", 0},
		{"split in order", []float64{1, 2, 3}, 10, 240, "[[0 1] [2]]", 0}, // 80+160, then 240
		{"one each", []float64{3, 3, 3}, 10, 240, "[[0] [1] [2]]", 0},     // 240 each
		{"too large", []float64{1, 4, 1}, 10, 300, "[]", 320},             // 4*10*4*2
		{"exact fit", []float64{1, 1, 1, 1}, 10, 160, "[[0 1] [2 3]]", 0}, // 80+80 = 160
		{"nothing to probe", nil, 10, 1, "[]", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups, tooLarge := groupBySize(tc.perPixel, tc.px, tc.room)
			if got := strings.ReplaceAll(strings.TrimSpace(fmtGroups(groups)), "  ", " "); got != tc.want || tooLarge != tc.tooLarge {
				t.Errorf("groups %s, too large %d; want %s, %d", got, tooLarge, tc.want, tc.tooLarge)
			}
		})
	}
}

func fmtGroups(g [][]int) string {
	var b strings.Builder
	b.WriteString("[")
	for i, grp := range g {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("[")
		for j, v := range grp {
			if j > 0 {
				b.WriteString(" ")
			}
			b.WriteString(string(rune('0' + v)))
		}
		b.WriteString("]")
	}
	b.WriteString("]")
	return b.String()
}

// TestPassesSameRanges: calibrating under a budget that holds a few
// activations at a time takes several passes over the photos and finds
// exactly the ranges one pass finds; a budget that cannot hold the
// largest activation beside the inference is refused with the
// --max-size that fits.
func TestPassesSameRanges(t *testing.T) {
	ortest.Init(t)
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := model.Inspect("v2.onnx", data, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := convert.NewEngine(spec, data, convert.EngineOptions{MaxSide: 64, Workers: 1,
		Session: model.DefaultSessionOptions(1, 2), MemBudget: -1, Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var photos []decoded
	for i := range 2 {
		b, err := synth.EncodeJPEG(synth.Scene(int64(i+1), 64, 48), 90, 0)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "p.jpg")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := e.Decode(path, false)
		if err != nil {
			t.Fatal(err)
		}
		photos = append(photos, decoded{path, d})
	}
	ranges := func(budget *convert.Budget) (map[string]quantize.Range, *Result, error) {
		m, plan := planOf(t, data)
		o := Options{Method: calibrate.Percentile, Cores: 2, MaxSide: 64, budget: budget}
		res := &Result{}
		r, err := o.calibrate(context.Background(), spec, m, plan, photos, res)
		return r, res, err
	}
	one, res, err := ranges(nil)
	if err != nil || res.Passes != 1 {
		t.Fatalf("no budget: %d passes, %v", res.Passes, err)
	}
	// At 64x48 the 50 activations take about 15 MiB (counted twice), the
	// largest 3 MiB: 8 MiB holds a few at a time.
	several, res, err := ranges(&convert.Budget{Limit: 8 << 20, Source: "test"})
	if err != nil || res.Passes < 3 {
		t.Fatalf("8 MiB: %d passes, %v", res.Passes, err)
	}
	if !maps.Equal(one, several) {
		t.Errorf("ranges differ between one pass and %d", res.Passes)
	}
	_, _, err = ranges(&convert.Budget{Limit: 1 << 20, Source: "test"})
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "use --max-size") {
		t.Errorf("1 MiB: %v, want a SetupError naming --max-size", err)
	}
}

// planOf reads a model and plans its quantisation. Callers take a fresh
// pair for each run rather than share one model between runs.
func planOf(t testing.TB, data []byte) (*onnxgraph.Model, *quantize.Plan) {
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
	return m, plan
}
