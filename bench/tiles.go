package main

// The tiles section: how close tiled inference (issue 15) comes to
// running the whole image at once, at a size where the whole image still
// fits in memory.
//
// For each model and photo, in one process, one after the other:
//   - tiled with thumbnail statistics, as convert runs a big image: the
//     statistics model on a thumbnail, then the tile model on each tile
//     with those statistics, feathered together (package tiling);
//   - naive tiles: the original model on each tile, each with statistics
//     of its own (what tiling without the rewrite gives);
//   - with -tiles-exact, tiles with the statistics of the whole image
//     (the statistics model run at full size: the limit the thumbnail
//     approaches; as dear as the untiled run, so off by default);
//   - untiled: the original model on the whole image, the reference.
//
// It prints the PSNR of each tiled result from the untiled one, the seam
// score (tiling.SeamScore) of each on the same grid lines, and the time
// and peak RSS of tiled against untiled.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"animegan/convert"
	"animegan/imageio"
	"animegan/model"
	"animegan/optimize"
	"animegan/synth"
	"animegan/tiling"
)

// tileVariant is one way of tiling: tile side, overlap (0: the model's
// default) and the thumbnail's long side for the statistics.
type tileVariant struct{ tile, overlap, thumb int }

func (v tileVariant) String() string {
	return fmt.Sprintf("%d:%d:%d", v.tile, v.overlap, v.thumb)
}

func parseTileVariants(s string) ([]tileVariant, error) {
	var out []tileVariant
	for _, f := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(f), ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("-tiles-variants %q: want tile:overlap:thumb[,...], e.g. 512:0:512", s)
		}
		var v [3]int
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("-tiles-variants %q: %q is not a size", s, p)
			}
			v[i] = n
		}
		if v[0] < 8 || v[2] < 8 {
			return nil, fmt.Errorf("-tiles-variants %q: tile and thumbnail must be at least 8", s)
		}
		out = append(out, tileVariant{v[0], v[1], v[2]})
	}
	return out, nil
}

// tilesConfig is the tiles section's part of the flags.
type tilesConfig struct {
	n        int           // photos
	w, h     int           // landscape size; portraits are measured h x w
	variants []tileVariant // each measured against the same untiled run
	exact    bool
	models   string // comma-separated; "" picks the shared ones or the generated one
}

// tilePhoto is one photo at the measured size.
type tilePhoto struct {
	name string
	img  *image.NRGBA
}

// tileModel is one model to measure.
type tileModel struct {
	label, path string
}

func tileModels(c config) ([]tileModel, error) {
	if c.tiles.models != "" {
		var out []tileModel
		for _, p := range strings.Split(c.tiles.models, ",") {
			out = append(out, tileModel{filepath.Base(p), p})
		}
		return out, nil
	}
	var out []tileModel
	for _, m := range []tileModel{
		{"AnimeGANv2 arch, untrained (shared)", "models/animeganv2-arch-nchw.onnx"},
		{"AnimeGANv2 arch, trained (shared)", "models/animeganv2-arch-trained-nchw.onnx"},
	} {
		p := filepath.Join(c.shared, m.path)
		if _, err := os.Stat(p); err == nil {
			out = append(out, tileModel{m.label, p})
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	p, err := generatedModel(c.cache)
	if err != nil {
		return nil, err
	}
	return []tileModel{{"AnimeGANv2 arch, modelgen seed 1", p}}, nil
}

// tilePhotos are the n shared photos with the most pixels (the least
// upsampled), or when ../shared is absent n generated scenes, each scaled
// to cover w x h (h x w for portraits) and cropped to it in the middle.
func tilePhotos(c config, spec *model.Spec) ([]tilePhoto, error) {
	tc := c.tiles
	files, _ := filepath.Glob(filepath.Join(c.shared, "photos", "*.jpg"))
	if len(files) == 0 {
		var out []tilePhoto
		for i := range tc.n {
			out = append(out, tilePhoto{fmt.Sprintf("generated%02d", i), synth.Scene(int64(500+i), tc.w, tc.h)})
		}
		return out, nil
	}
	type sized struct {
		path   string
		pixels int
	}
	var all []sized
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		cfg, err := jpeg.DecodeConfig(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, sized{f, cfg.Width * cfg.Height})
	}
	slices.SortStableFunc(all, func(a, b sized) int {
		if a.pixels != b.pixels {
			return b.pixels - a.pixels
		}
		return naturalLess(a.path, b.path)
	})
	eng, err := convert.NewEngine(spec, nil, convert.EngineOptions{MaxSide: 0})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	var out []tilePhoto
	for _, s := range all[:min(tc.n, len(all))] {
		d, err := eng.Decode(s.path, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.path, err)
		}
		w, h := tc.w, tc.h
		if d.Img.Rect.Dx() < d.Img.Rect.Dy() {
			w, h = h, w
		}
		out = append(out, tilePhoto{filepath.Base(s.path), coverCrop(d.Img, w, h)})
	}
	return out, nil
}

// coverCrop scales src to cover w x h, keeping its shape, and crops the
// middle.
func coverCrop(src *image.NRGBA, w, h int) *image.NRGBA {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	scale := max(float64(w)/float64(sw), float64(h)/float64(sh))
	rw, rh := max(w, int(math.Ceil(float64(sw)*scale))), max(h, int(math.Ceil(float64(sh)*scale)))
	big := imageio.Resize(src, rw, rh)
	x0, y0 := (rw-w)/2, (rh-h)/2
	return crop(big, image.Rect(x0, y0, x0+w, y0+h))
}

// crop copies r out of img (tiles go to the model as images of their own).
func crop(img *image.NRGBA, r image.Rectangle) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(out.Pix[(y-r.Min.Y)*out.Stride:][:4*r.Dx()], img.Pix[img.PixOffset(r.Min.X, y):])
	}
	return out
}

// tileRun is one way of producing one photo's output: its pixels, wall
// and CPU time, and the process's peak RSS while it ran.
type tileRun struct {
	img       *image.NRGBA
	wall, cpu time.Duration
	peak      int64
}

// timed runs f with the peak RSS reset before it.
func timed(f func() (*image.NRGBA, error)) (tileRun, error) {
	runtime.GC()
	resetPeak()
	start, cpu0 := time.Now(), processCPU()
	img, err := f()
	return tileRun{img: img, wall: time.Since(start), cpu: processCPU() - cpu0, peak: rssBytes("VmHWM")}, err
}

// tileResult is one model, variant and photo.
type tileResult struct {
	photo                  string
	grid                   tiling.Grid
	thumb                  image.Point
	untiled, tiled         tileRun
	naive, exact           *tileRun
	psnrTiled              float64
	psnrNaive, psnrExact   float64
	seamUntiled, seamTiled float64
	seamNaive, seamExact   float64
}

func runTiles(c config) error {
	if c.tiles.n == 0 {
		return bigPhoto(c) // -tiles-n 0: the 48 MP photo alone
	}
	models, err := tileModels(c)
	if err != nil {
		return err
	}
	fmt.Printf("\ntiles: %d photos at %dx%d (portraits %dx%d), one session of %d threads for every run\n",
		c.tiles.n, c.tiles.w, c.tiles.h, c.tiles.h, c.tiles.w, runtime.NumCPU())
	var table []tileRow
	for _, m := range models {
		rows, err := measureTiles(c, m)
		if err != nil {
			return fmt.Errorf("tiles, %s: %w", m.label, err)
		}
		table = append(table, rows...)
	}
	printTileRows(table)
	if c.big {
		return bigPhoto(c)
	}
	return nil
}

func measureTiles(c config, m tileModel) ([]tileRow, error) {
	data, err := os.ReadFile(m.path)
	if err != nil {
		return nil, err
	}
	spec, err := model.Inspect(m.path, data, model.Overrides{})
	if err != nil {
		return nil, err
	}
	tiler, err := model.NewTiler(spec, data)
	if err != nil {
		return nil, err
	}
	photos, err := tilePhotos(c, spec)
	if err != nil {
		return nil, err
	}
	fmt.Printf("%s: %s, %s tiles, receptive field %d px, default overlap %d px\n",
		m.label, m.path, tiler.Mode(), tiler.ReceptiveField(), tiler.Overlap())

	// Sessions live for one phase each: ONNX Runtime's arena keeps a
	// session's peak (a statistics model run on a 1024 px thumbnail
	// holds ~3 GB), and the untiled run needs ~10 GB of its own.
	so := model.DefaultSessionOptions(1, 0)
	type closer interface{ Close() error }
	open := func(mk func() (closer, error)) (closer, func(), error) {
		s, err := mk()
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	tileSession := func() (*model.TileSession, func(), error) {
		s, done, err := open(func() (closer, error) { return tiler.NewTileSession(so) })
		if err != nil {
			return nil, nil, err
		}
		return s.(*model.TileSession), done, nil
	}
	statsSession := func() (*model.StatsSession, func(), error) {
		s, done, err := open(func() (closer, error) { return tiler.NewStatsSession(so) })
		if err != nil {
			return nil, nil, err
		}
		return s.(*model.StatsSession), done, nil
	}
	plainSession := func() (*model.Session, func(), error) {
		s, done, err := open(func() (closer, error) { return model.NewSession(spec, data, so) })
		if err != nil {
			return nil, nil, err
		}
		return s.(*model.Session), done, nil
	}
	ctx := context.Background()

	// runTiled runs every tile of g through run and blends them.
	runTiled := func(img *image.NRGBA, g tiling.Grid, run func(*image.NRGBA, image.Rectangle) (*image.NRGBA, error)) (*image.NRGBA, error) {
		b := tiling.NewBlender(g)
		for i, r := range g.Tiles {
			out, err := run(crop(img, r), r)
			if err != nil {
				return nil, fmt.Errorf("tile %d %v: %w", i, r, err)
			}
			if err := b.Add(i, out); err != nil {
				return nil, err
			}
		}
		return b.Image()
	}

	results := make([][]tileResult, len(c.tiles.variants))
	for _, p := range photos {
		W, H := p.img.Rect.Dx(), p.img.Rect.Dy()
		fmt.Fprintf(os.Stderr, "  %s (%dx%d):\n", p.name, W, H)
		var exactStats *model.Stats
		var perVariant []tileResult
		naiveByGrid := map[string]*tileRun{}
		for _, v := range c.tiles.variants {
			overlap := v.overlap
			if overlap == 0 {
				overlap = tiler.Overlap()
			}
			g, err := tiling.NewGrid(W, H, v.tile, overlap, spec.Multiple)
			if err != nil {
				return nil, err
			}
			r := tileResult{photo: p.name, grid: g}
			geom, err := spec.Fit(W, H, v.thumb)
			if err != nil {
				return nil, err
			}
			r.thumb = image.Pt(geom.ModelW, geom.ModelH)
			// Sessions are made before the clock starts (convert
			// makes its own once per run).
			tileSess, doneTile, err := tileSession()
			if err != nil {
				return nil, err
			}
			var statsSess *model.StatsSession
			doneStats := func() {}
			if tiler.NeedsStats() {
				if statsSess, doneStats, err = statsSession(); err != nil {
					return nil, err
				}
			}
			r.tiled, err = timed(func() (*image.NRGBA, error) {
				var st *model.Stats
				if statsSess != nil {
					thumb := imageio.Resize(p.img, geom.ModelW, geom.ModelH)
					if st, err = statsSess.Run(ctx, thumb); err != nil {
						return nil, fmt.Errorf("statistics of the thumbnail: %w", err)
					}
				}
				return runTiled(p.img, g, func(t *image.NRGBA, r image.Rectangle) (*image.NRGBA, error) {
					return tileSess.Run(ctx, t, r, p.img.Rect.Size(), st)
				})
			})
			doneStats()
			if err != nil {
				doneTile()
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "    %d tiles of %dx%d (at most %d), overlap %d, thumbnail %dx%d: %s\n", len(g.Tiles), g.Tiles[0].Dx(), g.Tiles[0].Dy(), v.tile, overlap, geom.ModelW, geom.ModelH, secs(r.tiled.wall))
			if tiler.NeedsStats() && c.tiles.exact {
				if exactStats == nil {
					st, done, err := statsSession()
					if err != nil {
						doneTile()
						return nil, err
					}
					start := time.Now()
					exactStats, err = st.Run(ctx, p.img)
					done() // a whole-image arena: ~10 GB at 2048x1536
					if err != nil {
						doneTile()
						return nil, fmt.Errorf("statistics of the whole image: %w", err)
					}
					fmt.Fprintf(os.Stderr, "    exact statistics: %s\n", secs(time.Since(start)))
				}
				e, err := timed(func() (*image.NRGBA, error) {
					return runTiled(p.img, g, func(t *image.NRGBA, r image.Rectangle) (*image.NRGBA, error) {
						return tileSess.Run(ctx, t, r, p.img.Rect.Size(), exactStats)
					})
				})
				if err != nil {
					doneTile()
					return nil, err
				}
				r.exact = &e
			}
			doneTile()
			if tiler.NeedsStats() {
				key := fmt.Sprintf("%d:%d", v.tile, overlap)
				if naiveByGrid[key] == nil {
					plain, done, err := plainSession()
					if err != nil {
						return nil, err
					}
					n, err := timed(func() (*image.NRGBA, error) {
						return runTiled(p.img, g, func(t *image.NRGBA, _ image.Rectangle) (*image.NRGBA, error) { return plain.Run(ctx, t) })
					})
					done()
					if err != nil {
						return nil, err
					}
					naiveByGrid[key] = &n
					fmt.Fprintf(os.Stderr, "    naive tiles: %s\n", secs(n.wall))
				}
				r.naive = naiveByGrid[key]
			}
			perVariant = append(perVariant, r)
		}
		// The reference last: its arena is the process's largest, and
		// what the allocator keeps of it would count in later peaks.
		// Its session is made before the clock starts, like the tiles'.
		whole, doneWhole, err := plainSession()
		if err != nil {
			return nil, err
		}
		untiled, err := timed(func() (*image.NRGBA, error) { return whole.Run(ctx, p.img) })
		doneWhole()
		if err != nil {
			return nil, fmt.Errorf("untiled %s: %w", p.name, err)
		}
		fmt.Fprintf(os.Stderr, "    untiled: %s, peak RSS %.2f GB\n", secs(untiled.wall), float64(untiled.peak)/1e9)
		for i := range perVariant {
			r := &perVariant[i]
			r.untiled = untiled
			r.psnrTiled = optimize.PSNR(untiled.img, r.tiled.img)
			r.seamUntiled = tiling.SeamScore(untiled.img, r.grid)
			r.seamTiled = tiling.SeamScore(r.tiled.img, r.grid)
			if r.naive != nil {
				r.psnrNaive = optimize.PSNR(untiled.img, r.naive.img)
				r.seamNaive = tiling.SeamScore(r.naive.img, r.grid)
			}
			if r.exact != nil {
				r.psnrExact = optimize.PSNR(untiled.img, r.exact.img)
				r.seamExact = tiling.SeamScore(r.exact.img, r.grid)
			}
			fmt.Fprintf(os.Stderr, "    %s: PSNR tiled %.2f dB; seam untiled %.3f, tiled %.3f", c.tiles.variants[i], r.psnrTiled, r.seamUntiled, r.seamTiled)
			if r.naive != nil {
				fmt.Fprintf(os.Stderr, "; naive: PSNR %.2f dB, seam %.3f", r.psnrNaive, r.seamNaive)
			}
			fmt.Fprintln(os.Stderr)
			results[i] = append(results[i], *r)
			// Keep the figures, not the pixels.
			r.tiled.img, r.untiled.img = nil, nil
		}
	}
	var rows []tileRow
	for i, v := range c.tiles.variants {
		rows = append(rows, summarise(m.label, tiler, v, results[i]))
	}
	return rows, nil
}

// tileRow is one line of the tiles table: one model and variant over the
// photos.
type tileRow struct {
	model       string
	mode        string
	variant     tileVariant
	overlap     int
	photos      int
	size        string
	tiles       int     // per photo (the first's)
	tileDims    string  // the first photo's first tile
	pixels      float64 // tile pixels computed over image pixels
	thumb       string
	psnr        [3]meanWorst // tiled, naive, exact
	seamUntiled float64
	seam        [3]float64 // tiled, naive, exact: mean
	seamExcess  float64    // worst tiled - untiled
	untiled     time.Duration
	tiled       time.Duration
	untiledCPU  time.Duration
	tiledCPU    time.Duration
	peakUntiled int64
	peakTiled   int64
	haveNaive   bool
	haveExact   bool
}

type meanWorst struct{ mean, worst float64 }

func summarise(label string, tiler *model.Tiler, v tileVariant, rs []tileResult) tileRow {
	row := tileRow{model: label, mode: tiler.Mode().String(), variant: v, photos: len(rs)}
	if len(rs) == 0 {
		return row
	}
	g := rs[0].grid
	row.overlap = g.Overlap
	row.size = fmt.Sprintf("%dx%d", g.W, g.H)
	row.tiles = len(g.Tiles)
	row.tileDims = fmt.Sprintf("%dx%d", g.Tiles[0].Dx(), g.Tiles[0].Dy())
	var tilePx float64
	for _, t := range g.Tiles {
		tilePx += float64(t.Dx() * t.Dy())
	}
	row.pixels = tilePx / float64(g.W*g.H)
	row.thumb = "-" // exact tiles need no statistics
	if tiler.NeedsStats() {
		row.thumb = fmt.Sprintf("%dx%d", rs[0].thumb.X, rs[0].thumb.Y)
	}
	for k := range row.psnr {
		row.psnr[k].worst = math.Inf(1)
	}
	row.seamExcess = math.Inf(-1)
	n := float64(len(rs))
	for _, r := range rs {
		add := func(k int, p, s float64) {
			row.psnr[k].mean += p / n
			row.psnr[k].worst = min(row.psnr[k].worst, p)
			row.seam[k] += s / n
		}
		add(0, r.psnrTiled, r.seamTiled)
		row.seamUntiled += r.seamUntiled / n
		row.seamExcess = max(row.seamExcess, r.seamTiled-r.seamUntiled)
		if r.naive != nil {
			row.haveNaive = true
			add(1, r.psnrNaive, r.seamNaive)
		}
		if r.exact != nil {
			row.haveExact = true
			add(2, r.psnrExact, r.seamExact)
		}
		row.untiled += r.untiled.wall
		row.tiled += r.tiled.wall
		row.untiledCPU += r.untiled.cpu
		row.tiledCPU += r.tiled.cpu
		row.peakUntiled = max(row.peakUntiled, r.untiled.peak)
		row.peakTiled = max(row.peakTiled, r.tiled.peak)
	}
	return row
}

func printTileRows(rows []tileRow) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "model\ttiles\tphotos\tsize\ttile (at most)\toverlap\ttiles/photo\ttile px / image px\tthumbnail\tPSNR tiled mean / worst\tnaive\texact stats\tseam untiled\ttiled\tnaive\texact\tworst tiled - untiled\ttime untiled\ttiled\tratio\tCPU ratio\tpeak RSS untiled\ttiled\t")
	for _, r := range rows {
		mw := func(k int, have bool) string {
			if !have {
				return "-"
			}
			return fmt.Sprintf("%.2f / %.2f dB", r.psnr[k].mean, r.psnr[k].worst)
		}
		sc := func(k int, have bool) string {
			if !have {
				return "-"
			}
			return fmt.Sprintf("%.3f", r.seam[k])
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s (%d)\t%d\t%d\t%.2f\t%s\t%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%+.3f\t%s\t%s\t%.2f\t%.2f\t%.2f GB\t%.2f GB\t\n",
			r.model, r.mode, r.photos, r.size, r.tileDims, r.variant.tile, r.overlap, r.tiles, r.pixels, r.thumb,
			mw(0, true), mw(1, r.haveNaive), mw(2, r.haveExact),
			r.seamUntiled, sc(0, true), sc(1, r.haveNaive), sc(2, r.haveExact), r.seamExcess,
			secs(r.untiled), secs(r.tiled), r.tiled.Seconds()/r.untiled.Seconds(), r.tiledCPU.Seconds()/r.untiledCPU.Seconds(),
			float64(r.peakUntiled)/1e9, float64(r.peakTiled)/1e9)
	}
	w.Flush()
	fmt.Println("tiled = thumbnail statistics (the statistics model on the thumbnail, then the tile model on each tile), feathered with package tiling;")
	fmt.Println("naive = the original model on each tile (statistics of its own); exact stats = the statistics model run on the whole image (-tiles-exact);")
	fmt.Println("PSNR from the untiled result (the original model on the whole image), over all photos: mean / worst (target: tiled >= 34 dB);")
	fmt.Println("seam = tiling.SeamScore on the same grid lines: mean over photos; worst tiled - untiled over photos (target: <= +0.05);")
	fmt.Println("time = summed wall time over photos (tiled includes the thumbnail statistics and blending); CPU ratio = the same with process CPU time;")
	fmt.Println("peak RSS = the process's peak while each ran (reset before each; includes the photos held; each run's sessions are made for it and closed after).")
}

// bigPhoto converts one generated 48 MP photo (8000x6000) at full
// resolution under a 2 GiB budget with the binary, as a user would, and
// prints its time, peak RSS (the kernel's figure for the child) and how
// convert tiled it (its --verbose line). The target: peak RSS
// under 3 GB.
func bigPhoto(c config) error {
	dir := filepath.Join(c.cache, "photo-48mp")
	path := filepath.Join(dir, "scene48.jpg")
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(os.Stderr, "generating an 8000x6000 photo in %s ...\n", dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		data, err := synth.EncodeJPEG(synth.Scene(48, 8000, 6000), 90, 0)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	out, err := os.MkdirTemp("", "animegan-bench-48mp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	args := []string{"convert", dir, "-o", out, "-m", c.model, "--max-size", "0", "--mem-budget", c.bigBudget, "--verbose"}
	if c.ortLib != "" {
		args = append(args, "--ort-lib", c.ortLib)
	}
	fmt.Fprintf(os.Stderr, "converting it: %s %s\n", c.binary, strings.Join(args, " "))
	cmd := exec.Command(c.binary, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("convert: %v\n%s", err, stderr.String())
	}
	var peak int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = ru.Maxrss * 1024
	}
	how := "ran whole"
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "tiled") && strings.Contains(line, "tiles of") {
			how = strings.TrimSpace(line)
		}
	}
	fmt.Printf("\n48 MP photo (generated 8000x6000), animegan convert --max-size 0 --mem-budget %s -m %s:\n", c.bigBudget, filepath.Base(c.model))
	fmt.Printf("  %s, peak RSS %.2f GB (target: under 3 GB); %s\n", secs(wall), float64(peak)/1e9, how)
	return nil
}
