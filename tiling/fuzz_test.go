package tiling

import (
	"strings"
	"testing"
)

// FuzzNewGrid: any sizes give either an error that says "tiling:" or a
// grid that keeps every promise checkGrid checks (coverage, sides, inside
// the image, overlaps, weights summing to one along each axis).
func FuzzNewGrid(f *testing.F) {
	f.Add(uint16(8000), uint16(6000), uint16(512), uint16(64), uint8(8))
	f.Add(uint16(2048), uint16(1536), uint16(512), uint16(64), uint8(8))
	f.Add(uint16(5000), uint16(300), uint16(512), uint16(64), uint8(8))
	f.Add(uint16(962), uint16(300), uint16(512), uint16(64), uint8(8))
	f.Add(uint16(15), uint16(4000), uint16(16), uint16(8), uint8(8))
	f.Add(uint16(1), uint16(1), uint16(1), uint16(0), uint8(1))
	f.Add(uint16(700), uint16(600), uint16(256), uint16(128), uint8(16))
	f.Add(uint16(0), uint16(600), uint16(256), uint16(12), uint8(3))
	f.Fuzz(func(t *testing.T, w, h, tile, overlap uint16, multiple uint8) {
		// Sides and tiles up to 65535 px: the checks are linear in the
		// sides, and a tiny tile on a huge side makes many spans, so
		// keep the span count bounded.
		if int(tile) > 0 && (int(w)/int(tile) > 4096 || int(h)/int(tile) > 4096) {
			return
		}
		g, err := NewGrid(int(w), int(h), int(tile), int(overlap), int(multiple))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tiling: ") {
				t.Fatalf("NewGrid(%d, %d, %d, %d, %d): error %q", w, h, tile, overlap, multiple, err)
			}
			return
		}
		checkGrid(t, g)
	})
}
