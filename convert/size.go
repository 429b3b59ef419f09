package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a memory size: a plain byte count, or a number with a
// unit — KiB/MiB/GiB/TiB (powers of 1024; K, M, G, T and KB, MB, GB, TB
// are read the same way, as memory is always sized in powers of two).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes, e.g. 512MiB or 6GiB", s)
	}
	shift := map[string]uint{"": 0, "b": 0,
		"k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
		"g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (use KiB, MiB, GiB or TiB)", s, unit)
	}
	bytes := v * float64(uint64(1)<<sh)
	if bytes >= 1<<62 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(bytes), nil
}
