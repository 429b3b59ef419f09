package tiling

import (
	"strings"
	"testing"
)

// checkGrid asserts what NewGrid promises, in time linear in the sides
// (the fuzz test calls it on large images): tiles in rows and columns
// inside the image, covering every pixel, sides of Tile or a multiple,
// overlaps of at least Overlap, and ramps whose 1-D weights sum to 1.
func checkGrid(t *testing.T, g Grid) {
	t.Helper()
	if g.Cols*g.Rows != len(g.Tiles) || len(g.Tiles) == 0 {
		t.Fatalf("%d tiles in %d x %d", len(g.Tiles), g.Cols, g.Rows)
	}
	xa, ya, err := g.axes()
	if err != nil {
		t.Fatalf("axes: %v", err)
	}
	whole := len(g.Tiles) == 1 && g.W <= g.Tile && g.H <= g.Tile
	for _, ax := range []struct {
		name string
		a    axis
		n    int
	}{{"x", xa, g.W}, {"y", ya, g.H}} {
		a, n := ax.a, ax.n
		covered := make([]int, n)
		for k, s := range a.spans {
			if s.lo < 0 || s.hi > n || s.len() <= 0 {
				t.Fatalf("%s span %d %v outside 0..%d", ax.name, k, s, n)
			}
			switch {
			case whole:
				if s.len() != n {
					t.Fatalf("%s: whole-image tile span %v, want 0..%d", ax.name, s, n)
				}
			case n >= g.Tile:
				// The fewest tiles, each the smallest multiple
				// with which that many still cover the axis.
				count := len(a.spans)
				if stride := g.Tile - g.Overlap; count != 1+(n-g.Tile+stride-1)/stride {
					t.Fatalf("%s: %d spans over %d px, not the fewest %d px tiles overlapping by %d", ax.name, count, n, g.Tile, g.Overlap)
				}
				if s.len() > g.Tile || s.len() != a.spans[0].len() {
					t.Fatalf("%s span %v of a %d px axis: not one side at most the tile %d", ax.name, s, n, g.Tile)
				}
				if smaller := s.len() - g.Multiple; count > 1 && count*smaller-(count-1)*g.Overlap >= n {
					t.Fatalf("%s: %d spans of %d px would cover %d px too", ax.name, count, smaller, n)
				}
			default:
				if s.len()%g.Multiple != 0 || s.len() > n {
					t.Fatalf("%s span %v of a %d px axis is not a multiple of %d", ax.name, s, n, g.Multiple)
				}
			}
			if !whole && s.len()%g.Multiple != 0 {
				t.Fatalf("%s span %v not a multiple of %d", ax.name, s, g.Multiple)
			}
			if k > 0 && n >= g.Tile && a.spans[k-1].hi-s.lo < g.Overlap {
				t.Fatalf("%s spans %v and %v overlap by less than %d", ax.name, a.spans[k-1], s, g.Overlap)
			}
			covered[s.lo]++
			if s.hi < n {
				covered[s.hi]--
			}
		}
		run := 0
		for i, d := range covered {
			if run += d; run <= 0 {
				t.Fatalf("%s pixel %d of %d under no tile", ax.name, i, n)
			}
		}
		// The weights: along the axis, the segments' owners' weights
		// sum to exactly one, and a tile counts only inside its span.
		for _, r := range []Ramp{Cosine, Linear} {
			segs, _ := a.segments(n, r)
			next := 0
			for _, s := range segs {
				if s.lo != next {
					t.Fatalf("%s segments leave a gap at %d", ax.name, next)
				}
				next = s.hi
				for i := range s.len() {
					var sum uint32
					for j, k := range s.owners {
						w := s.weight(j, i)
						if w > 0 && (s.lo+i < a.spans[k].lo || s.lo+i >= a.spans[k].hi) {
							t.Fatalf("%s: tile %d weighs %d at %d outside its span %v", ax.name, k, w, s.lo+i, a.spans[k])
						}
						sum += w
					}
					if sum != weightOne {
						t.Fatalf("%s %s: weights at %d sum to %d/%d", ax.name, r, s.lo+i, sum, weightOne)
					}
				}
			}
			if next != n {
				t.Fatalf("%s segments end at %d of %d", ax.name, next, n)
			}
		}
	}
}

func TestNewGrid(t *testing.T) {
	tests := []struct {
		name                          string
		w, h, tile, overlap, multiple int
		cols, rows                    int
		err                           string
		firstTile, lastTile           [4]int // x0 y0 x1 y1; zero: not checked
	}{
		{name: "48MP-ish", w: 8000, h: 6000, tile: 512, overlap: 64, multiple: 8, cols: 18, rows: 14},
		{name: "bench size", w: 2048, h: 1536, tile: 512, overlap: 64, multiple: 8, cols: 5, rows: 4,
			firstTile: [4]int{0, 0, 464, 432}, lastTile: [4]int{1584, 1104, 2048, 1536}},
		{name: "exactly one tile", w: 512, h: 512, tile: 512, overlap: 64, multiple: 8, cols: 1, rows: 1},
		{name: "smaller than a tile, odd sides", w: 1001, h: 701, tile: 1024, overlap: 64, multiple: 8, cols: 1, rows: 1,
			lastTile: [4]int{0, 0, 1001, 701}},
		{name: "one pixel too wide", w: 513, h: 512, tile: 512, overlap: 64, multiple: 8, cols: 2, rows: 1,
			firstTile: [4]int{0, 0, 296, 512}, lastTile: [4]int{217, 0, 513, 512}},
		{name: "strip: short side not a multiple", w: 5000, h: 300, tile: 512, overlap: 64, multiple: 8, cols: 12, rows: 2,
			firstTile: [4]int{0, 0, 480, 296}, lastTile: [4]int{4520, 4, 5000, 300}},
		{name: "strip: short side a multiple", w: 5000, h: 304, tile: 512, overlap: 64, multiple: 8, cols: 12, rows: 1},
		{name: "no overlap", w: 1024, h: 1000, tile: 256, overlap: 0, multiple: 16, cols: 4, rows: 4},
		{name: "half-tile overlap", w: 1000, h: 1000, tile: 128, overlap: 64, multiple: 8, cols: 15, rows: 15},
		{name: "multiple 1", w: 333, h: 777, tile: 100, overlap: 10, multiple: 1, cols: 4, rows: 9},
		{name: "thin strip", w: 5000, h: 3, tile: 512, overlap: 64, multiple: 8, err: "height 3 is less than the model's multiple 8"},
		{name: "overlap over half", w: 2000, h: 2000, tile: 256, overlap: 129, multiple: 8, err: "more than half the tile"},
		{name: "tile not a multiple", w: 2000, h: 2000, tile: 500, overlap: 64, multiple: 8, err: "not a positive multiple"},
		{name: "empty", w: 0, h: 10, tile: 512, overlap: 64, multiple: 8, err: "no pixels"},
		{name: "negative overlap", w: 2000, h: 2000, tile: 512, overlap: -1, multiple: 8, err: "negative overlap"},
		{name: "no multiple", w: 2000, h: 2000, tile: 512, overlap: 0, multiple: 0, err: "multiple 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGrid(tt.w, tt.h, tt.tile, tt.overlap, tt.multiple)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Cols != tt.cols || g.Rows != tt.rows {
				t.Errorf("%d x %d tiles, want %d x %d", g.Cols, g.Rows, tt.cols, tt.rows)
			}
			if tt.firstTile != [4]int{} {
				if r := g.Tiles[0]; [4]int{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y} != tt.firstTile {
					t.Errorf("first tile %v, want %v", r, tt.firstTile)
				}
			}
			if tt.lastTile != [4]int{} {
				if r := g.Tiles[len(g.Tiles)-1]; [4]int{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y} != tt.lastTile {
					t.Errorf("last tile %v, want %v", r, tt.lastTile)
				}
			}
			checkGrid(t, g)
			// Every pixel under a tile, counted in 2-D as well.
			if g.W*g.H <= 4_000_000 {
				seen := make([]bool, g.W*g.H)
				for _, r := range g.Tiles {
					for y := r.Min.Y; y < r.Max.Y; y++ {
						for x := r.Min.X; x < r.Max.X; x++ {
							seen[y*g.W+x] = true
						}
					}
				}
				for i, ok := range seen {
					if !ok {
						t.Fatalf("pixel (%d,%d) under no tile", i%g.W, i/g.W)
					}
				}
			}
		})
	}
}
