package convert

import (
	"context"
	"image"
	"slices"
	"testing"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
)

// fixtureModel is the swap-invert fixture, whose output is exact whatever
// the thread count.
func fixtureModel(t *testing.T) (*model.Spec, []byte) {
	t.Helper()
	ortest.Init(t)
	data, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.SwapInvert, Layout: modelgen.NHWC})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := model.Inspect("fixture", data, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	return spec, data
}

// fixtureEngine builds an engine over the fixture model.
func fixtureEngine(t *testing.T, o EngineOptions) *Engine {
	t.Helper()
	spec, data := fixtureModel(t)
	o.MaxSide = 64
	if o.Session == (model.SessionOptions{}) {
		o.Session = model.DefaultSessionOptions(o.Workers, o.Cores)
	}
	e, err := NewEngine(spec, data, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func fixturePhoto(t *testing.T) *Decoded {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 32, 24))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(i), 40, 200, 255
	}
	g := model.Geometry{ModelW: 32, ModelH: 24, ScaledW: 32, ScaledH: 24}
	return &Decoded{Img: img, W: 32, H: 24, Geom: g, Source: image.Pt(32, 24)}
}

// TestLastTurn checks which runs move the last photo onto a session with a
// thread per core, and that doing so keeps the sessions alive within what
// the engine may hold and the pixels unchanged.
func TestLastTurn(t *testing.T) {
	tests := []struct {
		name     string
		opts     EngineOptions
		wantWide bool
	}{
		{"two workers on two cores", EngineOptions{Workers: 2, Cores: 2, AutoThreads: true, MemBudget: -1}, true},
		{"one worker already has every core", EngineOptions{Workers: 1, Cores: 2, AutoThreads: true, MemBudget: -1}, false},
		{"--threads set by the user", EngineOptions{Workers: 2, Cores: 2, AutoThreads: false, MemBudget: -1}, false},
		{"budget holds one session", EngineOptions{Workers: 2, Cores: 2, AutoThreads: true, MemBudget: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fixtureEngine(t, tt.opts)
			d := fixturePhoto(t)
			steady, err := e.Infer(context.Background(), d, Steady)
			if err != nil {
				t.Fatal(err)
			}
			last, err := e.Infer(context.Background(), d, Last)
			if err != nil {
				t.Fatal(err)
			}
			if !equalPixels(steady, last) {
				t.Fatal("the last photo's pixels differ from a steady run's")
			}
			if got := len(e.wideIdle) == 1; got != tt.wantWide {
				t.Fatalf("wide session made: %v, want %v", got, tt.wantWide)
			}
			if e.created > e.maxSessions {
				t.Fatalf("%d sessions alive, engine may hold %d", e.created, e.maxSessions)
			}
			if tt.wantWide && (len(e.sessions) != 0 || e.created != 1) {
				t.Fatalf("idle per-worker sessions left beside the wide one: %d idle, %d alive", len(e.sessions), e.created)
			}
			// A second last photo (another run on the same engine) reuses it.
			if _, err := e.Infer(context.Background(), d, Last); err != nil {
				t.Fatal(err)
			}
			if e.created > e.maxSessions {
				t.Fatalf("%d sessions alive, engine may hold %d", e.created, e.maxSessions)
			}
		})
	}
}

// TestLastTurnAtCapacity: when every session the engine may hold is busy,
// the last photo waits for one of them instead of making another.
func TestLastTurnAtCapacity(t *testing.T) {
	e := fixtureEngine(t, EngineOptions{Workers: 2, Cores: 2, AutoThreads: true, MemBudget: -1})
	ctx := context.Background()
	a, err := e.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.wideSession(); s != nil {
		t.Fatal("a wide session was made beyond the engine's capacity")
	}
	if e.wideClaimed {
		t.Fatal("a failed attempt left the wide session claimed")
	}
	e.sessions <- a
	e.sessions <- b
	if s := e.wideSession(); s == nil {
		t.Fatal("no wide session once the others were idle")
	} else {
		e.wideIdle <- s
	}
	if e.created != 1 {
		t.Fatalf("%d sessions alive, want the wide one only", e.created)
	}
}

func TestCountdown(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		steps string // s: a photo starts inference, d: one fails before it
		want  string // the turn of each start: S steady, L last
	}{
		{"one photo", 1, "s", "L"},
		{"three photos", 3, "sss", "SSL"},
		{"a failure before the end", 3, "sds", "SL"},
		{"the last photo fails", 3, "ssd", "SS"},
		{"a failure after the last start is counted late", 4, "sssd", "SSS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCountdown(tt.n)
			var got []byte
			for _, s := range tt.steps {
				if s == 'd' {
					c.drop()
					continue
				}
				turn := byte('S')
				if c.start() == Last {
					turn = 'L'
				}
				got = append(got, turn)
			}
			if string(got) != tt.want {
				t.Fatalf("turns %s, want %s", got, tt.want)
			}
		})
	}
}

func equalPixels(a, b *image.NRGBA) bool {
	if a.Rect != b.Rect {
		return false
	}
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			if a.NRGBAAt(x, y) != b.NRGBAAt(x, y) {
				return false
			}
		}
	}
	return true
}

// TestMadeSessions: the engine takes over sessions made beforehand when they
// have the settings it chose, as many as it would make itself, and makes
// its own otherwise.
func TestMadeSessions(t *testing.T) {
	spec, data := fixtureModel(t)
	steady := model.DefaultSessionOptions(2, 2)
	other := model.SessionOptions{IntraOpThreads: 2, InterOpThreads: 1, MemArena: true}
	tests := []struct {
		name      string
		made      model.SessionOptions
		n         int
		wantTaken int
	}{
		{"one, same settings", steady, 1, 1},
		{"one per worker", steady, 2, 2},
		{"more than workers", steady, 3, 2},
		{"other threads", other, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			made, err := makeSessions(spec, data, tt.made, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(made) != tt.n {
				t.Fatalf("makeSessions made %d sessions, want %d", len(made), tt.n)
			}
			e, err := NewEngine(spec, data, EngineOptions{MaxSide: 64, Workers: 2, Cores: 2, Session: steady, MemBudget: -1, Made: slices.Clone(made)})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			var idle []*model.Session
			for len(e.sessions) > 0 {
				idle = append(idle, <-e.sessions)
			}
			taken := 0
			for _, s := range idle {
				if slices.Contains(made, s) {
					taken++
				}
				e.sessions <- s
			}
			if taken != tt.wantTaken {
				t.Errorf("%d sessions taken over, want %d", taken, tt.wantTaken)
			}
			if want := max(tt.wantTaken, 1); e.created != want || len(idle) != want {
				t.Errorf("%d sessions alive, %d idle, want %d", e.created, len(idle), want)
			}
			if _, err := e.Infer(context.Background(), fixturePhoto(t), Steady); err != nil {
				t.Fatal(err)
			}
		})
	}
}
