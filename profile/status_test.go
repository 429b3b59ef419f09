package profile

import "testing"

func TestMeasuredStatus(t *testing.T) {
	w := Window{Seconds: 1, Images: 2, IPS: 2}
	tests := []struct {
		name string
		r    LevelResult
		want string
	}{
		{"every image failed", LevelResult{Failed: 3, FirstError: "a.png: bad"}, StatusFailed},
		{"nothing measured", LevelResult{TimedOut: true}, StatusTimeout},
		{"cut off after one window", LevelResult{TimedOut: true, Images: 2, Windows: []Window{w}}, StatusTimeout},
		{"cut off after two windows", LevelResult{TimedOut: true, Images: 4, Windows: []Window{w, w}}, StatusTimeout},
		{"cut off after three unstable windows", LevelResult{TimedOut: true, Images: 6, Windows: []Window{w, w, {Seconds: 1, Images: 9, IPS: 9}}}, StatusUnstable},
		{"stable", LevelResult{Images: 6, Windows: []Window{w, w, w}, Stable: true}, StatusOK},
		{"--max-windows reached unstable", LevelResult{Images: 6, Windows: []Window{w, w, {Seconds: 1, Images: 9, IPS: 9}}}, StatusUnstable},
	}
	for _, tc := range tests {
		got, why := measuredStatus(&tc.r)
		if got != tc.want || (got != StatusOK && got != StatusUnstable && why == "") {
			t.Errorf("%s: %q (%q), want %q with a reason", tc.name, got, why, tc.want)
		}
	}
}
