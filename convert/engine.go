package convert

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"animegan/imageio"
	"animegan/model"
)

// Engine does the work of one photo, stage by stage: decode and fit it to
// the model, infer, encode the result. convert runs it over a folder;
// profile runs the very same stages over a corpus to measure them.
type Engine struct {
	spec     *model.Spec
	data     []byte
	opts     EngineOptions
	sessions chan *model.Session // idle sessions, at most one per inference worker
	budget   *Budget             // nil: no memory budget

	mu          sync.Mutex
	created     int // sessions alive, the wide one included
	maxSessions int // at most this many: Workers, or fewer under a budget
	// The last photo of a run gets a session with a thread per core, made
	// when first needed (wideClaimed) and kept in wideIdle between uses.
	wideClaimed bool
	wideIdle    chan *model.Session
	// tiled counts the images running as tiles: while there are any, the
	// whole-image sessions no inference is using are closed (their arenas
	// hold their peak, which the budget no longer counts once their
	// inference is done, and the tiles need that memory).
	tiled int
	freed chan struct{} // closed when a session is closed (nil: none waits)

	// tileable: images may run as tiles (--tile auto or N, a model that
	// can be tiled, inference workers); tileStats: its tiles need the
	// thumbnail's statistics; tileRefusal says why a model cannot be
	// tiled. The tiler itself (model.NewTiler rewrites the model) is made
	// when the first image runs as tiles: a run that never tiles pays
	// nothing for it.
	tileable, tileStats bool
	tileRefusal         error
	overlap             int // pixels between neighbouring tiles
	tilerOnce           sync.Once
	tiler               *model.Tiler
	tilerErr            error
}

// Turn says where an inference falls in the run, which decides how many
// cores it may use.
type Turn int

const (
	// Steady: other photos run beside this one or will start after it,
	// so it keeps its worker's share of the cores.
	Steady Turn = iota
	// Last: no photo will start after this one. Run on a session with a
	// thread per core, it takes over the cores the other workers leave as
	// they finish, instead of ending the run on one core while the rest
	// idle (with 2 workers x 1 thread, a lone photo takes twice as long).
	Last
)

// EngineOptions are the per-photo settings.
type EngineOptions struct {
	MaxSide   int
	KeepSize  bool
	MaxPixels int64
	Quality   int
	Timeout   time.Duration
	Workers   int // inference workers, one ONNX Runtime session each
	Session   model.SessionOptions
	// AutoThreads lets the engine give each session more threads when the
	// memory budget admits fewer inferences at once than there are
	// workers: Cores are then split among the admitted ones.
	AutoThreads bool
	Cores       int
	// KeepMetadata reads each photo's EXIF, XMP and IPTC at decode, for
	// EncodeMeta to write into its output.
	KeepMetadata bool
	// ColourInput writes the results of photos with an RGB profile in
	// that profile (--color input) instead of sRGB.
	ColourInput bool
	// Tile says which images run as tiles (--tile, --tile-overlap).
	Tile TileOptions
	// MemBudget bounds the estimated memory of inferences in flight:
	// 0 picks DefaultBudget, a negative value turns the budget off.
	MemBudget int64
	// Made are sessions made beforehand with one set of settings: to find
	// out early whether ONNX Runtime can run the model, and to make them on
	// every core at once (see makeSessions). The engine takes over as many
	// as it would make itself when they have the settings it chose, and
	// closes the rest.
	Made []*model.Session `json:"-"`
	// PlanOnly opens an engine that makes no session and runs nothing: it
	// sets up the budget and tiling, for a dry run's PlanTiles. Where a
	// real run would calibrate the budget's cost, it assumes one
	// (PlanCostSource).
	PlanOnly bool `json:"-"`
}

// sessionsAtOnce is how many sessions a run makes before it starts: one per
// worker, at most as many as the cores hold at the sessions' thread count.
func (o EngineOptions) sessionsAtOnce() int {
	return min(o.Workers, max(1, o.Cores/max(1, o.Session.IntraOpThreads)))
}

// OpenEngine makes the workers' first sessions at once (see makeSessions)
// and opens the engine with them, as convert starts a run.
func OpenEngine(spec *model.Spec, data []byte, o EngineOptions) (*Engine, error) {
	if o.Workers > 0 {
		made, err := makeSessions(spec, data, o.Session, o.sessionsAtOnce())
		if err != nil {
			return nil, err
		}
		o.Made = made
	}
	return NewEngine(spec, data, o)
}

// NewEngine prepares up to one session per inference worker (none for
// Workers 0: an engine that only decodes and encodes). Sessions are not
// shared: each run uses its own session's scratch memory, and ONNX Runtime
// threads are split between workers by Session.IntraOpThreads. The first
// session is made at once, so a model ONNX Runtime cannot run fails here;
// the others when a worker first needs one, so that a memory budget that
// admits fewer inferences than there are workers never pays for idle
// sessions.
func NewEngine(spec *model.Spec, data []byte, o EngineOptions) (*Engine, error) {
	made := o.Made
	o.Made = nil
	defer func() {
		for _, s := range made { // not taken over
			s.Close()
		}
	}()
	e := &Engine{spec: spec, data: data, opts: o, sessions: make(chan *model.Session, max(1, o.Workers)),
		wideIdle: make(chan *model.Session, 1), maxSessions: o.Workers}
	if o.MemBudget >= 0 && o.Workers > 0 {
		limit, source := o.MemBudget, "--mem-budget"
		if limit == 0 {
			limit, source = DefaultBudget()
		}
		// Calibrating costs two inferences at start-up; skip it only when
		// even a generous bound on the largest inference this run can see
		// fits every worker at once: then nothing is ever held back or
		// refused, whatever the model really takes.
		cost := upperCost(spec)
		switch {
		case !needsCalibration(cost, o.Workers, e.worstPixels(), limit):
		case o.PlanOnly:
			// A dry run runs no model: it plans with the assumed cost
			// (the costliest model family known, so it errs towards
			// tiles) and says so (dryRun).
			cost = assumedCost(spec)
			cost.Source = PlanCostSource
		default:
			var err error
			if cost, err = calibrate(spec, data, e.worstPixels(), limit); err != nil {
				return nil, err
			}
		}
		e.budget = newBudget(limit, source, cost)
		// ONNX Runtime's CPU arena keeps each session's peak until the
		// session closes (measured here: with the arena off, inference is
		// about a third slower and RSS no smaller, so it stays on). A session
		// therefore holds up to one inference at the largest size this run
		// can see; the budget caps the sessions at what it can hold, and
		// admits inferences by their estimated bytes.
		worst := cost.Bytes(e.worstPixels())
		e.maxSessions = int(min(int64(o.Workers), max(1, limit/worst)))
		if o.AutoThreads && e.maxSessions < o.Workers {
			e.opts.Session.IntraOpThreads = max(1, o.Cores/e.maxSessions)
			e.opts.Session.Spinning = e.maxSessions == 1
		}
	}
	if err := e.setupTiling(); err != nil {
		return nil, err
	}
	for len(made) > 0 && e.created < e.maxSessions && made[0].Options() == e.opts.Session {
		e.created++
		e.sessions <- made[0]
		made = made[1:]
	}
	if e.created == 0 && o.Workers > 0 && !o.PlanOnly {
		s, err := e.newSession()
		if err != nil {
			return nil, err
		}
		e.sessions <- s
	}
	return e, nil
}

// makeSessions makes n sessions at once. ONNX Runtime builds a session on
// the calling thread, so made one after the other the first worker's would
// keep the other cores idle, and the second worker would start only after
// its own was made.
func makeSessions(spec *model.Spec, data []byte, so model.SessionOptions, n int) ([]*model.Session, error) {
	made := make([]*model.Session, max(1, n))
	var g errgroup.Group
	for i := range made {
		g.Go(func() (err error) {
			made[i], err = model.NewSession(spec, data, so)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		for _, s := range made {
			if s != nil {
				s.Close()
			}
		}
		return nil, err
	}
	return made, nil
}

func (e *Engine) newSession() (*model.Session, error) {
	return e.newSessionWith(e.opts.Session)
}

// newSessionWith creates a session with opts unless maxSessions are alive
// already (nil, nil then).
func (e *Engine) newSessionWith(opts model.SessionOptions) (*model.Session, error) {
	e.mu.Lock()
	if e.created >= e.maxSessions {
		e.mu.Unlock()
		return nil, nil
	}
	e.created++
	e.mu.Unlock()
	s, err := model.NewSession(e.spec, e.data, opts)
	if err != nil {
		e.mu.Lock()
		e.created--
		e.mu.Unlock()
	}
	return s, err
}

// LastSession says how the last photo of a run is inferred when it gets a
// session of its own (ok false: on a worker's session like the others).
func (e *Engine) LastSession() (so model.SessionOptions, ok bool) { return e.wideOptions() }

// wideOptions are the last photo's session settings: every core, no
// spinning (the other workers' runs may still share the cores).
func (e *Engine) wideOptions() (model.SessionOptions, bool) {
	so := e.opts.Session
	cores := e.opts.Cores
	if cores <= 0 || !e.opts.AutoThreads || so.IntraOpThreads >= cores || e.maxSessions < 2 {
		return so, false
	}
	so.IntraOpThreads, so.Spinning = cores, false
	return so, true
}

// wideSession returns the session for a last photo: the wide one, made on
// first use in place of the idle per-worker sessions (no photo will need
// those again, and closing them first keeps the sessions alive within what
// the memory budget holds). nil when there is no wider split, or no room
// for it: the photo then runs on a worker's session as usual.
func (e *Engine) wideSession() *model.Session {
	so, ok := e.wideOptions()
	if !ok {
		return nil
	}
	select {
	case s := <-e.wideIdle:
		return s
	default:
	}
	e.mu.Lock()
	claimed := e.wideClaimed
	e.wideClaimed = true
	e.mu.Unlock()
	if claimed {
		return nil // made, and in use by another last photo
	}
	e.closeIdle()
	s, err := e.newSessionWith(so)
	if err != nil || s == nil {
		// The photo still runs, on a per-worker session: one that cannot
		// be made reports the error there.
		e.mu.Lock()
		e.wideClaimed = false
		e.mu.Unlock()
		return nil
	}
	return s
}

// closeIdle closes the per-worker sessions no inference is using.
func (e *Engine) closeIdle() {
	for {
		select {
		case s := <-e.sessions:
			e.dropSession(s)
		default:
			return
		}
	}
}

// dropSession closes a session that was alive, making room for another,
// and wakes the inferences waiting for one (see session).
func (e *Engine) dropSession(s *model.Session) {
	s.Close()
	e.mu.Lock()
	e.created--
	if e.freed != nil {
		close(e.freed)
		e.freed = nil
	}
	e.mu.Unlock()
}

// freedSignal is closed when a session is next closed.
func (e *Engine) freedSignal() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.freed == nil {
		e.freed = make(chan struct{})
	}
	return e.freed
}

// session takes an idle session, makes one while fewer than Workers exist,
// or waits for one to come back.
//
// A session closed instead of coming back (while images run as tiles,
// see putSession) wakes the waiters to make one again: waiting only for
// one to come back would wait for ever.
func (e *Engine) session(ctx context.Context) (*model.Session, error) {
	for {
		select {
		case s := <-e.sessions:
			return s, nil
		default:
		}
		freed := e.freedSignal() // before the count is checked
		if s, err := e.newSession(); s != nil || err != nil {
			return s, err
		}
		select {
		case s := <-e.sessions:
			return s, nil
		case <-freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// worstPixels is the largest model input this run can see: the fixed size,
// a square of --max-size, or the --max-pixels limit when sizes are kept.
func (e *Engine) worstPixels() int64 {
	switch {
	case !e.spec.Dynamic():
		return int64(e.spec.FixedW) * int64(e.spec.FixedH)
	case e.opts.MaxSide > 0:
		return int64(e.opts.MaxSide) * int64(e.opts.MaxSide)
	case e.opts.MaxPixels > 0:
		return e.opts.MaxPixels
	}
	return DefaultMaxPixels
}

// MaxSessions is how many inferences can run at once: the workers, or
// fewer when the memory budget cannot hold a session per worker.
func (e *Engine) MaxSessions() int { return e.maxSessions }

// Budget is the memory budget, nil when it is off.
func (e *Engine) Budget() *Budget { return e.budget }

// SessionOptions are the settings the sessions were made with (threads
// may have been raised for a budget that admits fewer workers).
func (e *Engine) SessionOptions() model.SessionOptions { return e.opts.Session }

// Close releases the sessions. No stage may be running.
func (e *Engine) Close() {
	for {
		select {
		case s := <-e.sessions:
			s.Close()
		case s := <-e.wideIdle:
			s.Close()
		default:
			return
		}
	}
}

// Spec is the model's detected convention.
func (e *Engine) Spec() *model.Spec { return e.spec }

// Decoded is a photo ready for the model.
type Decoded struct {
	Img    *image.NRGBA // ModelW x ModelH, opaque
	Alpha  *image.NRGBA // the decoded source, for its alpha channel; nil when opaque or not kept
	W, H   int          // the output's size
	Geom   model.Geometry
	Source image.Point // the upright source size
	// Meta is the photo's metadata for its output (nil: none, or not kept).
	Meta *imageio.Metadata
	// Warnings are problems met that did not fail the photo.
	Warnings []string
	// Colour is how the photo's colours were read (its profile, if any).
	Colour imageio.Colour

	tiles *tileJob // nil: the image runs whole
}

// Tiled says how the image will be tiled (ok false: it runs whole).
func (d *Decoded) Tiled() (TileInfo, bool) {
	if d == nil || d.tiles == nil {
		return TileInfo{}, false
	}
	return d.tiles.info, true
}

// Pixels is the model input's pixel count, the driver of inference cost.
func (d *Decoded) Pixels() int64 { return int64(d.Geom.ModelW) * int64(d.Geom.ModelH) }

// Decode reads a photo and fits it to the model. keepAlpha says whether
// the output format can carry transparency.
func (e *Engine) Decode(path string, keepAlpha bool) (*Decoded, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, describeFSError(err)
	}
	defer f.Close()
	// Knowing the size from the header, a JPEG can be decoded already
	// shrunk towards what the model and the output need.
	shrink := func(w, h int) (int, int) {
		g, err := e.spec.Fit(w, h, e.opts.MaxSide)
		if err != nil || e.opts.KeepSize {
			return w, h
		}
		return max(g.ModelW, g.ScaledW), max(g.ModelH, g.ScaledH)
	}
	src, err := imageio.Decode(f, imageio.DecodeOptions{MaxPixels: e.opts.MaxPixels, Shrink: shrink, Metadata: e.opts.KeepMetadata})
	if err != nil {
		return nil, err
	}
	w, h := src.Size()
	g, err := e.spec.Fit(w, h, e.opts.MaxSide)
	if err != nil {
		return nil, err
	}
	// An inference that would crash ONNX Runtime, or that the whole budget
	// cannot hold, is never started whole: it runs as tiles (--tile auto)
	// or is refused, before its pixels are decoded.
	tiles, err := e.planTiles(g, w, h)
	if err != nil {
		return nil, err
	}
	d := &Decoded{tiles: tiles, Geom: g, W: g.ModelW, H: g.ModelH, Source: image.Pt(w, h), Meta: src.Metadata, Warnings: src.Warnings, Colour: src.Colour}
	switch {
	case e.opts.KeepSize:
		d.W, d.H = w, h
	case !e.spec.Dynamic():
		// A fixed-size model squeezes the photo; give back its proportions.
		d.W, d.H = g.ScaledW, g.ScaledH
	}
	pixels := src.Pixels
	if src.HasAlpha {
		// Models see RGB only, and the colour under a transparent pixel is
		// arbitrary; white is what a viewer shows there.
		if keepAlpha {
			d.Alpha = src.Pixels
		}
		pixels = imageio.Flatten(src.Pixels, color.NRGBA{255, 255, 255, 255})
	}
	d.Img = resizeTo(pixels, g.ModelW, g.ModelH)
	return d, nil
}

func resizeTo(img *image.NRGBA, w, h int) *image.NRGBA {
	if img.Rect.Dx() == w && img.Rect.Dy() == h {
		return img
	}
	return imageio.Resize(img, w, h)
}

// Admit waits until the memory budget has room for d's inference and
// returns the release to call once Infer is done. Run it (as the
// pipeline's Admit hook) before Infer, so that images queue in memory-cheap
// decoded form instead of all inferring at once.
func (e *Engine) Admit(ctx context.Context, d *Decoded) (release func(), err error) {
	if e.budget == nil {
		return func() {}, nil
	}
	if d.tiles != nil {
		return e.budget.AcquireBytes(ctx, d.tiles.admit())
	}
	return e.budget.Acquire(ctx, d.Pixels())
}

var errTimeout = errors.New("per-image timeout")

// Infer runs the model on a decoded photo with a free session, under the
// per-image timeout, and returns the finished picture (output size, alpha
// re-applied). Safe for as many concurrent callers as there are sessions;
// more wait for one.
func (e *Engine) Infer(ctx context.Context, d *Decoded, turn Turn) (*image.NRGBA, error) {
	if d.tiles != nil {
		return e.inferTiled(ctx, d)
	}
	var s *model.Session
	if turn == Last {
		s = e.wideSession()
	}
	if s != nil {
		defer func() { e.wideIdle <- s }()
	} else {
		var err error
		if s, err = e.session(ctx); err != nil {
			return nil, err
		}
		defer e.putSession(s)
	}
	if e.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.opts.Timeout, errTimeout)
		defer cancel()
	}
	out, err := s.Run(ctx, d.Img)
	if err != nil {
		if errors.Is(context.Cause(ctx), errTimeout) {
			return nil, fmt.Errorf("inference timed out after %s (--timeout)", e.opts.Timeout)
		}
		return nil, err
	}
	img := resizeTo(out, d.W, d.H)
	if d.Alpha != nil {
		img = imageio.ApplyAlpha(img, d.Alpha)
	}
	return img, nil
}

// Encode writes a result in the output format, without metadata.
func (e *Engine) Encode(w io.Writer, img *image.NRGBA, f OutputFormat) error {
	return e.EncodeMeta(w, img, f, nil, nil)
}

// EncodeMeta writes a result in the output format with the source's
// metadata (nil: none); warnf (may be nil) hears about metadata the format
// could not hold.
func (e *Engine) EncodeMeta(w io.Writer, img *image.NRGBA, f OutputFormat, meta *imageio.Metadata, warnf func(string, ...any)) error {
	return e.EncodeResult(w, img, f, meta, imageio.Colour{}, warnf)
}

// EncodeResult is EncodeMeta for a photo whose colours were read as c:
// with a profile, the result is tagged sRGB, or (ColourInput) converted
// into the photo's RGB profile and tagged with it. img may be changed.
func (e *Engine) EncodeResult(w io.Writer, img *image.NRGBA, f OutputFormat, meta *imageio.Metadata, c imageio.Colour, warnf func(string, ...any)) error {
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	icc := outputProfile(img, c, e.opts.ColourInput, warnf)
	return imageio.EncodeWith(w, img, f.Codec(), imageio.EncodeOptions{Quality: e.opts.Quality, Metadata: meta, Warnf: warnf, ICC: icc})
}
