package convert

import "testing"

// TestTilingCurrent: which journalled outputs a run's --tile settings
// keep (tilingCurrent), and tileSettings read back.
func TestTilingCurrent(t *testing.T) {
	auto := TileOptions{}
	off := TileOptions{Mode: TileOff}
	t256 := TileOptions{Mode: TileFixed, Size: 256}
	t256o16 := TileOptions{Mode: TileFixed, Size: 256, Overlap: 16, OverlapSet: true}
	autoO0 := TileOptions{Overlap: 0, OverlapSet: true}
	for _, tc := range []struct {
		name  string
		rec   string // Record.Tiling
		run   TileOptions
		keeps bool
	}{
		{"whole, auto", TilingWhole, auto, true},
		{"whole, off", TilingWhole, off, true},
		{"whole, --tile 256", TilingWhole, t256, true},
		{"auto's tiles, auto", tileSettings(auto), auto, true},
		{"auto's tiles, off", tileSettings(auto), off, false},
		{"auto's tiles, --tile 256", tileSettings(auto), t256, false},
		{"auto's tiles, auto --tile-overlap 0", tileSettings(auto), autoO0, false},
		{"256's tiles, 256", tileSettings(t256), t256, true},
		{"256's tiles, 256 overlap 16", tileSettings(t256), t256o16, false},
		{"256 overlap 16's tiles, the same", tileSettings(t256o16), t256o16, true},
		{"not recorded, auto", "", auto, true},
		{"not recorded, off", "", off, false},
		{"not recorded, --tile 256", "", t256, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &job{opts: &Options{Tile: tc.run}}
			if got := j.tilingCurrent(Record{Tiling: tc.rec}); got != tc.keeps {
				t.Fatalf("tilingCurrent(%q) under %s = %t, want %t", tc.rec, describeTileOptions(tc.run), got, tc.keeps)
			}
		})
	}
	for _, o := range []TileOptions{auto, off, t256, t256o16, autoO0} {
		got, err := parseTileSettings(tileSettings(o))
		if err != nil || got != o {
			t.Errorf("parseTileSettings(%q) = %+v, %v; want %+v", tileSettings(o), got, err, o)
		}
	}
	if _, err := parseTileSettings("tile=auto"); err == nil {
		t.Error("parseTileSettings took a value without the overlap")
	}
}
