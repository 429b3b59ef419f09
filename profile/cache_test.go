package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, err := CacheDir(); err != nil || d != "/xdg/animegan" {
		t.Errorf("CacheDir() = %q, %v with XDG_CACHE_HOME", d, err)
	}
	t.Setenv("XDG_CACHE_HOME", "relative") // the XDG spec says to ignore it
	t.Setenv("HOME", "/home/me")
	if d, err := CacheDir(); err != nil || d != "/home/me/.cache/animegan" {
		t.Errorf("CacheDir() = %q, %v without XDG_CACHE_HOME", d, err)
	}
}

// TestCacheLatestAndBounded: the newest matching result wins, a result for
// other settings or another machine never matches, and the folder keeps
// only the newest MaxCached files.
func TestCacheLatestAndBounded(t *testing.T) {
	dir := t.TempDir()
	mk := func(start time.Time, maxSide, rec int) *Result {
		r := recorded()
		r.Started, r.CPUModel = start, "Xeon"
		r.Settings.ModelSHA256, r.Settings.MaxSide = "aa", maxSide
		r.RecommendedJobs = rec
		return r
	}
	t0 := time.Date(2026, 12, 3, 10, 12, 0, 0, time.UTC)
	key := KeyOf(mk(t0, 512, 1))
	if hit, why := Latest(dir, key); hit != nil || !strings.Contains(why, "no profile for this model and settings") {
		t.Errorf("empty cache: %v, %q", hit, why)
	}
	for i, r := range []*Result{mk(t0, 512, 2), mk(t0.Add(time.Minute), 512, 3), mk(t0.Add(2*time.Minute), 1024, 4)} {
		if _, err := SaveToCache(dir, r); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	hit, why := Latest(dir, key)
	if hit == nil || hit.Result.RecommendedJobs != 3 {
		t.Fatalf("Latest = %v, %q; want the 10:13 result (-j 3)", hit, why)
	}
	other := key
	other.Machine.Cores = 4
	if hit, why := Latest(dir, other); hit != nil || !strings.Contains(why, "for this model, but not for this run's") {
		t.Errorf("another machine: %v, %q", hit, why)
	}

	for i := range MaxCached + 5 {
		if _, err := SaveToCache(dir, mk(t0.Add(time.Hour+time.Duration(i)*time.Second), 256, 1)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "profile-*.json"))
	if len(files) != MaxCached {
		t.Errorf("%d files kept, want %d", len(files), MaxCached)
	}
	if hit, _ := Latest(dir, key); hit != nil {
		t.Errorf("the oldest results were not the ones deleted: %s", hit.Path)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != MaxCached {
		t.Errorf("temp files left: %d entries", len(entries))
	}
}
