package tiling

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

func mustGrid(t testing.TB, w, h, tile, overlap, multiple int) Grid {
	t.Helper()
	g, err := NewGrid(w, h, tile, overlap, multiple)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// noiseTile is a w x h tile of random opaque pixels, its own for each seed.
func noiseTile(w, h int, seed uint64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.UintN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

func uniformTile(r image.Rectangle, v uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for i := range img.Pix {
		img.Pix[i] = v
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// blendAll adds every tile tiles(i) in the given order with workers
// goroutines, and returns the output.
func blendAll(t *testing.T, b *Blender, order []int, workers int, tile func(i int) *image.NRGBA) *image.NRGBA {
	t.Helper()
	next := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, len(order))
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := b.Add(i, tile(i)); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	out, err := b.Image()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func inOrder(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

var blendGrids = []struct {
	name                          string
	w, h, tile, overlap, multiple int
	grid                          *Grid // made by hand instead
}{
	{name: "regular", w: 1100, h: 900, tile: 256, overlap: 32, multiple: 8},
	{name: "wide overlaps", w: 700, h: 600, tile: 256, overlap: 128, multiple: 8},
	{name: "three columns", w: 512 + 450, h: 300, tile: 512, overlap: 64, multiple: 8},
	{name: "no overlap", w: 640, h: 480, tile: 128, overlap: 0, multiple: 8},
	{name: "strip", w: 1000, h: 100, tile: 256, overlap: 32, multiple: 8},
	{name: "whole", w: 300, h: 200, tile: 512, overlap: 64, multiple: 8},
	// Columns 0 and 2 overlap too: every pixel of 250..300 under three
	// tiles. NewGrid does not make such grids; a Blender still must
	// pass the weight from each tile to the next only.
	{name: "three over one pixel", grid: &Grid{W: 600, H: 120, Tile: 350, Overlap: 40, Multiple: 1, Cols: 3, Rows: 1,
		Tiles: []image.Rectangle{image.Rect(0, 0, 300, 120), image.Rect(100, 0, 400, 120), image.Rect(250, 0, 600, 120)}}},
}

// gridOf is the test case's grid.
func gridOf(t testing.TB, w, h, tile, overlap, multiple int, g *Grid) Grid {
	if g != nil {
		return *g
	}
	return mustGrid(t, w, h, tile, overlap, multiple)
}

// TestBlendUniform: every tile the same colour gives that colour at every
// pixel, exactly: the tiles' weights sum to 1 everywhere (a pixel weighted
// 0.99 or 1.01 in total would be off by 2).
func TestBlendUniform(t *testing.T) {
	for _, tt := range blendGrids {
		for _, ramp := range []Ramp{Cosine, Linear} {
			t.Run(tt.name+"/"+ramp.String(), func(t *testing.T) {
				g := gridOf(t, tt.w, tt.h, tt.tile, tt.overlap, tt.multiple, tt.grid)
				out := blendAll(t, NewBlenderRamp(g, ramp), inOrder(len(g.Tiles)), 1, func(i int) *image.NRGBA {
					return uniformTile(g.Tiles[i], 201)
				})
				for i, v := range out.Pix {
					want := uint8(201)
					if i%4 == 3 {
						want = 255
					}
					if v != want {
						t.Fatalf("pixel (%d,%d) channel %d = %d, want %d", i/4%g.W, i/4/g.W, i%4, v, want)
					}
				}
			})
		}
	}
}

// TestBlendSingleTileExact: where one tile alone covers a pixel, the
// output is that tile's pixel exactly, although every tile is different
// noise; so is every pixel outside the ramps. Inside them the output lies
// between the tiles that overlap there.
func TestBlendSingleTileExact(t *testing.T) {
	for _, tt := range blendGrids {
		t.Run(tt.name, func(t *testing.T) {
			g := gridOf(t, tt.w, tt.h, tt.tile, tt.overlap, tt.multiple, tt.grid)
			tiles := make([]*image.NRGBA, len(g.Tiles))
			for i, r := range g.Tiles {
				tiles[i] = noiseTile(r.Dx(), r.Dy(), uint64(i))
			}
			out := blendAll(t, NewBlender(g), inOrder(len(g.Tiles)), 1, func(i int) *image.NRGBA { return tiles[i] })
			xa, ya, _ := g.axes()
			inRamp := func(rs []span, v int) bool {
				for _, r := range rs {
					if v >= r.lo && v < r.hi {
						return true
					}
				}
				return false
			}
			var single, outside, between int
			for y := range g.H {
				for x := range g.W {
					var under []int
					for i, r := range g.Tiles {
						if image.Pt(x, y).In(r) {
							under = append(under, i)
						}
					}
					got := out.Pix[out.PixOffset(x, y):][:4]
					at := func(i int) []uint8 {
						r := g.Tiles[i]
						return tiles[i].Pix[tiles[i].PixOffset(x-r.Min.X, y-r.Min.Y):][:4]
					}
					switch {
					case len(under) == 1:
						single++
						if string(got) != string(at(under[0])) {
							t.Fatalf("(%d,%d) under tile %d alone is %v, want %v", x, y, under[0], got, at(under[0]))
						}
					case !inRamp(xa.ramps, x) && !inRamp(ya.ramps, y):
						// Outside every ramp: the one tile whose weight is 1.
						outside++
						match := false
						for _, i := range under {
							match = match || string(got) == string(at(i))
						}
						if !match {
							t.Fatalf("(%d,%d) outside the ramps is %v, no tile's pixel", x, y, got)
						}
					default:
						between++
						for c := range 3 {
							lo, hi := uint8(255), uint8(0)
							for _, i := range under {
								lo, hi = min(lo, at(i)[c]), max(hi, at(i)[c])
							}
							if got[c] < lo || got[c] > hi {
								t.Fatalf("(%d,%d) channel %d = %d outside its tiles' %d..%d", x, y, c, got[c], lo, hi)
							}
						}
					}
				}
			}
			if single == 0 {
				t.Fatal("no pixel under one tile: the test checks nothing")
			}
			if len(g.Tiles) > 1 && g.Overlap > 0 && between == 0 {
				t.Fatal("no pixel in a ramp")
			}
			t.Logf("%d pixels under one tile, %d more outside the ramps, %d blended", single, outside, between)
		})
	}
}

// TestBlendRamp: a black tile beside a white one gives the ramp, centred
// in their overlap, as wide as the overlap asked for.
func TestBlendRamp(t *testing.T) {
	// 900 px wide, tiles of at most 512: two of 488, spans 0..488 and
	// 412..900, share 76 px whose centre is 450; the 64 px ramp is 418..482.
	g := mustGrid(t, 900, 16, 512, 64, 8)
	if g.Cols != 2 || g.Tiles[1].Min.X != 412 {
		t.Fatalf("grid %v", g.Tiles)
	}
	const lo, w = 418, 64
	for _, tt := range []struct {
		ramp  Ramp
		shape func(t float64) float64
	}{
		{Linear, func(t float64) float64 { return t }},
		{Cosine, func(t float64) float64 { return (1 - math.Cos(math.Pi*t)) / 2 }},
	} {
		t.Run(tt.ramp.String(), func(t *testing.T) {
			b := NewBlenderRamp(g, tt.ramp)
			out := blendAll(t, b, []int{1, 0}, 1, func(i int) *image.NRGBA {
				return uniformTile(g.Tiles[i], uint8(200*i))
			})
			for _, y := range []int{0, 7, 15} {
				prev := -1
				for x := range g.W {
					got := int(out.Pix[out.PixOffset(x, y)])
					want := 0.0
					switch {
					case x >= lo+w:
						want = 200
					case x >= lo:
						want = 200 * tt.shape((float64(x-lo)+0.5)/w)
					}
					if math.Abs(float64(got)-want) > 1 {
						t.Fatalf("row %d x=%d: %d, want %.1f", y, x, got, want)
					}
					if got < prev {
						t.Fatalf("row %d x=%d: %d falls from %d", y, x, got, prev)
					}
					prev = got
					// Symmetric about the overlap's centre.
					if x >= lo && x < lo+w {
						mirror := int(out.Pix[out.PixOffset(2*lo+w-1-x, y)])
						if d := got + mirror - 200; d < -1 || d > 1 {
							t.Fatalf("x=%d: %d and its mirror %d do not sum to 200", x, got, mirror)
						}
					}
				}
			}
		})
	}
}

// TestBlendOrder: any order, any number of concurrent Adds, the same
// bytes (run with -race: Add is safe for concurrent use).
func TestBlendOrder(t *testing.T) {
	for _, tt := range blendGrids {
		t.Run(tt.name, func(t *testing.T) {
			g := gridOf(t, tt.w, tt.h, tt.tile, tt.overlap, tt.multiple, tt.grid)
			tiles := make([]*image.NRGBA, len(g.Tiles))
			for i, r := range g.Tiles {
				tiles[i] = noiseTile(r.Dx(), r.Dy(), uint64(100+i))
			}
			get := func(i int) *image.NRGBA { return tiles[i] }
			want := blendAll(t, NewBlender(g), inOrder(len(g.Tiles)), 1, get)
			rng := rand.New(rand.NewPCG(1, 2))
			for round, workers := range []int{1, 4, 8} {
				order := inOrder(len(g.Tiles))
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				if round == 0 {
					// Reversed, so the order surely differs.
					for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
						order[i], order[j] = order[j], order[i]
					}
				}
				b := NewBlender(g)
				got := blendAll(t, b, order, workers, get)
				if string(got.Pix) != string(want.Pix) {
					t.Fatalf("order %v with %d workers gives other pixels", order, workers)
				}
				if b.Bytes() != int64(len(got.Pix)) {
					t.Errorf("after the last tile the blender holds %d bytes, want the output's %d", b.Bytes(), len(got.Pix))
				}
			}
		})
	}
}

// TestBlendErrors: wrong tiles are refused with the reason, and the image
// is not given out before every tile is in.
func TestBlendErrors(t *testing.T) {
	g := mustGrid(t, 600, 300, 256, 32, 8)
	b := NewBlender(g)
	small := g.Tiles[0]
	small.Max.X--
	if err := b.Add(0, uniformTile(small, 1)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("is %dx%d, want %dx%d", small.Dx(), small.Dy(), small.Dx()+1, small.Dy())) {
		t.Errorf("small tile: %v", err)
	}
	if err := b.Add(len(g.Tiles), uniformTile(g.Tiles[0], 1)); err == nil || !strings.Contains(err.Error(), "of a grid of") {
		t.Errorf("tile out of range: %v", err)
	}
	if err := b.Add(1, nil); err == nil {
		t.Error("nil tile accepted")
	}
	// A tile with another origin is fine.
	off := uniformTile(g.Tiles[0], 1)
	off.Rect = off.Rect.Add(image.Pt(1000, -3))
	if err := b.Add(0, off); err != nil {
		t.Errorf("tile at another origin: %v", err)
	}
	if err := b.Add(0, uniformTile(g.Tiles[0], 1)); err == nil || !strings.Contains(err.Error(), "added twice") {
		t.Errorf("tile twice: %v", err)
	}
	if _, err := b.Image(); err == nil || !strings.Contains(err.Error(), "not added") {
		t.Errorf("image before the last tile: %v", err)
	}
	bad := g
	bad.Tiles = append([]image.Rectangle(nil), g.Tiles...)
	bad.Tiles[1] = bad.Tiles[1].Add(image.Pt(0, 5))
	if err := NewBlender(bad).Add(0, uniformTile(g.Tiles[0], 1)); err == nil || !strings.Contains(err.Error(), "is not column") {
		t.Errorf("tiles out of their rows: %v", err)
	}
}

// TestBlenderMemory: for a 48 MP photo in 512 px tiles overlapping by 64,
// the blender holds far less than a float accumulator of the whole image
// would (W x H x 3 x 4 bytes) on top of the output it has to hold anyway:
// at worst (any order) under an eighth of it, row by row two at a time
// under 1%, and nothing once all tiles are in.
func TestBlenderMemory(t *testing.T) {
	g := mustGrid(t, 8000, 6000, 512, 64, 8)
	b := NewBlender(g)
	output := int64(4 * g.W * g.H)
	floatAcc := int64(12 * g.W * g.H)
	if b.Bytes() != output {
		t.Fatalf("before any tile: %d bytes, want the output's %d", b.Bytes(), output)
	}
	if b.MaxBytes() != g.BlendBytes() {
		t.Fatalf("MaxBytes %d, the grid's BlendBytes %d", b.MaxBytes(), g.BlendBytes())
	}
	worst := b.MaxBytes() - output
	if worst <= 0 || worst > floatAcc/8 {
		t.Fatalf("worst case %d bytes beside the output, want under an eighth of %d", worst, floatAcc)
	}
	// The tiles' pixels do not matter here: one tile image serves all.
	tile := uniformTile(g.Tiles[0], 90)
	out := blendAll(t, b, inOrder(len(g.Tiles)), 2, func(int) *image.NRGBA { return tile })
	peak := b.PeakBytes() - output
	if peak <= 0 || peak > floatAcc/100 {
		t.Fatalf("row by row the blender peaked at %d bytes beside the output, want under 1%% of %d", peak, floatAcc)
	}
	if b.Bytes() != output {
		t.Fatalf("after the last tile it holds %d bytes, want %d", b.Bytes(), output)
	}
	if out.Pix[out.PixOffset(4000, 3000)] != 90 {
		t.Fatal("output not blended")
	}
	t.Logf("output %d MiB; beside it: worst %.1f MiB, row by row peak %.1f MiB; a float32 RGB accumulator: %d MiB",
		output>>20, float64(worst)/(1<<20), float64(peak)/(1<<20), floatAcc>>20)
}
