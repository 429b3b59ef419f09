// Package profile finds how hard a machine can be pushed converting photos:
// it runs the convert pipeline at a sweep of inference-worker counts, each
// level in a fresh child process watched from outside, and decides where
// throughput stops growing (the plateau) and where memory pressure starts.
//
// The parent side (Run) never touches ONNX Runtime: it spawns one child per
// level, samples it with gopsutil and /proc, and reads the child's JSON
// result. The child side (MeasureLevel) runs convert's Engine stages through
// pipeline.Run and measures windows until they agree.
package profile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"animegan/convert"
)

// MaxLevels bounds a sweep's length: 1..256 is the widest sweep -j allows,
// and more levels than that could only come from a typo.
const MaxLevels = convert.MaxWorkers

// ParseSweep reads --sweep: "A..B" (every level from A to B), "A..BxF"
// (A, A·F, A·F², … up to B, and B itself as the last level when the series
// misses it), or a comma list "1,2,4,8". Levels are inference worker counts
// from 1 to convert.MaxWorkers; the result is sorted and has no duplicates.
func ParseSweep(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("--sweep: empty; want e.g. 1..8, 1..32x2 or 1,2,4,8")
	}
	var levels []int
	if lo, rest, ok := strings.Cut(s, ".."); ok {
		hi, factor := rest, "1"
		if h, f, ok := strings.Cut(rest, "x"); ok {
			hi, factor = h, f
		}
		a, err := level(s, lo)
		if err != nil {
			return nil, err
		}
		b, err := level(s, hi)
		if err != nil {
			return nil, err
		}
		if b < a {
			return nil, fmt.Errorf("--sweep %q: range ends below its start", s)
		}
		f, err := strconv.Atoi(strings.TrimSpace(factor))
		if err != nil || f < 1 || f > MaxLevels {
			return nil, fmt.Errorf("--sweep %q: factor %q is not a whole number from 2 to %d", s, factor, MaxLevels)
		}
		if f == 1 {
			if strings.Contains(rest, "x") {
				return nil, fmt.Errorf("--sweep %q: factor 1 never grows; write %d..%d for every level", s, a, b)
			}
			for n := a; n <= b; n++ {
				levels = append(levels, n)
			}
			return levels, nil
		}
		for n := a; n <= b; n *= f {
			levels = append(levels, n)
		}
		if levels[len(levels)-1] != b {
			levels = append(levels, b)
		}
		return levels, nil
	}
	seen := map[int]bool{}
	for _, p := range strings.Split(s, ",") {
		n, err := level(s, p)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			levels = append(levels, n)
		}
	}
	slices.Sort(levels)
	return levels, nil
}

func level(sweep, p string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(p))
	if err != nil || n < 1 || n > convert.MaxWorkers {
		return 0, fmt.Errorf("--sweep %q: %q is not a worker count from 1 to %d", sweep, p, convert.MaxWorkers)
	}
	return n, nil
}

// ParseMemLimit reads --mem-limit: a size as convert.ParseSize reads it
// (4GiB, 512MiB, 1.5G, a byte count), at least 64 MiB.
func ParseMemLimit(s string) (uint64, error) {
	n, err := convert.ParseSize(s)
	switch {
	case err != nil:
		return 0, err
	case n < 64<<20:
		return 0, fmt.Errorf("%q: below 64 MiB no model runs", s)
	}
	return uint64(n), nil
}
