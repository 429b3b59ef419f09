// Package calibrate turns the activations a model produces on sample
// images into the ranges quantisation needs. It streams: each tensor's
// values are folded into running statistics (exact min/max, and a
// histogram that widens as it goes) and let go, so memory stays the same
// whatever the number of images.
package calibrate

import (
	"fmt"
	"math"
	"strings"

	"animegan/quantize"
)

// Method is how a range is chosen from the statistics.
type Method int

const (
	// MinMax takes the smallest and largest value seen: nothing clips,
	// at the price of resolution when a few values stray far.
	MinMax Method = iota
	// Percentile clips the rarest values: the range covers the central
	// Percentile of the values seen (99.999% by default).
	Percentile
	// Entropy picks the clipping that loses least information when the
	// histogram is squeezed into 256 levels, by KL divergence (the method
	// TensorRT made known, here searched on each side of an asymmetric
	// uint8 range).
	Entropy
)

// DefaultMethod is the method optimize uses unless told otherwise: on
// the AnimeGANv2 architecture it kept the int8 outputs closest to fp32's
// (README: animegan optimize).
const DefaultMethod = Percentile

// DefaultPercentile is the share of values Percentile keeps. At 99.99%
// the trained AnimeGANv2 model left one photo of 30 at 30.7 dB from fp32:
// unlike the photos calibrated on, it had 0.01-0.8% of its values beyond
// the ranges found in nearly every one of the 50 tensors, and widening
// any one tensor, or all of a kind (Conv inputs, Conv outputs), gained
// under 0.6 dB, while widening them all gave 35.5 dB. Keeping 99.999% of
// the values costs about 1.5 dB of the mean and lifts the worst of the 30
// photos, each checked by a model not calibrated on it, to 34.1 dB
// (README: animegan optimize; optimize's TestQualityLeaveOut).
const DefaultPercentile = 99.999

func (m Method) String() string {
	switch m {
	case MinMax:
		return "minmax"
	case Percentile:
		return "percentile"
	case Entropy:
		return "entropy"
	}
	return fmt.Sprintf("method(%d)", int(m))
}

// ParseMethod reads a --method value.
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "minmax", "min-max":
		return MinMax, nil
	case "percentile":
		return Percentile, nil
	case "entropy", "kl":
		return Entropy, nil
	}
	return 0, fmt.Errorf("method %q: want minmax, percentile or entropy", s)
}

// bins is the histogram's resolution: 8 bins per uint8 level.
const bins = 2048

// Stats are one tensor's running statistics.
type Stats struct {
	Count    int64
	Min, Max float32
	hist     []uint64 // nil until the first values (and always for MinMax)
	lo       float64  // the histogram covers [lo, lo+width*bins)
	width    float64
}

// Add folds values into the statistics. withHist keeps the histogram.
func (s *Stats) Add(values []float32, withHist bool) {
	if len(values) == 0 {
		return
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		if v != v { // NaN says nothing of the range
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if s.Count == 0 {
		s.Min, s.Max = lo, hi
	} else {
		s.Min, s.Max = min(s.Min, lo), max(s.Max, hi)
	}
	s.Count += int64(len(values))
	if !withHist {
		return
	}
	if s.hist == nil {
		s.hist = make([]uint64, bins)
		s.lo = float64(lo)
		s.width = max(float64(hi)-float64(lo), 1e-6) / bins * (1 + 1e-6)
	}
	for float64(lo) < s.lo {
		s.grow(false)
	}
	for float64(hi) >= s.lo+s.width*bins {
		s.grow(true)
	}
	inv := 1 / s.width
	for _, v := range values {
		i := int((float64(v) - s.lo) * inv)
		if i >= 0 && i < bins { // NaN falls out
			s.hist[i]++
		}
	}
}

// grow doubles the histogram's span, upwards or downwards, merging pairs
// of bins: the values seen so far keep their places at half resolution.
func (s *Stats) grow(up bool) {
	merged := make([]uint64, bins)
	off := 0
	if !up {
		off = bins / 2
		s.lo -= s.width * bins
	}
	for i := 0; i < bins/2; i++ {
		merged[off+i] = s.hist[2*i] + s.hist[2*i+1]
	}
	s.hist = merged
	s.width *= 2
}

// Range is the range method chooses from the statistics.
func (s *Stats) Range(method Method, percentile float64) quantize.Range {
	full := quantize.Range{Min: s.Min, Max: s.Max}
	if method == MinMax || s.hist == nil {
		return full
	}
	a, b := 0, bins
	switch method {
	case Percentile:
		a, b = s.percentileBins(percentile)
	case Entropy:
		a, b = entropyBins(s.hist)
	}
	r := quantize.Range{Min: float32(s.lo + float64(a)*s.width), Max: float32(s.lo + float64(b)*s.width)}
	// The histogram's edges lie outside the values seen.
	r.Min, r.Max = max(r.Min, s.Min), min(r.Max, s.Max)
	return r
}

// percentileBins are the bins holding the central p percent of values.
func (s *Stats) percentileBins(p float64) (a, b int) {
	var total uint64
	for _, c := range s.hist {
		total += c
	}
	tail := uint64(float64(total) * (100 - p) / 200)
	var acc uint64
	for a = 0; a < bins; a++ {
		if acc+s.hist[a] > tail {
			break
		}
		acc += s.hist[a]
	}
	acc = 0
	for b = bins; b > a+1; b-- {
		if acc+s.hist[b-1] > tail {
			break
		}
		acc += s.hist[b-1]
	}
	return a, b
}

// levels is what an activation is squeezed into: uint8.
const levels = 256

// maxClipped is the largest share of the values the entropy search may
// clip on either side. Without it, a window holding almost no values can
// score a divergence near 0: the clipped mass, folded into the window's
// end bin, then matches a lone bin there. TensorRT's search cannot meet
// this case (its windows all start at 0 on |x|); an asymmetric one can.
const maxClipped = 0.01

// entropyBins finds the bins [a,b) whose clipping to 256 levels diverges
// least (Kullback-Leibler) from the histogram: first the upper end with
// the lower at 0, then the lower end below the upper found, each clipping
// at most maxClipped of the values.
func entropyBins(hist []uint64) (a, b int) {
	n := len(hist)
	if n <= levels {
		return 0, n
	}
	cum := make([]float64, n+1) // cum[i]: values in bins below i
	for i, c := range hist {
		cum[i+1] = cum[i] + float64(c)
	}
	limit := cum[n] * maxClipped
	const step = 8
	best := math.Inf(1)
	b = n
	for hi := levels; hi <= n; hi += step {
		if cum[n]-cum[hi] > limit {
			continue
		}
		if d := divergence(hist, 0, hi); d < best {
			best, b = d, hi
		}
	}
	best = math.Inf(1)
	for lo := 0; lo+levels <= b && cum[lo] <= limit; lo += step {
		if d := divergence(hist, lo, b); d < best {
			best, a = d, lo
		}
	}
	return a, b
}

// divergence is KL(P||Q): P the histogram clipped to [a,b) (the mass
// outside folded into its end bins), Q the same values quantised to 256
// levels and spread back over the bins that held values.
func divergence(hist []uint64, a, b int) float64 {
	w := b - a
	p := make([]float64, w)
	for i := range p {
		p[i] = float64(hist[a+i])
	}
	for _, c := range hist[:a] {
		p[0] += float64(c)
	}
	for _, c := range hist[b:] {
		p[w-1] += float64(c)
	}
	q := make([]float64, w)
	for l := 0; l < levels; l++ {
		start, end := l*w/levels, (l+1)*w/levels
		var sum float64
		nonzero := 0
		for i := start; i < end; i++ {
			sum += float64(hist[a+i])
			if hist[a+i] > 0 {
				nonzero++
			}
		}
		for i := start; i < end; i++ {
			if hist[a+i] > 0 {
				q[i] = sum / float64(nonzero)
			}
		}
	}
	var ps, qs float64
	for i := range p {
		ps += p[i]
		qs += q[i]
	}
	if ps == 0 || qs == 0 {
		return math.Inf(1)
	}
	const eps = 1e-10
	var d float64
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi, qi := p[i]/ps, max(q[i]/qs, eps)
		d += pi * math.Log(pi/qi)
	}
	return d
}

// Collector gathers the statistics of a list of tensors.
type Collector struct {
	Names  []string
	Method Method
	stats  []Stats
}

// NewCollector starts empty statistics for names.
func NewCollector(names []string, method Method) *Collector {
	return &Collector{Names: names, Method: method, stats: make([]Stats, len(names))}
}

// Add folds one run's values of tensor i in.
func (c *Collector) Add(i int, values []float32) {
	c.stats[i].Add(values, c.Method != MinMax)
}

// Ranges are the chosen range of every tensor that has values.
func (c *Collector) Ranges() map[string]quantize.Range {
	out := make(map[string]quantize.Range, len(c.Names))
	for i, name := range c.Names {
		if c.stats[i].Count > 0 {
			out[name] = c.stats[i].Range(c.Method, DefaultPercentile)
		}
	}
	return out
}

// Stats are tensor i's statistics so far.
func (c *Collector) Stats(i int) *Stats { return &c.stats[i] }

// Outside is the share of the values seen that fall outside r, as far as
// the histogram tells (0 without one).
func (s *Stats) Outside(r quantize.Range) float64 {
	if s.hist == nil || s.Count == 0 {
		return 0
	}
	var out uint64
	for i, c := range s.hist {
		lo := s.lo + float64(i)*s.width
		if lo+s.width <= float64(r.Min) || lo >= float64(r.Max) {
			out += c
		}
	}
	return float64(out) / float64(s.Count)
}
