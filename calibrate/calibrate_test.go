package calibrate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// batches is a stream whose range grows in both directions as it goes,
// with a thin heavy tail: the case the widening histogram must survive.
func batches() [][]float32 {
	r := rand.New(rand.NewPCG(1, 2))
	var out [][]float32
	for b := range 6 {
		v := make([]float32, 50_000)
		for i := range v {
			v[i] = float32(r.NormFloat64() * float64(b+1))
			if i%10_000 == 0 {
				v[i] = float32(40 * (b + 1)) // outliers
			}
		}
		out = append(out, v)
	}
	return out
}

// TestStreamingMatchesExact: min/max are exact; the percentile range is
// within a few histogram bins of the exact quantiles of all the values,
// although the values were seen batch by batch and never kept.
func TestStreamingMatchesExact(t *testing.T) {
	var s Stats
	var all []float32
	for _, b := range batches() {
		s.Add(b, true)
		all = append(all, b...)
	}
	slices.Sort(all)
	if s.Min != all[0] || s.Max != all[len(all)-1] {
		t.Errorf("min/max %g %g, want %g %g", s.Min, s.Max, all[0], all[len(all)-1])
	}
	if r := s.Range(MinMax, 0); r.Min != all[0] || r.Max != all[len(all)-1] {
		t.Errorf("minmax range %+v", r)
	}
	const p = 99.99 // clips the 0.01% of outliers batches has
	r := s.Range(Percentile, p)
	tail := int(float64(len(all)) * (100 - p) / 200)
	lo, hi := all[tail], all[len(all)-1-tail]
	binW := float32(s.width)
	if math.Abs(float64(r.Min-lo)) > 2*float64(binW) || math.Abs(float64(r.Max-hi)) > 2*float64(binW) {
		t.Errorf("percentile range %+v, exact [%g,%g] (bin %g)", r, lo, hi, binW)
	}
	if r.Max >= s.Max {
		t.Errorf("percentile kept the outliers: %+v", r)
	}
}

// TestEntropyClipsOutliers: on a bell curve with far outliers, the KL
// range drops the outliers' empty stretch but keeps the body.
func TestEntropyClipsOutliers(t *testing.T) {
	var s Stats
	for _, b := range batches() {
		s.Add(b, true)
	}
	r := s.Range(Entropy, 0)
	if r.Max >= s.Max/2 || r.Min > -10 || r.Max < 10 {
		t.Errorf("entropy range %+v of [%g,%g]: want the outliers clipped, the body (sd up to 6) kept", r, s.Min, s.Max)
	}
}

// TestNarrowAndConstant: a constant tensor and one range, however narrow,
// give a usable range.
func TestNarrowAndConstant(t *testing.T) {
	for _, m := range []Method{MinMax, Percentile, Entropy} {
		var s Stats
		s.Add([]float32{0, 0, 0}, m != MinMax)
		s.Add([]float32{0, 0}, m != MinMax)
		if r := s.Range(m, DefaultPercentile); r.Min != 0 || r.Max != 0 {
			t.Errorf("%s: constant 0 gave %+v", m, r)
		}
		var n Stats
		n.Add([]float32{1, 1.0001, 1.0002}, m != MinMax)
		if r := n.Range(m, DefaultPercentile); !(r.Min >= 1 && r.Max <= 1.0002 && r.Max > r.Min) {
			t.Errorf("%s: narrow range gave %+v", m, r)
		}
	}
}

// TestDefaultPercentileKeepsThinTail: a tail of 0.003% of the values, as
// far out as an unseen photo's activations went beyond the calibration
// photos' (README: animegan optimize), is kept by the default percentile;
// 99.99% cut it off, and with it 4 dB of that photo's PSNR.
func TestDefaultPercentileKeepsThinTail(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var s Stats
	for range 10 {
		v := make([]float32, 100_000)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		for i := range 3 { // 30 of 1,000,000 values
			v[i] = 8
		}
		s.Add(v, true)
	}
	if got := s.Range(Percentile, DefaultPercentile); got.Max < 7.9 {
		t.Errorf("default percentile range %+v: the tail at 8 was clipped", got)
	}
	if got := s.Range(Percentile, 99.99); got.Max > 5 {
		t.Errorf("99.99%% range %+v: want the tail clipped (the case this default is for)", got)
	}
}

func TestParseMethod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Method
		ok   bool
	}{{"minmax", MinMax, true}, {"", MinMax, true}, {"Percentile", Percentile, true}, {"entropy", Entropy, true}, {"kl", Entropy, true}, {"median", 0, false}} {
		got, err := ParseMethod(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseMethod(%q) = %v, %v", tc.in, got, err)
		}
	}
}
