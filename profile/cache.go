package profile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"animegan/atomicfile"
)

// MaxCached bounds the results kept in the cache folder: the newest
// MaxCached stay, enough for a few models and settings on one machine.
const MaxCached = 20

// CacheDir is where profile keeps its results for `convert -j auto`:
// $XDG_CACHE_HOME/animegan, else ~/.cache/animegan (the XDG base
// directory rule).
func CacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "animegan"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder: %w", err)
	}
	return filepath.Join(home, ".cache", "animegan"), nil
}

// SaveToCache writes r into dir atomically, named by its start time, and
// deletes the oldest results beyond MaxCached. It returns the file's path.
func SaveToCache(dir string, r *Result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := fmt.Sprintf("profile-%s-%s.json", r.Started.UTC().Format("20060102T150405.000Z"), short(r.Settings.ModelSHA256))
	path := filepath.Join(dir, name)
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return WriteJSON(w, r) }); err != nil {
		return "", err
	}
	files := cachedFiles(dir)
	for len(files) > MaxCached {
		os.Remove(files[0])
		files = files[1:]
	}
	return path, nil
}

// cachedFiles are the results in dir, oldest first (names start with the
// start time).
func cachedFiles(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "profile-*.json"))
	slices.Sort(files)
	return files
}

// Key is what must be equal for a profile's recommendation to hold for a
// convert run: the model, the settings that change the cost of an image,
// and the machine.
type Key struct {
	ModelSHA256 string
	MaxSide     int
	KeepSize    bool
	Threads     int   // 0: convert's rule
	MemBudget   int64 // --mem-budget: 0 default, -1 off, else bytes
	Tile        string
	TileOverlap string
	Machine     Machine
}

// KeyOf is the key a sweep's recommendation holds for.
func KeyOf(r *Result) Key {
	s := r.Settings
	return Key{ModelSHA256: s.ModelSHA256, MaxSide: s.MaxSide, KeepSize: s.KeepSize, Threads: s.Threads, MemBudget: s.MemBudget,
		Tile: TileName(s.Tile), TileOverlap: TileOverlapName(s.TileOverlap),
		Machine: Machine{CPUModel: r.CPUModel, Cores: r.Cores, MemLimit: r.Memory.Limit}}
}

// TileName is a profile's --tile as a key compares it. Profiles written
// before tiling existed count as auto, the default: they ran every image
// that fits the budget whole, as auto does, and refused the others, which
// auto tiles (a profile with refused images measured nothing of them).
func TileName(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}

// TileOverlapName is a profile's --tile-overlap as a key compares it.
func TileOverlapName(s string) string {
	if s == "" {
		return "model"
	}
	return s
}

// Cached is a profile found for a key.
type Cached struct {
	Path   string
	Result *Result
}

// Latest finds the newest result in dir whose key is k and that
// recommends a -j. It says nil and why when there is none.
func Latest(dir string, k Key) (*Cached, string) {
	files := cachedFiles(dir)
	sameModel := 0
	for i := len(files) - 1; i >= 0; i-- {
		r, err := ReadResult(files[i])
		if err != nil || r.Interrupted {
			continue
		}
		if r.Settings.ModelSHA256 == k.ModelSHA256 {
			sameModel++
		}
		if KeyOf(r) == k && r.RecommendedJobs > 0 {
			return &Cached{Path: files[i], Result: r}, ""
		}
	}
	switch {
	case len(files) == 0:
		return nil, "no profile for this model and settings (none in " + dir + ")"
	case sameModel > 0:
		return nil, fmt.Sprintf("no profile for this model and settings (%d for this model, but not for this run's %s)",
			sameModel, describeKey(k))
	}
	return nil, "no profile for this model and settings"
}

func describeKey(k Key) string {
	threads := "auto"
	if k.Threads > 0 {
		threads = fmt.Sprint(k.Threads)
	}
	return strings.Join([]string{
		fmt.Sprintf("--max-size %d", k.MaxSide), fmt.Sprintf("--keep-size %t", k.KeepSize),
		"--threads " + threads, "--mem-budget " + budgetName(k.MemBudget),
		"--tile " + k.Tile, "--tile-overlap " + k.TileOverlap,
		fmt.Sprintf("%d cores of %q", k.Machine.Cores, k.Machine.CPUModel), "memory limit " + Bytes(k.Machine.MemLimit),
	}, ", ")
}
