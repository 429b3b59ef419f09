package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// EndOfSweep says why a sweep may stop after the levels measured so far
// (sorted by jobs), or "" to go on. Past the best level, more workers are
// only worth measuring while they could still beat it:
//
//   - the memory budget already holds workers back: the last level's
//     engine could run fewer inferences at once than it had inference
//     workers, so every further level runs the same inferences with more
//     workers waiting;
//   - throughput has peaked: th.StopAfter levels in a row past the best
//     were clearly below it, each at most th.PlateauFraction of the best's
//     throughput: a stable level by its mean, an unstable one by its best
//     window (mean + spread), so that noise alone cannot end the sweep; a
//     level that measured nothing counts as below. A level that reached
//     the plateau fraction (its mean did) starts the count again; an
//     unstable level whose mean is below but whose best window is not
//     proves nothing either way, and is passed over.
//
// A sweep that reached memory pressure stops by --stop-on-pressure
// instead; --full turns this rule off.
func EndOfSweep(levels []Level, th Thresholds) string {
	if len(levels) == 0 {
		return ""
	}
	last := levels[len(levels)-1]
	if last.Admissible > 0 && last.Admissible < last.Workers.Infer {
		return fmt.Sprintf("the memory budget lets %d inferences run at once: at -j %d and beyond, the other workers only wait", last.Admissible, last.Jobs)
	}
	best := -1
	for i, l := range levels {
		if l.Measured() && (best < 0 || l.IPS > levels[best].IPS) {
			best = i
		}
	}
	if best < 0 || th.StopAfter <= 0 {
		return ""
	}
	top := levels[best].IPS
	var below []string
	limit := th.PlateauFraction * top
	for _, l := range levels[best+1:] {
		switch {
		case clearlyBelow(l, limit):
			below = append(below, strconv.Itoa(l.Jobs))
		case l.IPS > limit:
			below = below[:0]
		}
	}
	if len(below) < th.StopAfter {
		return ""
	}
	return fmt.Sprintf("throughput has peaked: -j %s were each at least %.0f%% below the best (%.2f img/s at -j %d)",
		strings.Join(below[len(below)-th.StopAfter:], ", "), 100*(1-th.PlateauFraction), top, levels[best].Jobs)
}

// clearlyBelow reports whether l measured no more than limit img/s
// beyond doubt.
func clearlyBelow(l Level, limit float64) bool {
	switch {
	case !l.Measured():
		return true
	case l.Stable:
		return l.IPS <= limit
	default:
		return l.IPS+l.Spread <= limit
	}
}
