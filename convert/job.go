// Package convert is the main job: it turns photos into stylised images by
// wiring the input walk, the model, the image codecs and the pipeline
// together, and keeps an output directory resumable.
package convert

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"time"

	"animegan/atomicfile"
	"animegan/imageio"
	"animegan/model"
	"animegan/pipeline"
)

// SetupError is a problem with the run as a whole (model, runtime, output
// directory, flags): nothing was converted, exit status 2.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

func setupErr(format string, args ...any) error {
	return &SetupError{fmt.Errorf(format, args...)}
}

// Run converts o.Inputs into o.OutDir. Per-input failures are in the
// summary; the error is for setup problems only (a *SetupError), or a
// cancelled ctx before any work began.
func Run(ctx context.Context, o Options, r Reporter) (*Summary, error) {
	start := time.Now()
	o.ApplyDefaults()
	if err := o.Validate(); err != nil {
		return nil, &SetupError{err}
	}
	rt, err := model.Load(o.ORTLib)
	if err != nil {
		return nil, &SetupError{err}
	}
	spec, err := model.Inspect(o.ModelName, o.ModelData, o.Overrides)
	if err != nil {
		return nil, &SetupError{err}
	}
	outDir, err := prepareOutDir(o.OutDir, o.Inputs)
	if err != nil {
		return nil, err
	}

	sum := &Summary{Settings: settingsOf(&o, spec, rt, outDir)}
	listing := Collect(o.Inputs, outDir)
	sum.Ignored = listing.Ignored
	for _, f := range listing.Problems {
		sum.Failed++
		sum.Failures = append(sum.Failures, f)
	}

	man, err := OpenManifest(outDir)
	if err != nil {
		return nil, setupErr("output directory %s: %w", outDir, err)
	}
	j := &job{opts: &o, spec: spec, outDir: outDir, manifest: man, reporter: r, sum: sum}
	defer func() {
		if cerr := man.Close(outDir, writeAtomic); cerr != nil {
			r.Logf("manifest: %v", cerr)
		}
	}()

	pl := j.plan(ctx, planOutputs(listing.Inputs, o.Format))
	r.Begin(pl.todo, pl.skipped, sum.Settings)
	for _, f := range listing.Problems {
		r.Failed(f)
	}
	for _, f := range pl.failures {
		j.fail(f.Input, f.Err)
	}
	sum.Skipped = pl.skipped
	for _, t := range pl.copies {
		j.finishCopies(t)
	}

	if len(pl.leaders) > 0 {
		if err := j.convert(ctx, pl.leaders); err != nil {
			return nil, err
		}
	}
	sum.Interrupted = ctx.Err() != nil
	sum.finish(time.Since(start))
	r.End(sum)
	return sum, nil
}

// prepareOutDir creates the output directory and refuses one that is an
// input folder: results written there would replace the photos.
func prepareOutDir(dir string, inputs []string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", setupErr("output directory %s: %w", dir, err)
	}
	for _, in := range inputs {
		if realPath(in) == realPath(abs) {
			return "", setupErr("output directory %s is the input folder %s: choose another -o, outputs would replace the inputs", dir, in)
		}
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", setupErr("cannot create output directory: %w", err)
	}
	probe, err := os.CreateTemp(abs, ".animegan-probe-*")
	if err != nil {
		return "", setupErr("output directory %s is not writable: %w", abs, errors.Unwrap(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return abs, nil
}

func settingsOf(o *Options, spec *model.Spec, rt *model.Runtime, outDir string) Settings {
	s := Settings{
		Model:        o.ModelName,
		ModelSHA256:  modelHash(o.ModelData),
		Layout:       spec.Layout.String(),
		Range:        spec.Range.String(),
		Multiple:     spec.Multiple,
		MaxSize:      o.MaxSide,
		KeepSize:     o.KeepSize,
		Format:       string(o.Format),
		Quality:      o.Quality,
		Jobs:         JobsDoc{o.Jobs.Decode, o.Jobs.Infer, o.Jobs.Encode},
		Session:      o.SessionOptions().String(),
		OutputDir:    outDir,
		MaxPixels:    o.MaxPixels,
		TimeoutSecs:  o.Timeout.Seconds(),
		ORTVersion:   rt.Version,
		ORTLibrary:   rt.Library,
		IntraThreads: o.SessionOptions().IntraOpThreads,
	}
	if s.Format == "" {
		s.Format = "keep"
	}
	if !spec.Dynamic() {
		s.FixedSize = fmt.Sprintf("%dx%d", spec.FixedW, spec.FixedH)
	}
	return s
}

type job struct {
	opts     *Options
	spec     *model.Spec
	outDir   string
	manifest *Manifest
	reporter Reporter
	sum      *Summary
}

func (j *job) fail(input string, err error) {
	f := Failure{Input: input, Err: err}
	j.sum.Failed++
	j.sum.Failures = append(j.sum.Failures, f)
	j.reporter.Failed(f)
}

func (j *job) outPath(t *Target) string {
	return filepath.Join(j.outDir, filepath.FromSlash(t.OutRel))
}

// decoded is an image ready for the model; inferred is the model's result.
type decoded struct {
	t      *task
	img    *image.NRGBA // ModelW x ModelH
	alpha  *image.NRGBA // the decoded source, for its alpha channel; nil when opaque or JPEG
	tw, th int          // the output's size
	geom   model.Geometry
}

type inferred struct {
	*decoded
	out *image.NRGBA
}

// convert runs the leaders through the decode → infer → encode pipeline.
func (j *job) convert(ctx context.Context, leaders []*task) error {
	sessions, err := j.openSessions()
	if err != nil {
		return err
	}
	defer func() {
		close(sessions)
		for s := range sessions {
			s.Close()
		}
	}()
	cfg := pipeline.Config{Decoders: j.opts.Jobs.Decode, Inferers: j.opts.Jobs.Infer, Encoders: j.opts.Jobs.Encode}
	stages := pipeline.Stages[*task, *decoded, *inferred]{
		Decode: j.decode,
		Infer: func(ctx context.Context, d *decoded) (*inferred, error) {
			s := <-sessions // one per worker: never empty while a worker asks
			defer func() { sessions <- s }()
			return j.infer(ctx, s, d)
		},
		Encode: j.encode,
	}
	items := func(yield func(*task) bool) {
		for _, t := range leaders {
			if !yield(t) {
				return
			}
		}
	}
	_, err = pipeline.Run(ctx, cfg, items, stages, j.done)
	// Leaders never pulled from the source (cancelled or --fail-fast
	// before their turn) are reported nowhere else.
	for _, t := range leaders {
		if !t.reported {
			j.sum.NotStarted += 1 + len(t.followers)
		}
	}
	if err != nil && !errors.Is(err, errFailFast) && ctx.Err() == nil {
		return &SetupError{fmt.Errorf("pipeline: %w", err)}
	}
	return nil
}

var errFailFast = errors.New("stopped by --fail-fast")

func (j *job) openSessions() (chan *model.Session, error) {
	n := j.opts.Jobs.Infer
	sessions := make(chan *model.Session, n)
	for range n {
		s, err := model.NewSession(j.spec, j.opts.ModelData, j.opts.SessionOptions())
		if err != nil {
			close(sessions)
			for s := range sessions {
				s.Close()
			}
			return nil, &SetupError{err}
		}
		sessions <- s
	}
	return sessions, nil
}

func (j *job) decode(_ context.Context, t *task) (*decoded, error) {
	f, err := os.Open(t.Path)
	if err != nil {
		return nil, describeFSError(err)
	}
	defer f.Close()
	src, err := imageio.Decode(f, imageio.DecodeOptions{MaxPixels: j.opts.MaxPixels})
	if err != nil {
		return nil, err
	}
	w, h := src.Pixels.Rect.Dx(), src.Pixels.Rect.Dy()
	g, err := j.spec.Fit(w, h, j.opts.MaxSide)
	if err != nil {
		return nil, err
	}
	d := &decoded{t: t, geom: g, tw: g.ModelW, th: g.ModelH}
	switch {
	case j.opts.KeepSize:
		d.tw, d.th = w, h
	case !j.spec.Dynamic():
		// A fixed-size model squeezes the photo; give back its proportions.
		d.tw, d.th = g.ScaledW, g.ScaledH
	}
	pixels := src.Pixels
	if src.HasAlpha {
		// Models see RGB only, and the colour under a transparent pixel is
		// arbitrary; white is what a viewer shows there.
		if t.Format == FormatPNG {
			d.alpha = src.Pixels
		}
		pixels = imageio.Flatten(src.Pixels, color.NRGBA{255, 255, 255, 255})
	}
	d.img = resizeTo(pixels, g.ModelW, g.ModelH)
	return d, nil
}

func resizeTo(img *image.NRGBA, w, h int) *image.NRGBA {
	if img.Rect.Dx() == w && img.Rect.Dy() == h {
		return img
	}
	return imageio.Resize(img, w, h)
}

func (j *job) infer(ctx context.Context, s *model.Session, d *decoded) (*inferred, error) {
	if j.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, j.opts.Timeout, errTimeout)
		defer cancel()
	}
	out, err := s.Run(ctx, d.img)
	if err != nil {
		if errors.Is(context.Cause(ctx), errTimeout) {
			return nil, fmt.Errorf("inference timed out after %s (--timeout)", j.opts.Timeout)
		}
		return nil, err
	}
	return &inferred{decoded: d, out: out}, nil
}

var errTimeout = errors.New("per-image timeout")

func (j *job) encode(_ context.Context, in *inferred) error {
	img := resizeTo(in.out, in.tw, in.th)
	if in.alpha != nil {
		img = imageio.ApplyAlpha(img, in.alpha)
	}
	t := in.t
	path := j.outPath(&t.Target)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating output folder: %w", err)
	}
	enc := imageio.PNG
	if t.Format == FormatJPEG {
		enc = imageio.JPEG
	}
	err := writeAtomic(path, func(w io.Writer) error {
		return imageio.Encode(w, img, enc, j.opts.Quality)
	})
	if err != nil {
		return err
	}
	if err := j.record(t, path); err != nil {
		return err
	}
	t.copyErrs = j.copyToFollowers(t, path)
	return nil
}

func writeAtomic(path string, fill func(io.Writer) error) error {
	return atomicfile.Write(path, 0o644, fill)
}

// done runs on one goroutine for every leader, in completion order.
func (j *job) done(res pipeline.Result[*task]) error {
	t := res.Item
	t.reported = true
	switch {
	case res.Err == nil:
		j.sum.Converted++
		j.reporter.Converted(t.Target, false, describeTimings(res.Timings))
		j.finishCopies(t)
	case errors.Is(res.Err, pipeline.ErrCanceled):
		j.sum.NotStarted += 1 + len(t.followers)
	default:
		j.fail(t.Path, unwrapStage(res.Err))
		for _, f := range t.followers {
			j.fail(f.Path, fmt.Errorf("identical to %s, which failed", t.Path))
		}
		if j.opts.FailFast {
			return errFailFast
		}
	}
	return nil
}

func describeTimings(tm pipeline.Timings) string {
	return fmt.Sprintf("decode %s, infer %s, encode %s",
		tm.Decode.Round(time.Millisecond), tm.Infer.Round(time.Millisecond), tm.Encode.Round(time.Millisecond))
}

// unwrapStage keeps the user's message short: the stage name is for
// --verbose, the reason is what matters.
func unwrapStage(err error) error {
	var se *pipeline.StageError
	if errors.As(err, &se) {
		var pe *pipeline.PanicError
		if errors.As(se.Err, &pe) {
			return fmt.Errorf("internal error in %s: %v", se.Stage, pe.Value)
		}
		return se.Err
	}
	return err
}
