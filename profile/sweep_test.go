package profile

import (
	"slices"
	"testing"
)

func TestParseSweep(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "1..8", want: []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{in: "1..32x2", want: []int{1, 2, 4, 8, 16, 32}},
		{in: "1..20x2", want: []int{1, 2, 4, 8, 16, 20}},
		{in: "3..30x3", want: []int{3, 9, 27, 30}},
		{in: "4..4", want: []int{4}},
		{in: "1,2,4,8", want: []int{1, 2, 4, 8}},
		{in: " 8, 2 ,2,1 ", want: []int{1, 2, 8}},
		{in: "256", want: []int{256}},
		{in: "", bad: true},
		{in: "0..4", bad: true},
		{in: "8..1", bad: true},
		{in: "1..257", bad: true},
		{in: "1..8x1", bad: true},
		{in: "1..8x0", bad: true},
		{in: "1..8x", bad: true},
		{in: "1,,2", bad: true},
		{in: "a..b", bad: true},
		{in: "-1", bad: true},
		{in: "1...4", bad: true},
	}
	for _, tc := range tests {
		got, err := ParseSweep(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseSweep(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseSweep(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseSweep: whatever the input, no panic, and an accepted sweep is
// sorted, free of duplicates and within the worker range.
func FuzzParseSweep(f *testing.F) {
	for _, s := range []string{"1..32", "1..32x2", "1,2,4,8", "0..4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		levels, err := ParseSweep(s)
		if err != nil {
			return
		}
		if len(levels) == 0 || len(levels) > MaxLevels {
			t.Fatalf("ParseSweep(%q): %d levels", s, len(levels))
		}
		for i, n := range levels {
			if n < 1 || n > MaxLevels || (i > 0 && n <= levels[i-1]) {
				t.Fatalf("ParseSweep(%q) = %v: not sorted, unique and in 1..%d", s, levels, MaxLevels)
			}
		}
	})
}

func TestParseMemLimit(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		bad  bool
	}{
		{in: "4GiB", want: 4 << 30},
		{in: "512MiB", want: 512 << 20},
		{in: "1.5G", want: 3 << 29},
		{in: "2gb", want: 2 << 30},
		{in: "1073741824", want: 1 << 30},
		{in: "10MiB", bad: true},
		{in: "4XB", bad: true},
		{in: "", bad: true},
		{in: "-1G", bad: true},
	}
	for _, tc := range tests {
		got, err := ParseMemLimit(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseMemLimit(%q) = %d, %v", tc.in, got, err)
		}
	}
}
