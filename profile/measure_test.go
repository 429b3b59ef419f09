package profile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"animegan/convert"
	"animegan/internal/ortest"
	"animegan/model/builtin"
)

// TestMeasureLevel runs one level in this process with the real ONNX Runtime
// and the built-in model on two tiny photos.
func TestMeasureLevel(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	var inputs []string
	for i, name := range []string{"a.png", "b.jpg"} {
		p := filepath.Join(dir, name)
		writeTestPhoto(t, p, 48+8*i, 40)
		inputs = append(inputs, p)
	}
	co := convert.Options{Jobs: convert.Jobs{Decode: 1, Infer: 2, Encode: 1}, Cores: 2,
		MaxSide: 64, Quality: 90, MaxPixels: convert.DefaultMaxPixels}
	cfg := LevelConfig{
		Jobs: co.Jobs, Engine: co.EngineOptions(), ModelName: "built-in", ORTLib: ortest.LibraryPath(),
		Inputs: inputs, Window: 50 * time.Millisecond, MaxWindows: 4, Limit: time.Minute,
	}
	var events []string
	res, err := MeasureLevel(context.Background(), cfg, builtin.Cartoon, func(e Event) { events = append(events, e.Type) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Images < 2 || res.Failed != 0 || len(res.Windows) < StableWindows || res.IPS <= 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Bottleneck == "" || res.Stages["infer"].Workers != 2 || res.LatencyP50 <= 0 || res.LatencyP95 < res.LatencyP50 {
		t.Errorf("stages/latency %+v", res)
	}
	if events[0] != "warm" || events[len(events)-1] != "window" {
		t.Errorf("events %v", events)
	}
	for _, w := range res.Windows {
		if w.Images+w.Failed < cfg.Jobs.Infer {
			t.Errorf("window %+v holds fewer images than workers", w)
		}
	}

	// A photo that cannot be decoded fails every image: reported, not fatal.
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	cfg.Inputs = []string{bad}
	res, err = MeasureLevel(context.Background(), cfg, builtin.Cartoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images != 0 || res.Failed == 0 || res.FirstError == "" {
		t.Errorf("bad photo: %+v", res)
	}
}
