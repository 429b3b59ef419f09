package convert

import "testing"

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true},
		{"6GiB", 6 << 30, true},
		{"6 GiB", 6 << 30, true},
		{"512MiB", 512 << 20, true},
		{"1.5g", 3 << 29, true},
		{"4GB", 4 << 30, true},
		{"0", 0, true},
		{"", 0, false},
		{"GiB", 0, false},
		{"-1GiB", 0, false},
		{"3 parsecs", 0, false},
		{"99999999TiB", 0, false},
	}
	for _, c := range cases {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %t", c.in, got, err, c.want, c.ok)
		}
	}
}
