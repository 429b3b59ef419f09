package convert_test

import (
	"strings"
	"testing"

	"animegan/convert"
)

// FuzzParseJobs: any -j text gives either an error or pools of 1 to
// MaxWorkers workers, and a parsed L:I:E prints back to itself.
func FuzzParseJobs(f *testing.F) {
	for _, s := range []string{"", "4", "1:2:1", " 2 : 3 : 4 ", "0", "-1", "1:2", "1:2:3:4", "257", "256:256:256", "x", "1::1", "+3", "0x10", "1:2:1\n", "９"} {
		f.Add(s, 2)
	}
	f.Add("8", 0)
	f.Add("", -5)
	f.Add("", 1<<20)
	f.Fuzz(func(t *testing.T, s string, cores int) {
		j, err := convert.ParseJobs(s, cores)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "-j ") {
				t.Fatalf("ParseJobs(%q): error %q does not name the flag", s, err)
			}
			return
		}
		for _, n := range []int{j.Decode, j.Infer, j.Encode} {
			if n < 1 || n > convert.MaxWorkers {
				t.Fatalf("ParseJobs(%q, %d) = %v: a pool outside 1..%d", s, cores, j, convert.MaxWorkers)
			}
		}
		again, err := convert.ParseJobs(j.String(), cores)
		if err != nil {
			t.Fatalf("ParseJobs(%q) = %v, which does not parse back: %v", s, j, err)
		}
		if again != j {
			t.Fatalf("ParseJobs(%q) = %v, printed and parsed again %v", s, j, again)
		}
	})
}
