package model_test

import (
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // ANIMEGAN_TILE_PHOTO
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/draw"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
	"animegan/tiling"
)

// TestMeasureTiling prints the figures behind the default overlap
// (README "How a model is tiled"): the effective receptive field of the
// AnimeGANv2 architecture beside the traced one, and PSNR from the
// untiled result against the overlap, for 256 and 512 px tiles with
// thumbnail statistics and feathered blending. Minutes of CPU: run by
// hand with ANIMEGAN_TILE_MEASURE=1 (and a photo in ANIMEGAN_TILE_PHOTO,
// else the synthetic scene).
func TestMeasureTiling(t *testing.T) {
	if os.Getenv("ANIMEGAN_TILE_MEASURE") == "" {
		t.Skip("set ANIMEGAN_TILE_MEASURE=1 to measure")
	}
	ortest.Init(t)
	models := map[string][]byte{}
	models["modelgen animeganv2 (untrained)"] = gen(t, func() ([]byte, error) { return modelgen.AnimeGANv2(modelgen.NCHW, 7) })
	for _, up := range []string{"..", "../.."} { // beside /work/main, or beside a worktree under /work/wt
		if b, err := os.ReadFile(filepath.Join(ortest.ModuleRoot(), up, "shared", "models", "animeganv2-arch-trained-nchw.onnx")); err == nil {
			models["shared animeganv2-arch-trained-nchw"] = b
			break
		}
	}
	img := scene(1280, 512)
	if p := os.Getenv("ANIMEGAN_TILE_PHOTO"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		src, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		img = image.NewNRGBA(image.Rect(0, 0, 1280, 512))
		draw.CatmullRom.Scale(img, img.Rect, src, src.Bounds(), draw.Src, nil)
	}
	opts := model.SessionOptions{IntraOpThreads: 2, InterOpThreads: 1}
	ctx := context.Background()
	for name, data := range models {
		spec, tl := tilerOf(t, name, data)
		ss, err := tl.NewStatsSession(opts)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := tl.NewTileSession(opts)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := model.NewSession(spec, data, opts)
		if err != nil {
			t.Fatal(err)
		}

		// Effective receptive field: one pixel changed in the middle of
		// a 256x256 crop, statistics held at the unchanged crop's.
		crop := image.NewNRGBA(image.Rect(0, 0, 256, 256))
		draw.Copy(crop, image.Point{}, img, image.Rect(256, 128, 512, 384), draw.Src, nil)
		st, err := ss.Run(ctx, crop)
		if err != nil {
			t.Fatal(err)
		}
		base, _, err := ts.RunFloats(ctx, crop, st)
		if err != nil {
			t.Fatal(err)
		}
		poked := image.NewNRGBA(crop.Rect)
		copy(poked.Pix, crop.Pix)
		i := poked.PixOffset(128, 128)
		poked.Pix[i], poked.Pix[i+1], poked.Pix[i+2] = 255-poked.Pix[i], 255-poked.Pix[i+1], 255-poked.Pix[i+2]
		got, _, err := ts.RunFloats(ctx, poked, st)
		if err != nil {
			t.Fatal(err)
		}
		var reach [3]int // farthest change > 1e-4, > 1 level (2/255), and the radius holding 99% of the change
		total := 0.0
		byRadius := make([]float64, 129)
		for c := 0; c < 3; c++ {
			for y := 0; y < 256; y++ {
				for x := 0; x < 256; x++ {
					d := math.Abs(float64(got[c*65536+y*256+x] - base[c*65536+y*256+x]))
					r := max(abs(x-128), abs(y-128))
					if d > 1e-4 {
						reach[0] = max(reach[0], r)
					}
					if d > 2.0/255 {
						reach[1] = max(reach[1], r)
					}
					byRadius[min(r, 128)] += d
					total += d
				}
			}
		}
		acc := 0.0
		for r, v := range byRadius {
			acc += v
			if acc >= 0.99*total {
				reach[2] = r
				break
			}
		}
		fmt.Printf("%s: receptive field traced %d px; one pixel changed moves outputs up to %d px away (> 1e-4), %d px (> one 8-bit level); 99%% of the change within %d px; default overlap %d\n",
			name, tl.ReceptiveField(), reach[0], reach[1], reach[2], tl.Overlap())

		untiled, err := whole.Run(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		thumb, err := ss.Run(ctx, img) // the whole image's own statistics: only the overlap differs
		if err != nil {
			t.Fatal(err)
		}
		for _, tile := range []int{256, 512} {
			for _, ov := range []int{0, 16, 32, 48, 64, 96} {
				out := feathered(t, ts, img, tile, ov, thumb)
				fmt.Printf("%s: %d px tiles, overlap %2d px: PSNR %.1f dB from untiled\n", name, tile, ov, psnr(untiled, out))
			}
		}
		ss.Close()
		ts.Close()
		whole.Close()
	}
}

func abs(x int) int { return max(x, -x) }

// feathered tiles img with ov px of overlap (more before the last tile), weights falling
// linearly to zero across each overlap (summing to one), as the tiling
// package's Blender does.
func feathered(t *testing.T, ts *model.TileSession, img *image.NRGBA, tile, ov int, st *model.Stats) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	pos := func(n int) []int {
		if n <= tile {
			return []int{0}
		}
		// steps of tile-ov; the last tile shifted inwards to end at the
		// edge (as tiling.NewGrid places them)
		var out []int
		for x := 0; ; x += tile - ov {
			if x+tile >= n {
				out = append(out, n-tile)
				return out
			}
			out = append(out, x)
		}
	}
	xs, ys := pos(w), pos(h)
	acc := make([]float64, 3*w*h)
	wsum := make([]float64, w*h)
	ramp := func(d, o int) float64 {
		if o <= 0 {
			return 1
		}
		return math.Min(1, (float64(d)+0.5)/float64(o))
	}
	for iy, y0 := range ys {
		for ix, x0 := range xs {
			tw, th := min(tile, w), min(tile, h)
			res := runTileAt(t, ts, img, image.Rect(x0, y0, x0+tw, y0+th), st)
			// overlap with each neighbour, on each side
			ol, or_, ot, ob := 0, 0, 0, 0
			if ix > 0 {
				ol = xs[ix-1] + tw - x0
			}
			if ix < len(xs)-1 {
				or_ = x0 + tw - xs[ix+1]
			}
			if iy > 0 {
				ot = ys[iy-1] + th - y0
			}
			if iy < len(ys)-1 {
				ob = y0 + th - ys[iy+1]
			}
			for y := 0; y < th; y++ {
				wy := math.Min(ramp(y, ot), ramp(th-1-y, ob))
				for x := 0; x < tw; x++ {
					wt := wy * math.Min(ramp(x, ol), ramp(tw-1-x, or_))
					if ov == 0 {
						wt = 1e-9 // no feathering: the later tile wins
						if (ix == 0 || x >= ol/2) && (iy == 0 || y >= ot/2) {
							wt = 1
						}
					}
					p := res.Pix[y*res.Stride+4*x:]
					k := (y0+y)*w + x0 + x
					for c := 0; c < 3; c++ {
						acc[3*k+c] += wt * float64(p[c])
					}
					wsum[k] += wt
				}
			}
		}
	}
	out := image.NewNRGBA(img.Rect)
	for k := 0; k < w*h; k++ {
		for c := 0; c < 3; c++ {
			out.Pix[4*k+c] = uint8(math.Round(acc[3*k+c] / wsum[k]))
		}
		out.Pix[4*k+3] = 255
	}
	return out
}

// TestMeasureGrid prints the figures behind the default overlap with the
// tile model sampling where the whole image does (README "How a model is
// tiled"): for the shared AnimeGANv2-architecture models, each photo in
// ANIMEGAN_TILE_PHOTOS (comma-separated; else the synthetic scene) scaled
// and cropped to 1024x768, in 512 px tiles as tiling.NewGrid lays them
// out and tiling.Blender blends them, with the whole image's own
// statistics (so that only the tiling differs): PSNR from the untiled
// result, seam scores, and the RMS error (8-bit levels) by distance from
// the nearest tile edge inside the image, against the overlap. Minutes of
// CPU: run by hand with ANIMEGAN_TILE_GRID=1.
func TestMeasureGrid(t *testing.T) {
	if os.Getenv("ANIMEGAN_TILE_GRID") == "" {
		t.Skip("set ANIMEGAN_TILE_GRID=1 to measure")
	}
	ortest.Init(t)
	const w, h, tile = 1024, 768, 512
	var photos []string
	if p := os.Getenv("ANIMEGAN_TILE_PHOTOS"); p != "" {
		photos = strings.Split(p, ",")
	}
	images := map[string]*image.NRGBA{}
	var names []string
	if len(photos) == 0 {
		images["scene"], names = scene(w, h), []string{"scene"}
	}
	for _, p := range photos {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		src, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		b := src.Bounds()
		s := min(float64(b.Dx())/w, float64(b.Dy())/h) // cover, then crop the middle
		cw, ch := int(w*s), int(h*s)
		r := image.Rect(0, 0, cw, ch).Add(b.Min).Add(image.Pt((b.Dx()-cw)/2, (b.Dy()-ch)/2))
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		draw.CatmullRom.Scale(img, img.Rect, src, r, draw.Src, nil)
		images[filepath.Base(p)] = img
		names = append(names, filepath.Base(p))
	}
	opts := model.SessionOptions{IntraOpThreads: 2, InterOpThreads: 1}
	for _, m := range []string{"animeganv2-arch-trained-nchw.onnx", "animeganv2-arch-nchw.onnx"} {
		data, err := os.ReadFile(filepath.Join(ortest.ModuleRoot(), "..", "..", "shared", "models", m))
		if err != nil {
			data, err = os.ReadFile(filepath.Join(ortest.ModuleRoot(), "..", "shared", "models", m))
		}
		if err != nil {
			t.Skipf("shared model %s: %v", m, err)
		}
		spec, tl := tilerOf(t, m, data)
		for _, name := range names {
			img := images[name]
			untiled, st := untiledAndStats(t, spec, tl, data, img, opts)
			ts, err := tl.NewTileSession(opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, ov := range []int{8, 16, 24, 32, 48, 64, 96} {
				g, err := tiling.NewGrid(w, h, tile, ov, spec.Multiple)
				if err != nil {
					t.Fatal(err)
				}
				b := tiling.NewBlender(g)
				var px int
				var edgesX, edgesY []int
				for i, r := range g.Tiles {
					if err := b.Add(i, runTileAt(t, ts, img, r, st)); err != nil {
						t.Fatal(err)
					}
					px += r.Dx() * r.Dy()
					for _, e := range []int{r.Min.X, r.Max.X} {
						if e > 0 && e < w {
							edgesX = append(edgesX, e)
						}
					}
					for _, e := range []int{r.Min.Y, r.Max.Y} {
						if e > 0 && e < h {
							edgesY = append(edgesY, e)
						}
					}
				}
				tiled, err := b.Image()
				if err != nil {
					t.Fatal(err)
				}
				var se, n [5]float64 // by distance from the nearest tile edge: 0-7, 8-15, 16-23, 24-31, 32+ px
				for y := range h {
					for x := range w {
						d := w
						for _, e := range edgesX {
							d = min(d, abs(x-e))
						}
						for _, e := range edgesY {
							d = min(d, abs(y-e))
						}
						k := min(4, d/8)
						o := untiled.PixOffset(x, y)
						for c := range 3 {
							v := float64(untiled.Pix[o+c]) - float64(tiled.Pix[o+c])
							se[k] += v * v
							n[k]++
						}
					}
				}
				rms := make([]string, 5)
				for k := range rms {
					rms[k] = fmt.Sprintf("%.2f", math.Sqrt(se[k]/n[k]))
				}
				fmt.Printf("%s, %s: overlap %2d px, %d tiles of %v, tile px / image px %.2f: PSNR %.1f dB; seam untiled %.3f tiled %.3f; RMS by distance from a tile edge 0-7/8-15/16-23/24-31/32+ px: %s\n",
					m, name, ov, len(g.Tiles), g.Tiles[0].Size(), float64(px)/(w*h), psnr(untiled, tiled),
					tiling.SeamScore(untiled, g), tiling.SeamScore(tiled, g), strings.Join(rms, " "))
			}
			ts.Close()
		}
	}
}
