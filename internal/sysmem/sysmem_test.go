package sysmem

import (
	"runtime"
	"testing"
)

func TestFigures(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	rss, peak := Self()
	if rss <= 0 || peak < rss {
		t.Fatalf("rss %d peak %d", rss, peak)
	}
	avail, total := Available()
	if avail <= 0 || total < avail {
		t.Fatalf("available %d total %d", avail, total)
	}
}

// TestResetPeak: after a large allocation is freed, a reset brings the
// peak back down near the current RSS.
func TestResetPeak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	big := make([]byte, 200<<20)
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1
	}
	_, before := Self()
	big = nil
	runtime.GC()
	debugFree()
	if !ResetPeak() {
		t.Skip("clear_refs not writable here")
	}
	rss, after := Self()
	if after >= before || after > rss+(50<<20) {
		t.Fatalf("peak %d before reset, %d after (rss %d): want the 200 MB allocation forgotten", before, after, rss)
	}
}

func TestField(t *testing.T) {
	data := []byte("Name:\tx\nVmRSS:\t  1234 kB\nMemAvailable:   10 kB\nPlain: 77\n")
	cases := []struct {
		name string
		want int64
	}{{"VmRSS:", 1234 * 1024}, {"MemAvailable:", 10 * 1024}, {"Plain:", 77}, {"Missing:", 0}}
	for _, c := range cases {
		if got := field(data, c.name); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
