package convert

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"animegan/imageio"
	"animegan/internal/testhook"
	"animegan/model"
	"animegan/tiling"
)

// setupTiling prepares the model's tiles for --tile auto or N from how
// Inspect found the model can be tiled (Spec.Tiling, a walk of its
// graph): one that cannot be is an error for --tile N, and for auto a
// reason kept for the images that would need tiles.
func (e *Engine) setupTiling() error {
	t := e.opts.Tile
	if err := validateTile(t, e.spec); err != nil {
		return err
	}
	if e.opts.Workers == 0 || t.Mode == TileOff || !e.spec.Dynamic() {
		return nil
	}
	tl := e.spec.Tiling
	if tl == nil {
		// A spec Inspect did not fill in: rewrite the model now, and keep
		// the tiler for the images (tilerFor) rather than rewrite it twice.
		tiler, err := e.tilerFor()
		var refused *model.TilingRefusedError
		switch {
		case err == nil:
			tl = &model.Tiling{Mode: tiler.Mode(), Overlap: tiler.Overlap()}
		case errors.As(err, &refused):
			tl = &model.Tiling{Mode: model.TileRefused, Reason: refused.Reason}
		default:
			return err
		}
	}
	if err := checkTiling(t, e.spec, tl); err != nil {
		return err
	}
	if tl.Mode == model.TileRefused {
		e.tileRefusal = &model.TilingRefusedError{Model: e.spec.Name, Reason: tl.Reason}
		return nil
	}
	e.tileable, e.tileStats = true, tl.Mode == model.TileThumbnail
	e.overlap = tileOverlap(t, tl)
	return nil
}

// CheckTile refuses, before any work, --tile and --tile-overlap values a
// run with the model would refuse at its start (a setup error): those
// validateTile refuses, a --tile N for a model whose graph cannot be
// tiled, or one no wider than twice the model's overlap. profile checks
// its flags with it as convert's engine does. A spec Inspect did not
// fill Tiling in for gets validateTile's checks alone (the engine makes
// the rest when it rewrites the model).
func CheckTile(t TileOptions, spec *model.Spec) error {
	if err := validateTile(t, spec); err != nil {
		return err
	}
	if spec.Tiling == nil || t.Mode == TileOff || !spec.Dynamic() {
		return nil
	}
	return checkTiling(t, spec, spec.Tiling)
}

// checkTiling is what of CheckTile depends on how the model tiles.
func checkTiling(t TileOptions, spec *model.Spec, tl *model.Tiling) error {
	if t.Mode != TileFixed {
		return nil
	}
	if tl.Mode == model.TileRefused {
		return fmt.Errorf("--tile %d: %w", t.Size, &model.TilingRefusedError{Model: spec.Name, Reason: tl.Reason})
	}
	if o := tileOverlap(t, tl); 2*o >= t.Size {
		return fmt.Errorf("--tile %d: the model's tiles overlap by %d px (its receptive field); use a tile larger than %d, or a smaller --tile-overlap",
			t.Size, o, 2*o)
	}
	return nil
}

// tileOverlap is the overlap between tiles: --tile-overlap, or the model's.
func tileOverlap(t TileOptions, tl *model.Tiling) int {
	if t.OverlapSet {
		return t.Overlap
	}
	return tl.Overlap
}

// tilerFor makes the model's tiler once, when the first image runs as
// tiles.
func (e *Engine) tilerFor() (*model.Tiler, error) {
	e.tilerOnce.Do(func() { e.tiler, e.tilerErr = model.NewTiler(e.spec, e.data) })
	return e.tiler, e.tilerErr
}

// Overlap is the overlap between tiles this engine uses (0 when it does
// not tile).
func (e *Engine) Overlap() int { return e.overlap }

// TileRefusal is why the model cannot be tiled (nil when it can, or when
// tiling is off).
func (e *Engine) TileRefusal() error { return e.tileRefusal }

// putSession gives a whole-image session back, or closes it while images
// run as tiles: its arena keeps its peak, which no admitted inference
// counts any more, and the tiles need that memory.
func (e *Engine) putSession(s *model.Session) {
	e.mu.Lock()
	tiling := e.tiled > 0
	e.mu.Unlock()
	if tiling {
		e.dropSession(s)
		return
	}
	e.sessions <- s
}

func (e *Engine) beginTiled() {
	e.mu.Lock()
	e.tiled++
	e.mu.Unlock()
	e.closeIdle()
}

func (e *Engine) endTiled() {
	e.mu.Lock()
	e.tiled--
	e.mu.Unlock()
}

// tileSessionOptions are the settings of an image's tile sessions when k
// of them run at once: the cores are split among them as among workers.
func (e *Engine) tileSessionOptions(k int) model.SessionOptions {
	so := e.opts.Session
	if e.opts.AutoThreads && e.opts.Cores > 0 {
		so.IntraOpThreads = max(1, e.opts.Cores/max(1, k))
		// Whole images may run beside the tiles on other workers.
		so.Spinning = false
	}
	return so
}

// inferTiled runs a tiled image: the statistics of its thumbnail (models
// with global normalisations), then its tiles, blended. The image's infer
// worker was admitted (Admit) with the image's own memory and one tile
// worker's inference: that worker runs tiles one after the other on a
// session of its own and so always progresses, whatever else waits for
// the budget. Up to tileJob.workers-1 more tile workers are each admitted
// by the budget as one tile inference, and hold that admission as long as
// their session (whose arena keeps a tile's peak) is alive; they stop
// waiting for room once every tile has been taken. The per-image
// --timeout covers the thumbnail and every tile.
func (e *Engine) inferTiled(ctx context.Context, d *Decoded) (*image.NRGBA, error) {
	e.beginTiled()
	defer e.endTiled()
	if e.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.opts.Timeout, errTimeout)
		defer cancel()
	}
	var done atomic.Int64
	out, err := e.runTiles(ctx, d.Img, d.tiles, &done)
	if err != nil {
		if errors.Is(context.Cause(ctx), errTimeout) {
			return nil, fmt.Errorf("inference timed out after %s (--timeout) with %d of %d tiles done", e.opts.Timeout, done.Load(), len(d.tiles.grid.Tiles))
		}
		return nil, err
	}
	img := resizeTo(out, d.W, d.H)
	if d.Alpha != nil {
		img = imageio.ApplyAlpha(img, d.Alpha)
	}
	return img, nil
}

func (e *Engine) runTiles(ctx context.Context, img *image.NRGBA, j *tileJob, done *atomic.Int64) (*image.NRGBA, error) {
	so := e.tileSessionOptions(j.workers)
	tiler, err := e.tilerFor()
	if err != nil {
		return nil, err
	}
	var st *model.Stats
	if j.thumb != (image.Point{}) {
		ss, err := tiler.NewStatsSession(so)
		if err != nil {
			return nil, err
		}
		thumb := imageio.Resize(img, j.thumb.X, j.thumb.Y)
		st, err = ss.Run(ctx, thumb)
		ss.Close()
		if err != nil {
			return nil, fmt.Errorf("thumbnail statistics at %dx%d: %w", j.thumb.X, j.thumb.Y, err)
		}
	}
	b := tiling.NewBlender(j.grid)
	n := int64(len(j.grid.Tiles))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	// waiting ends the extra workers' wait for room once every tile is
	// taken: the first worker alone can finish the image.
	waiting, stopWaiting := context.WithCancel(gctx)
	defer stopWaiting()
	worker := func(extra bool) error {
		if extra && e.budget != nil {
			release, err := e.budget.AcquireBytes(waiting, j.tileEst)
			if err != nil {
				return nil // no room before the tiles ran out, or the image failed
			}
			defer release()
		}
		if next.Load() >= n {
			return nil
		}
		s, err := tiler.NewTileSession(so)
		if err != nil {
			return err
		}
		defer s.Close()
		var buf *image.NRGBA
		for {
			i := next.Add(1) - 1
			if i >= n {
				return nil
			}
			r := j.grid.Tiles[i]
			buf = crop(buf, img, r)
			out, err := s.Run(gctx, buf, r, image.Pt(j.grid.W, j.grid.H), st)
			if err != nil {
				return fmt.Errorf("tile %d of %d (%v): %w", i+1, n, r, err)
			}
			if err := b.Add(int(i), out); err != nil {
				return err
			}
			done.Add(1)
			testhook.At(testhook.TileBlended)
		}
	}
	g.Go(func() error {
		defer stopWaiting()
		return worker(false)
	})
	for range j.workers - 1 {
		g.Go(func() error { return worker(true) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return b.Image()
}

// PlanTiles says, from its header alone, whether the photo at path would
// run as tiles and how (ok false: whole), or why it would fail (the
// budget cannot hold it whole and tiles cannot help). --dry-run asks it;
// the decoded photo is sized the same way, within a pixel of rounding
// for JPEGs decoded already shrunk.
func (e *Engine) PlanTiles(path string) (info TileInfo, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return TileInfo{}, false, nil // the run reports it
	}
	defer f.Close()
	h, err := imageio.Probe(f)
	if err != nil {
		return TileInfo{}, false, nil
	}
	w, ht := h.OrientedSize()
	g, err := e.spec.Fit(w, ht, e.opts.MaxSide)
	if err != nil {
		return TileInfo{}, false, nil
	}
	j, err := e.planTiles(g, w, ht)
	if err != nil || j == nil {
		return TileInfo{}, false, err
	}
	return j.info, true, nil
}
