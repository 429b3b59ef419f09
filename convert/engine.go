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
	created     int // sessions made so far
	maxSessions int // at most this many: Workers, or fewer under a budget
}

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
	// MemBudget bounds the estimated memory of inferences in flight:
	// 0 picks DefaultBudget, a negative value turns the budget off.
	MemBudget int64
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
	e := &Engine{spec: spec, data: data, opts: o, sessions: make(chan *model.Session, max(1, o.Workers)), maxSessions: o.Workers}
	if o.MemBudget >= 0 && o.Workers > 0 {
		limit, source := o.MemBudget, "--mem-budget"
		if limit == 0 {
			limit, source = DefaultBudget()
		}
		// Calibrating costs a few inferences at start-up; skip it when
		// even a generous bound on every worker's memory fits.
		cost := upperCost
		if int64(o.Workers)*upperCost.Bytes(e.worstPixels()) > limit {
			var err error
			if cost, err = calibrate(spec, data, e.worstPixels()); err != nil {
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
	if o.Workers > 0 {
		s, err := e.newSession()
		if err != nil {
			return nil, err
		}
		e.sessions <- s
	}
	return e, nil
}

func (e *Engine) newSession() (*model.Session, error) {
	e.mu.Lock()
	if e.created >= e.maxSessions {
		e.mu.Unlock()
		return nil, nil
	}
	e.created++
	e.mu.Unlock()
	s, err := model.NewSession(e.spec, e.data, e.opts.Session)
	if err != nil {
		e.mu.Lock()
		e.created--
		e.mu.Unlock()
	}
	return s, err
}

// session takes an idle session, makes one while fewer than Workers exist,
// or waits for one to come back.
func (e *Engine) session(ctx context.Context) (*model.Session, error) {
	select {
	case s := <-e.sessions:
		return s, nil
	default:
	}
	if s, err := e.newSession(); s != nil || err != nil {
		return s, err
	}
	select {
	case s := <-e.sessions:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
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
	src, err := imageio.Decode(f, imageio.DecodeOptions{MaxPixels: e.opts.MaxPixels, Shrink: shrink})
	if err != nil {
		return nil, err
	}
	w, h := src.Size()
	g, err := e.spec.Fit(w, h, e.opts.MaxSide)
	if err != nil {
		return nil, err
	}
	d := &Decoded{Geom: g, W: g.ModelW, H: g.ModelH, Source: image.Pt(w, h)}
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
	return e.budget.Acquire(ctx, d.Pixels())
}

var errTimeout = errors.New("per-image timeout")

// Infer runs the model on a decoded photo with a free session, under the
// per-image timeout, and returns the finished picture (output size, alpha
// re-applied). Safe for as many concurrent callers as there are sessions;
// more wait for one.
func (e *Engine) Infer(ctx context.Context, d *Decoded) (*image.NRGBA, error) {
	s, err := e.session(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { e.sessions <- s }()
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

// Encode writes a result in the output format.
func (e *Engine) Encode(w io.Writer, img *image.NRGBA, f OutputFormat) error {
	enc := imageio.PNG
	if f == FormatJPEG {
		enc = imageio.JPEG
	}
	return imageio.Encode(w, img, enc, e.opts.Quality)
}
