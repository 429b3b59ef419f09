// Package convert is the main job: it turns photos into stylised images by
// wiring the input walk, the model, the image codecs and the pipeline
// together, and keeps an output directory resumable.
package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"animegan/atomicfile"
	"animegan/internal/flock"
	"animegan/internal/testhook"
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
	if err := CheckTile(o.Tile, spec); err != nil {
		return nil, &SetupError{err}
	}
	roots := o.Inputs
	if o.FromList {
		roots = append(roots[:len(roots):len(roots)], o.ListRoot)
	}
	if o.DryRun {
		// A dry run writes nothing, so it makes no session either (that
		// costs seconds and memory); the model was read, ONNX Runtime
		// loaded, the flags checked, as a real run would.
		outDir, err := resolveOutDir(o.OutDir, roots)
		if err != nil {
			return nil, err
		}
		if info, err := os.Stat(outDir); err == nil && !info.IsDir() {
			return nil, setupErr("output directory %s is a file", outDir)
		}
		return dryRun(ctx, &o, spec, rt, outDir, r, start)
	}
	// ONNX Runtime first reads the model when a session is made: make the
	// workers' sessions now, one per core at most, so that a model it
	// rejects fails before the output folder is touched. The engine takes
	// them over.
	eo := o.EngineOptions()
	made, err := makeSessions(spec, o.ModelData, eo.Session, eo.sessionsAtOnce())
	if err != nil {
		return nil, &SetupError{err}
	}
	defer func() {
		for _, s := range made {
			s.Close()
		}
	}()
	outDir, err := prepareOutDir(o.OutDir, roots)
	if err != nil {
		return nil, err
	}

	sum := &Summary{Settings: settingsOf(&o, spec, rt, outDir)}
	listing := collectAll(&o, outDir)
	sum.Ignored = listing.Ignored
	for _, f := range listing.Problems {
		sum.Failed++
		sum.Failures = append(sum.Failures, f)
	}

	man, err := OpenManifest(outDir, o.Shard)
	if err != nil {
		return nil, setupErr("output directory %s: %w", outDir, err)
	}
	if err := man.Unlocked(); err != nil {
		r.Logf("manifest: %v: records are appended but the journal is not compacted; two processes writing the same journal on this file system may still interleave", err)
	}
	if why := flock.LocalOnly(outDir); why != "" {
		r.Logf("%s: %s; processes on two hosts writing into it must each have their own shard", outDir, why)
	}
	j := &job{opts: &o, spec: spec, outDir: outDir, manifest: man, reporter: r, sum: sum}
	defer func() {
		if cerr := man.Close(outDir, writeAtomic); cerr != nil {
			r.Logf("manifest: %v", cerr)
		}
	}()

	targets := shardTargets(&o, listing)
	j.removeStale(targets)
	testhook.At(testhook.CleanedUp)
	j.computeFingerprints(targets)
	pl := j.plan(ctx, targets)
	// The failures found while listing and planning count as done in the
	// progress, so they count in its total too.
	r.Begin(pl.todo+len(listing.Problems)+len(pl.failures), pl.skipped, sum.Settings)
	for _, f := range listing.Problems {
		r.Failed(f)
	}
	for _, t := range pl.upToDate {
		r.Skipped(t.Target, t.why)
	}
	for _, f := range pl.failures {
		j.fail(f.Input, f.Err)
	}
	sum.Skipped = pl.skipped
	for _, t := range pl.copies {
		j.finishCopies(t)
	}

	if len(pl.leaders) > 0 {
		eo.Made, made = made, nil
		if err := j.convert(ctx, pl.leaders, eo); err != nil {
			return nil, err
		}
	}
	sum.Interrupted = ctx.Err() != nil
	sum.finish(time.Since(start))
	r.End(sum)
	return sum, nil
}

// collectAll lists the walked arguments and the --files-from list.
func collectAll(o *Options, outDir string) Listing {
	l := Collect(o.Inputs, outDir)
	if o.FromList {
		ll := CollectList(o.List, o.ListRoot, outDir, o.Shard)
		l.Inputs = append(l.Inputs, ll.Inputs...)
		l.Problems = append(l.Problems, ll.Problems...)
		l.Ignored += ll.Ignored
	}
	return l
}

// shardTargets plans the output names over every input, then keeps the
// shard's part: collisions must resolve the same way in every shard's
// process.
func shardTargets(o *Options, l Listing) []Target {
	targets := planOutputs(l.Inputs, o.Format)
	if !o.Shard.Whole() {
		targets = slices.DeleteFunc(targets, func(t Target) bool { return !o.Shard.Owns(t.Input) })
	}
	return targets
}

// computeFingerprints computes each output format's fingerprint once.
func (j *job) computeFingerprints(targets []Target) {
	j.fingerprints = make(map[OutputFormat]string)
	for _, t := range targets {
		if _, ok := j.fingerprints[t.Format]; !ok {
			j.fingerprints[t.Format] = fingerprint(j.opts, j.spec, t.Format)
		}
	}
}

// resolveOutDir makes the output directory absolute and refuses one that
// is an input folder (or the --files-from root): results written there
// would replace the photos.
func resolveOutDir(dir string, inputs []string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", setupErr("output directory %s: %w", dir, err)
	}
	for _, in := range inputs {
		if realPath(in) == realPath(abs) {
			return "", setupErr("output directory %s is the input folder %s: choose another -o, outputs would replace the inputs", dir, in)
		}
	}
	return abs, nil
}

// prepareOutDir resolves the output directory, creates it and checks that
// it is writable.
func prepareOutDir(dir string, inputs []string) (string, error) {
	abs, err := resolveOutDir(dir, inputs)
	if err != nil {
		return "", err
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
		Metadata:     string(o.Metadata),
		Colour:       string(o.Colour),
		Jobs:         JobsDoc{o.Jobs.Decode, o.Jobs.Infer, o.Jobs.Encode},
		JobsFrom:     o.JobsFrom,
		Session:      o.SessionOptions().String(),
		OutputDir:    outDir,
		MaxPixels:    o.MaxPixels,
		TimeoutSecs:  o.Timeout.Seconds(),
		Shard:        o.Shard.String(),
		ORTVersion:   rt.Version,
		ORTLibrary:   rt.Library,
		ORTTelemetry: rt.TelemetryState(),
		IntraThreads: o.SessionOptions().IntraOpThreads,
		Tile:         o.Tile.String(),
		TileOverlap:  o.Tile.OverlapString(),
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
	// fingerprints are each output format's fingerprint of the model and
	// settings its outputs depend on. Hashing the model is the costly part,
	// so it is done once per format, not once per photo.
	fingerprints map[OutputFormat]string
}

// removeStale deletes temp files a killed run left in the folders this
// run writes to; they are hidden, but they are litter. Those of a process
// still writing are never touched (atomicfile.RemoveStale proves their
// writer gone first). A shard looks only at those of its own outputs: the
// other shards tidy up after themselves.
func (j *job) removeStale(targets []Target) {
	dests := map[string][]string{j.outDir: {manifestName(j.opts.Shard)}}
	dirs := []string{j.outDir}
	for i := range targets {
		p := j.outPath(&targets[i])
		d := filepath.Dir(p)
		if _, ok := dests[d]; !ok {
			dirs = append(dirs, d)
		}
		dests[d] = append(dests[d], filepath.Base(p))
	}
	for _, d := range dirs {
		var n int
		var err error
		if j.opts.Shard.Whole() {
			n, err = atomicfile.RemoveStale(d)
		} else {
			n, err = atomicfile.RemoveStaleOf(d, dests[d])
		}
		if n > 0 || (err != nil && !errors.Is(err, fs.ErrNotExist)) {
			j.reporter.Logf("%s: removed %d unfinished temp files from an earlier run (%v)", d, n, err)
		}
	}
}

func (j *job) fail(input string, err error) {
	f := Failure{Input: input, Err: err}
	j.sum.Failed++
	j.sum.Failures = append(j.sum.Failures, f)
	j.reporter.Failed(f)
}

// warn reports a problem that did not fail an input.
func (j *job) warn(input, msg string) {
	j.sum.Warnings = append(j.sum.Warnings, Warning{Input: input, Warning: msg})
	if w, ok := j.reporter.(Warner); ok {
		w.Warned(input, msg)
		return
	}
	j.reporter.Logf("WARN %s: %s", QuoteName(input), escapeControl(msg))
}

func (j *job) outPath(t *Target) string {
	return filepath.Join(j.outDir, filepath.FromSlash(t.OutRel))
}

// convert runs the leaders through the decode → infer → encode pipeline.
func (j *job) convert(ctx context.Context, leaders []*task, eo EngineOptions) error {
	eng, err := NewEngine(j.spec, j.opts.ModelData, eo)
	if err != nil {
		return &SetupError{err}
	}
	defer eng.Close()
	if so, ok := eng.LastSession(); ok {
		j.reporter.Logf("the last photo to start runs on a session of its own with %d intra-op threads, to use the cores the other workers leave", so.IntraOpThreads)
	}
	if b := eng.Budget(); b != nil {
		worst := b.Cost.Bytes(eng.worstPixels())
		j.reporter.Logf("memory budget %s (%s); one inference ≈ %s, %s at the largest size; %d of %d inference workers can run at once; sessions: %s",
			formatBytes(b.Limit), b.Source, b.Cost, formatBytes(worst), eng.MaxSessions(), j.opts.Jobs.Infer, eng.SessionOptions())
		defer func() {
			st := b.Stats()
			j.sum.Budget = &st
			j.reporter.Logf("memory budget: at most %d inferences admitted at once (%s estimated)", st.PeakConcurrency, formatBytes(st.PeakBytes))
		}()
	}
	cfg := pipeline.Config{Decoders: j.opts.Jobs.Decode, Inferers: j.opts.Jobs.Infer, Encoders: j.opts.Jobs.Encode}
	stages := Stages(eng, StageHooks[*task]{
		Photo: func(t *task) (string, OutputFormat) { return t.Path, t.Format },
		Store: j.write,
		Warn:  func(t *task, msg string) { t.warnings = append(t.warnings, msg) },
		Tiled: func(t *task, info TileInfo) { t.tiled = &info },
		Total: len(leaders),
	})
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

// write stores a result into its output file atomically, journals it and
// gives identical inputs their copies.
func (j *job) write(t *task, encode func(io.Writer) error) error {
	path := j.outPath(&t.Target)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating output folder: %w", err)
	}
	if err := writeAtomic(path, encode); err != nil {
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
	for _, w := range t.warnings {
		j.warn(t.Path, w)
	}
	switch {
	case res.Err == nil:
		if t.tiled != nil {
			t.tiled.Input = t.Path
			j.sum.Tiled = append(j.sum.Tiled, *t.tiled)
			if r, ok := j.reporter.(TileReporter); ok {
				r.Tiled(*t.tiled)
			}
		}
		j.sum.Converted++
		j.reporter.Converted(t.Target, false, res.Timings)
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

func describeTimings(tm Timings) string {
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
			return fmt.Errorf("internal error in %s: %w", se.Stage, pe)
		}
		return se.Err
	}
	return err
}
