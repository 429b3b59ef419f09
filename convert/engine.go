package convert

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"time"

	"animegan/imageio"
	"animegan/model"
)

// Engine does the work of one photo, stage by stage: decode and fit it to
// the model, infer, encode the result. convert runs it over a folder;
// profile runs the very same stages over a corpus to measure them.
type Engine struct {
	spec     *model.Spec
	opts     EngineOptions
	sessions chan *model.Session // one per inference worker
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
}

// NewEngine opens one session per inference worker. Sessions are not
// shared: each worker's runs use its own scratch memory, and ONNX Runtime
// threads are split between workers by Session.IntraOpThreads.
func NewEngine(spec *model.Spec, data []byte, o EngineOptions) (*Engine, error) {
	e := &Engine{spec: spec, opts: o, sessions: make(chan *model.Session, max(1, o.Workers))}
	for range max(1, o.Workers) {
		s, err := model.NewSession(spec, data, o.Session)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.sessions <- s
	}
	return e, nil
}

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
	src, err := imageio.Decode(f, imageio.DecodeOptions{MaxPixels: e.opts.MaxPixels})
	if err != nil {
		return nil, err
	}
	w, h := src.Pixels.Rect.Dx(), src.Pixels.Rect.Dy()
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
	return func() {}, nil
}

var errTimeout = errors.New("per-image timeout")

// Infer runs the model on a decoded photo with a free session, under the
// per-image timeout, and returns the finished picture (output size, alpha
// re-applied). Safe for as many concurrent callers as there are sessions;
// more wait for one.
func (e *Engine) Infer(ctx context.Context, d *Decoded) (*image.NRGBA, error) {
	var s *model.Session
	select {
	case s = <-e.sessions:
	case <-ctx.Done():
		return nil, ctx.Err()
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
