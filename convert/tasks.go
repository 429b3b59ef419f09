package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// task is one output to produce. Inputs with identical content are
// converted once: the first (the leader) goes through the pipeline, the
// rest (its followers) get a copy of its output.
type task struct {
	Target
	size    int64
	modTime int64
	sha256  string
	// fingerprint of the model and settings its output depends on.
	fingerprint string

	followers []*task
	copyErrs  []error   // per follower, set by the encode stage
	upToDate  bool      // the manifest says its output is current
	why       string    // why it is skipped or converted, for --dry-run and logs
	source    string    // for a copy-only task: an up-to-date identical output
	reported  bool      // the pipeline has given its result
	warnings  []string  // problems that did not fail it, reported when it is done
	tiled     *TileInfo // how it was tiled; nil when it ran whole
	// tiling is Record.Tiling of an up-to-date output (and of its
	// copies); "" for an output this run makes, whose tiled says.
	tiling string
}

// plan is the work left after resume and de-duplication.
type plan struct {
	leaders  []*task // to convert
	copies   []*task // copy-only: an identical input's output is already done
	skipped  int
	upToDate []*task // the skipped
	todo     int     // leaders + followers + copies
	failures []Failure
}

// plan decides for every target: skip (its output is up to date), copy
// (an identical input's output is), or convert.
func (j *job) plan(ctx context.Context, targets []Target) plan {
	tasks := make([]*task, len(targets))
	errs := make([]error, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	for i := range targets {
		tasks[i] = &task{Target: targets[i]}
		g.Go(func() error {
			if gctx.Err() == nil {
				errs[i] = j.identify(tasks[i])
			}
			return nil
		})
	}
	g.Wait()

	var p plan
	// Identical inputs share an output only when it is made the same way
	// (same settings, which include the output format): a photo.jpg and
	// its copy saved as photo.png must not get the JPEG's bytes.
	key := func(t *task) string { return t.sha256 + "|" + t.fingerprint }
	done := make(map[string]*task) // key → an up-to-date output
	var pending []*task
	for i, t := range tasks {
		switch {
		case errs[i] != nil:
			p.failures = append(p.failures, Failure{Input: t.Path, Err: errs[i]})
		case t.upToDate:
			p.skipped++
			p.upToDate = append(p.upToDate, t)
			done[key(t)] = t
		default:
			pending = append(pending, t)
		}
	}
	leaders := make(map[string]*task)
	for _, t := range pending {
		p.todo++
		if src, ok := done[key(t)]; ok {
			t.source = j.outPath(&src.Target)
			t.tiling, t.tiled = src.tiling, src.tiled
			t.why = "identical to " + src.Path + ", whose output is up to date"
			p.copies = append(p.copies, t)
			continue
		}
		if l, ok := leaders[key(t)]; ok {
			t.why = "identical to " + l.Path + ", converted once"
			l.followers = append(l.followers, t)
			continue
		}
		leaders[key(t)] = t
		p.leaders = append(p.leaders, t)
	}
	return p
}

// identify stats and hashes the input and checks the manifest. The hash is
// only computed when size and mtime do not already match the record.
func (j *job) identify(t *task) error {
	info, err := os.Stat(t.Path)
	if err != nil {
		return describeFSError(err)
	}
	if info.IsDir() {
		return fmt.Errorf("is a directory, not an image")
	}
	t.size, t.modTime = info.Size(), info.ModTime().UnixNano()
	t.fingerprint = j.fingerprints[t.Format]
	rec, ok := j.manifest.Lookup(t.OutRel)
	tilingOK := j.tilingCurrent(rec)
	if ok && !j.opts.Overwrite && rec.Fingerprint == t.fingerprint && tilingOK && rec.Input == t.Path &&
		rec.Size == t.size && rec.ModTime == t.modTime && j.outputIntact(t, rec) {
		t.sha256, t.upToDate, t.why = rec.SHA256, true, "up to date"+j.madeAs(rec)
		t.tiling, t.tiled = rec.Tiling, rec.Tiled
		return nil
	}
	if t.sha256, err = hashFile(t.Path); err != nil {
		return err
	}
	switch {
	case !ok:
		t.why = "no earlier output"
	case j.opts.Overwrite:
		t.why = "--overwrite"
	case rec.Fingerprint != t.fingerprint:
		t.why = "made with another model or settings"
	case !tilingOK:
		t.why = "made " + j.describeTiling(rec) + ", not with " + describeTileOptions(j.opts.Tile)
	case rec.SHA256 != t.sha256:
		t.why = "input changed"
	case !j.outputIntact(t, rec):
		t.why = "output missing or altered"
	default:
		t.upToDate, t.why = true, "up to date (same content, touched or moved)"+j.madeAs(rec)
		t.tiling, t.tiled = rec.Tiling, rec.Tiled
	}
	return nil
}

// tilingCurrent says whether an output made as rec says fits this run's
// --tile settings. One made whole always does: tiles only approximate the
// whole inference, so remaking it as tiles would make it no better. One
// made as tiles does when it was made with the same --tile and
// --tile-overlap: under --tile auto, whatever tile the budget of the run
// that made it chose (a tile size is the budget's, not the user's,
// choice; a re-run with --tile off remakes exactly the outputs made as
// tiles). A record from before outputs recorded their tiling was made
// under --tile auto (the other settings changed the fingerprint then):
// it fits that alone.
func (j *job) tilingCurrent(rec Record) bool {
	switch rec.Tiling {
	case TilingWhole:
		return true
	case "":
		return j.opts.Tile == TileOptions{}
	}
	return rec.Tiling == tileSettings(j.opts.Tile)
}

// madeAs is what a skip's reason adds about how the output was made.
func (j *job) madeAs(rec Record) string {
	switch {
	case rec.Tiled != nil:
		return "; made as " + rec.Tiled.String()
	case rec.Tiling == TilingWhole && j.opts.Tile.Mode == TileFixed:
		return "; made whole"
	}
	return ""
}

// describeTiling says how rec's output was made, for a reason to remake it.
func (j *job) describeTiling(rec Record) string {
	if rec.Tiling == "" {
		return "under --tile auto, as tiles or whole (not recorded)"
	}
	s := "as tiles"
	if rec.Tiled != nil {
		s = fmt.Sprintf("as %d tiles of %d px (overlap %d)", rec.Tiled.Tiles, rec.Tiled.Tile, rec.Tiled.Overlap)
	}
	o, err := parseTileSettings(rec.Tiling)
	if err != nil {
		return s + " (" + rec.Tiling + ")"
	}
	return s + " with " + describeTileOptions(o)
}

// describeTileOptions is t as flags: "--tile auto --tile-overlap 16".
func describeTileOptions(t TileOptions) string {
	s := "--tile " + t.String()
	if t.OverlapSet {
		s += " --tile-overlap " + t.OverlapString()
	}
	return s
}

func (j *job) outputIntact(t *task, rec Record) bool {
	info, err := os.Stat(j.outPath(&t.Target))
	return err == nil && info.Mode().IsRegular() && info.Size() == rec.OutputSize
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", describeFSError(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// record journals an output that has just landed.
func (j *job) record(t *task, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("output vanished after writing: %w", err)
	}
	tiling, tiled := t.tiling, t.tiled
	switch {
	case tiling != "":
	case tiled != nil:
		tiling = tileSettings(j.opts.Tile)
	default:
		tiling = TilingWhole
	}
	if tiled != nil {
		c := *tiled
		c.Input, tiled = t.Path, &c
	}
	return j.manifest.Add(Record{
		Output: t.OutRel, Input: t.Path, Size: t.size, ModTime: t.modTime,
		SHA256: t.sha256, Fingerprint: t.fingerprint, OutputSize: info.Size(),
		Tiling: tiling, Tiled: tiled,
	})
}

// copyToFollowers gives each identical input the leader's output bytes.
func (j *job) copyToFollowers(leader *task, src string) []error {
	errs := make([]error, len(leader.followers))
	for i, f := range leader.followers {
		f.tiled = leader.tiled
		errs[i] = j.copyOutput(f, src)
	}
	return errs
}

func (j *job) copyOutput(t *task, src string) error {
	dst := j.outPath(&t.Target)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating output folder: %w", err)
	}
	err := writeAtomic(dst, func(w io.Writer) error {
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(w, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("copying the output of an identical input: %w", err)
	}
	return j.record(t, dst)
}

// finishCopies reports a leader's followers, or performs and reports a
// copy-only task.
func (j *job) finishCopies(t *task) {
	if t.source != "" {
		if err := j.copyOutput(t, t.source); err != nil {
			j.fail(t.Path, err)
			return
		}
		j.sum.Converted++
		j.sum.Duplicates++
		j.reporter.Converted(t.Target, true, Timings{})
		return
	}
	for i, f := range t.followers {
		if err := t.copyErrs[i]; err != nil {
			j.fail(f.Path, err)
			continue
		}
		j.sum.Converted++
		j.sum.Duplicates++
		j.reporter.Converted(f.Target, true, Timings{})
	}
}
