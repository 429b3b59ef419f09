package main

import (
	"fmt"
	"math"

	"animegan/internal/sysmem"
)

// untiledPerPixel is what the tiles section's reference, one untiled
// AnimeGANv2 inference of a whole photo, takes per pixel: convert's
// assumed cost for the architecture (3.5 KiB a pixel, a session of a
// thread per core), about 11 GB at the default 2048x1536. It peaked at
// 6.5-10.6 GB here (README "Measured: tiles against the whole image").
const untiledPerPixel = 3.5 * 1024

// tilesMemory refuses, before anything is measured, a tiles section whose
// untiled reference at w x h cannot fit in the memory this process may
// use (l: the smaller of the machine's RAM and a cgroup's or RLIMIT_AS's
// limit): past it the kernel would kill the bench minutes in, in the
// middle of the reference run. It names the need, the limit and the
// largest -tiles-size of the same shape that fits. Memory merely in use
// by others is only warned about (warn), since it comes and goes.
func tilesMemory(l sysmem.Limit, w, h int, warn func(string)) error {
	need := int64(untiledPerPixel * float64(w) * float64(h))
	limit, source := l.Total, "the machine's RAM (MemTotal)"
	if b, s := l.Bound(); b > 0 && (limit == 0 || b < limit) {
		limit, source = b, s
	}
	if limit > 0 && need > limit {
		scale := math.Sqrt(float64(limit) * 0.9 / float64(need))
		fw, fh := int(float64(w)*scale)/8*8, int(float64(h)*scale)/8*8
		fit := fmt.Sprintf("-tiles-size %dx%d", fw, fh)
		if fw < 8 || fh < 8 {
			fit = "no size"
		}
		return fmt.Errorf("the tiles section's untiled %dx%d reference needs about %s (%.1f KB a pixel, AnimeGANv2 run whole), "+
			"more than the %s this process may use (%s): %s fits; -tiles=false skips the section (make bench BENCH_FLAGS='-tiles=false')",
			w, h, sysmem.FormatBytes(need), untiledPerPixel/1024, sysmem.FormatBytes(limit), source, fit)
	}
	if l.Available > 0 && need > l.Available && warn != nil {
		warn(fmt.Sprintf("the tiles section's untiled %dx%d reference needs about %s and only %s is available now: other processes may have to give it back, or the kernel kill one",
			w, h, sysmem.FormatBytes(need), sysmem.FormatBytes(l.Available)))
	}
	return nil
}
