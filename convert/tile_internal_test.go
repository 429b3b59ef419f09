package convert

import (
	"context"
	"fmt"
	"image"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"animegan/model"
)

// tileEngine is an engine over the swap-invert fixture (exact per pixel,
// so tiles must reproduce the whole run exactly) with a budget of limit
// bytes at a cost of perPixel bytes a pixel plus base (limit < 0: no
// budget).
func tileEngine(t *testing.T, workers int, tile TileOptions, limit, base int64, perPixel float64) *Engine {
	t.Helper()
	spec, data := fixtureModel(t)
	e := &Engine{spec: spec, data: data, sessions: make(chan *model.Session, workers), wideIdle: make(chan *model.Session, 1),
		maxSessions: workers, opts: EngineOptions{Workers: workers, Cores: 2, Tile: tile, AutoThreads: true,
			Session: model.DefaultSessionOptions(workers, 2)}}
	if limit >= 0 {
		e.budget = newBudget(limit, "test", CostModel{Base: base, PerPixel: perPixel})
	}
	if err := e.setupTiling(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// TestPlanTiles: which images run as tiles, with which tile, and how many
// tile workers, for --tile auto, N and off against a budget whose cost is
// known exactly: 100 bytes a pixel (the fixture's overlap is one
// multiple, 8 px). A limit of -2 is the image's own memory plus two 128 px
// tile inferences.
func TestPlanTiles(t *testing.T) {
	const perPixel = 100
	tests := []struct {
		name           string
		tile           TileOptions
		workers        int
		limit, base    int64
		w, h           int
		wantSide       int // 0: whole
		wantWorkers    int
		wantErr        string
		largestFitting bool // auto: the side is the largest that fits
	}{
		{name: "auto, fits whole", workers: 2, limit: 16 << 20, w: 400, h: 300},
		{name: "auto, over the budget: largest tile that fits", workers: 2, limit: 40 << 20, base: 1 << 20, w: 1200, h: 900, wantWorkers: 1, largestFitting: true},
		{name: "auto, no budget: whole", workers: 2, limit: -1, w: 4000, h: 3000},
		{name: "auto, not even the smallest tile fits", workers: 2, limit: 12 << 20, base: 10 << 20, w: 1200, h: 900, wantErr: "tiles cannot help: even 64 px tiles need about"},
		{name: "off, over the budget: refused", tile: TileOptions{Mode: TileOff}, workers: 2, limit: 1 << 20, w: 1200, h: 900, wantErr: "for a 1200x896 inference, budget"},
		{name: "--tile 128 on a larger image", tile: TileOptions{Mode: TileFixed, Size: 128}, workers: 3, limit: -1, w: 400, h: 300, wantSide: 128, wantWorkers: 3},
		{name: "--tile 128, the budget holds two tile workers", tile: TileOptions{Mode: TileFixed, Size: 128}, workers: 3, limit: -2, w: 400, h: 300, wantSide: 128, wantWorkers: 2},
		{name: "--tile 512 on a smaller image: whole", tile: TileOptions{Mode: TileFixed, Size: 512}, workers: 2, limit: -1, w: 400, h: 300},
		{name: "--tile 128, the image's own memory over the budget", tile: TileOptions{Mode: TileFixed, Size: 128}, workers: 2, limit: 3 << 20, w: 800, h: 600, wantErr: "128 px tiles need about"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == -2 {
				limit = imageHold(t, tc.w, tc.h, 128) + 2*128*128*perPixel
			}
			e := tileEngine(t, tc.workers, tc.tile, limit, tc.base, perPixel)
			g, err := e.spec.Fit(tc.w, tc.h, 0)
			if err != nil {
				t.Fatal(err)
			}
			j, err := e.planTiles(g, tc.w, tc.h)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (j != nil) != (tc.wantSide > 0 || tc.largestFitting) {
				t.Fatalf("tiles %+v, want side %d", j, tc.wantSide)
			}
			if j == nil {
				return
			}
			side := j.info.Tile
			if tc.wantSide > 0 && side != tc.wantSide {
				t.Errorf("tile %d, want %d", side, tc.wantSide)
			}
			if j.workers != tc.wantWorkers {
				t.Errorf("%d tile workers, want %d", j.workers, tc.wantWorkers)
			}
			if e.budget != nil && j.admit() > e.budget.Limit {
				t.Errorf("admits %d, over the %d budget", j.admit(), e.budget.Limit)
			}
			if tc.largestFitting {
				m := e.spec.Multiple
				fits := func(s int) bool { return j.hold+e.budget.Cost.Bytes(int64(s)*int64(s)) <= e.budget.Limit/10*9 }
				if !fits(side) || fits(side+m) {
					t.Errorf("tile %d: fits %t, %d fits %t; want the largest that fits", side, fits(side), side+m, fits(side+m))
				}
			}
			cover := image.Rectangle{}
			for _, r := range j.grid.Tiles {
				cover = cover.Union(r)
			}
			if cover != image.Rect(0, 0, g.ModelW, g.ModelH) {
				t.Errorf("tiles cover %v, want the whole %dx%d", cover, g.ModelW, g.ModelH)
			}
		})
	}
}

// TestTiledConcurrent: several tiled images at once, as the pipeline runs
// them (Admit, then Infer, on as many goroutines as inference workers),
// under a budget that holds the images' own memory and only a few tile
// workers besides: every image finishes (no image waits on memory its own
// tiles hold), each exactly the whole run's pixels, and the budget never
// admitted more than its limit.
func TestTiledConcurrent(t *testing.T) {
	const workers, w, h = 3, 200, 152
	limit := 2*imageHold(t, w, h, 64) + 3*64*64 + 100
	e := tileEngine(t, workers, TileOptions{Mode: TileFixed, Size: 64}, limit, 0, 1)
	whole := tileEngine(t, 1, TileOptions{Mode: TileOff}, -1, 0, 1)
	var photos []*Decoded
	for i := range 6 {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for p := range img.Pix {
			img.Pix[p] = uint8(p*7 + i*31)
		}
		g := model.Geometry{ModelW: w, ModelH: h, ScaledW: w, ScaledH: h}
		j, err := e.planTiles(g, w, h)
		if err != nil || j == nil {
			t.Fatalf("photo %d: tiles %v, %v", i, j, err)
		}
		photos = append(photos, &Decoded{Img: img, W: w, H: h, Geom: g, Source: image.Pt(w, h), tiles: j})
	}
	var mu sync.Mutex
	next := 0
	g, ctx := errgroup.WithContext(context.Background())
	for range workers {
		g.Go(func() error {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(photos) {
					return nil
				}
				d := photos[i]
				release, err := e.Admit(ctx, d)
				if err != nil {
					return err
				}
				got, err := e.Infer(ctx, d, Steady)
				release()
				if err != nil {
					return fmt.Errorf("photo %d: %w", i, err)
				}
				want, err := whole.Infer(ctx, &Decoded{Img: d.Img, W: w, H: h, Geom: d.Geom}, Steady)
				if err != nil {
					return err
				}
				if !equalPixels(got, want) {
					return fmt.Errorf("photo %d: tiled pixels differ from the whole run", i)
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	st := e.budget.Stats()
	if st.PeakBytes > limit || st.PeakConcurrency < 2 {
		t.Fatalf("budget %+v: want at most %d admitted, and images and tiles admitted side by side", st, limit)
	}
}

// imageHold is what a w x h image tiled with side px tiles holds itself.
func imageHold(t *testing.T, w, h, side int) int64 {
	t.Helper()
	e := tileEngine(t, 1, TileOptions{Mode: TileFixed, Size: side}, -1, 0, 1)
	g, err := e.spec.Fit(w, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.planTiles(g, w, h)
	if err != nil || j == nil {
		t.Fatalf("tiles %v, %v", j, err)
	}
	return j.hold
}

// TestSessionWaitWhileTiling: while an image runs as tiles, a whole-image
// session that comes back is closed (its arena would hold memory the
// budget no longer counts); an inference waiting for a session then makes
// a new one instead of waiting for ever for one to come back.
func TestSessionWaitWhileTiling(t *testing.T) {
	e := tileEngine(t, 2, TileOptions{Mode: TileFixed, Size: 64}, -1, 0, 1)
	e.maxSessions = 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := e.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		s, err := e.session(ctx) // none free, none can be made: waits
		if err == nil {
			e.putSession(s)
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	e.beginTiled()
	e.putSession(first) // closed, not given back
	if err := <-got; err != nil {
		t.Fatalf("the waiting inference got no session: %v", err)
	}
	e.endTiled()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.created != 0 {
		t.Fatalf("%d sessions alive after the tiles began and every inference ended, want 0", e.created)
	}
}
