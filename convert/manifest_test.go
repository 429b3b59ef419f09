package convert

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"animegan/atomicfile"
	"animegan/internal/flock"
)

func writeFile(path string, fill func(io.Writer) error) error {
	return atomicfile.Write(path, 0o644, fill)
}

// TestManifestSharedJournal: two Manifests on one journal (as two
// processes would have; OFD locks make two opens in one process exclude
// each other like two processes) keep each other's records through both
// compactions, and a record appended after a torn line is not glued to it.
func TestManifestSharedJournal(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, ManifestName)
	// A killed run's torn last line.
	if err := os.WriteFile(journal, []byte(`{"output":"old.png","input":"old.jpg"}`+"\n"+`{"output":"torn.p`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old.png", "a.png", "b.png", "c.png"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := OpenManifest(dir, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenManifest(dir, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	for _, add := range []struct {
		m   *Manifest
		out string
	}{{a, "a.png"}, {b, "b.png"}, {b, "gone.png"}} {
		if err := add.m.Add(Record{Output: add.out, Input: strings.TrimSuffix(add.out, ".png") + ".jpg"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(dir, writeFile); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(Record{Output: "c.png", Input: "c.jpg"}); err != nil {
		t.Fatal(err) // after a's compaction: lands in the new journal
	}
	want := []string{"a.png", "b.png", "c.png", "old.png"} // gone.png's output does not exist
	if got := journalRecords(t, journal); !slices.Equal(got, []string{"a.png", "b.png", "old.png", "c.png"}) {
		t.Errorf("after a's compaction and b's append the journal holds %v", got)
	}
	if err := b.Close(dir, writeFile); err != nil {
		t.Fatal(err)
	}
	if got := journalRecords(t, journal); !slices.Equal(got, want) {
		t.Errorf("after both compactions the journal holds %v, want %v", got, want)
	}
	if a.Unlocked() != nil {
		t.Errorf("locking unavailable on the test's file system: %v", a.Unlocked())
	}
}

// journalRecords is the outputs of a journal's lines, in order of first
// appearance; every line must be a whole record.
func journalRecords(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for line := range strings.Lines(string(data)) {
		rec := make(map[string]Record)
		readRecords(strings.NewReader(line), rec)
		if len(rec) != 1 {
			t.Fatalf("%s: not a whole record: %q", path, line)
		}
		for k := range rec {
			if !slices.Contains(outs, k) {
				outs = append(outs, k)
			}
		}
	}
	return outs
}

// TestManifestWithoutLocks: where the file system refuses locks, records
// are still appended, but the journal is never compacted, so that no
// rename can drop another process's appends; Unlocked says why.
func TestManifestWithoutLocks(t *testing.T) {
	orig := lockFile
	defer func() { lockFile = orig }()
	lockFile = func(f *os.File, _ func()) error {
		return &os.PathError{Op: "lock", Path: f.Name(), Err: errors.Join(flock.ErrUnsupported, syscall.ENOLCK)}
	}
	dir := t.TempDir()
	for _, name := range []string{"a.png", "b.png"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := OpenManifest(dir, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(a.Unlocked(), syscall.ENOLCK) {
		t.Fatalf("Unlocked() = %v, want ENOLCK", a.Unlocked())
	}
	b, err := OpenManifest(dir, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		m   *Manifest
		out string
	}{{a, "a.png"}, {b, "b.png"}, {a, "a.png"}} {
		if err := r.m.Add(Record{Output: r.out}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []*Manifest{a, b} {
		if err := m.Close(dir, writeFile); err != nil {
			t.Fatal(err)
		}
	}
	if got := journalRecords(t, filepath.Join(dir, ManifestName)); !slices.Equal(got, []string{"a.png", "b.png"}) {
		t.Errorf("journal holds %v", got)
	}
	data, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	if n := strings.Count(string(data), "\n"); n != 3 {
		t.Errorf("journal has %d lines, want the 3 appends uncompacted:\n%s", n, data)
	}
}
