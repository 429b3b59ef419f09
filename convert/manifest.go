package convert

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"animegan/internal/flock"
	"animegan/internal/testhook"
)

// ManifestName is the journal, inside the output directory, of what made
// each output. It starts with a dot so no walk of the output tree picks it
// up as a photo. Each shard of a sharded run keeps its own journal
// (ManifestName with ".shard-K-of-N" before ".jsonl"), so processes sharing
// the output directory never rewrite each other's; all are read.
const ManifestName = ".animegan-manifest.jsonl"

func manifestName(s Shard) string {
	if s.Whole() {
		return ManifestName
	}
	return fmt.Sprintf(".animegan-manifest.shard-%d-of-%d.jsonl", s.Index, s.Count)
}

// Record says what made one output file. A re-run skips an input whose
// record matches: same input (size and mtime, or else content hash), same
// fingerprint, and the output still there at the recorded size.
type Record struct {
	Output  string `json:"output"` // below the output directory, slash-separated
	Input   string `json:"input"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
	// Fingerprint of the model and the pixel-changing flags (see
	// fingerprint). The JSON name predates the field's: journals already
	// written keep resuming.
	Fingerprint string `json:"settings"`
	OutputSize  int64  `json:"output_size"`
	// Tiling is how the output was made: TilingWhole, or the --tile
	// settings of the run that made it as tiles (tileSettings); "" in
	// journals written before outputs recorded it. Tiled says how.
	Tiling string    `json:"tiling,omitempty"`
	Tiled  *TileInfo `json:"tiled,omitempty"`
}

// TilingWhole is Record.Tiling for an output made by one inference of
// the whole image.
const TilingWhole = "whole"

// Manifest is the journal of one output directory. Records are appended as
// outputs land (an output without its record, after a kill, is simply made
// again), and the file is rewritten compactly at the end of a run.
//
// Two processes may share a journal (the same shard started twice, or two
// unsharded runs into one folder). Every append and the compaction hold a
// write lock on the journal file (internal/flock), and the compaction reads
// the journal under that lock, so the file it renames into place holds every
// record appended until then; an append that waited for the lock finds a
// new file under the journal's name and locks and appends to that one
// instead. Where the file system cannot lock, records are appended without
// the lock and the journal is never compacted, so that no rename can drop
// another process's records.
type Manifest struct {
	path     string
	mu       sync.Mutex
	records  map[string]Record // every journal's, for lookups
	unlocked error             // why the journal cannot be locked, if it cannot
}

// OpenManifest reads every journal in dir, tolerating a torn last line from
// a killed run, and creates the shard's own if it is missing.
func OpenManifest(dir string, shard Shard) (*Manifest, error) {
	m, err := readOthers(dir, shard)
	if err != nil {
		return nil, err
	}
	// Our own journal last, under its lock: its records win.
	f, err := m.lockJournal()
	if err != nil {
		return nil, fmt.Errorf("opening manifest for writing: %w", err)
	}
	defer f.Close()
	readRecords(f, m.records)
	return m, nil
}

// ReadManifest reads every journal in dir, takes no lock and creates
// nothing (a dry run writes nothing); a missing dir reads as empty. Only
// Lookup may be called on the result.
func ReadManifest(dir string, shard Shard) (*Manifest, error) {
	m, err := readOthers(dir, shard)
	if err != nil {
		return nil, err
	}
	// Our own journal last: its records win.
	f, err := os.Open(m.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return m, nil
	case err != nil:
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	defer f.Close()
	readRecords(f, m.records)
	return m, nil
}

// readOthers reads every journal in dir but the shard's own.
func readOthers(dir string, shard Shard) (*Manifest, error) {
	m := &Manifest{path: filepath.Join(dir, manifestName(shard)), records: make(map[string]Record)}
	journals, err := filepath.Glob(filepath.Join(dir, ".animegan-manifest*.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, path := range journals {
		if path == m.path {
			continue
		}
		f, err := os.Open(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // compacted away by another process just now
		case err != nil:
			return nil, fmt.Errorf("reading manifest: %w", err)
		}
		readRecords(f, m.records)
		f.Close()
	}
	return m, nil
}

// Unlocked says why the journal cannot be locked (and so is not compacted),
// or is nil.
func (m *Manifest) Unlocked() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unlocked
}

// lockFile is flock.Lock; tests make it report a file system without locks.
var lockFile = flock.Lock

// lockJournal opens the journal and locks it. The lock must be on the
// file the name leads to when it is granted: a compaction in another
// process may have renamed a new journal over the one this waited for,
// and then it starts again on the new one.
func (m *Manifest) lockJournal() (*os.File, error) {
	for {
		f, err := os.OpenFile(m.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		if m.unlocked != nil {
			return f, nil
		}
		err = lockFile(f, func() { testhook.At(testhook.JournalLockWait) })
		if errors.Is(err, flock.ErrUnsupported) {
			m.unlocked = err
			return f, nil
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		ok, err := flock.Still(f, m.path)
		if ok {
			return f, nil
		}
		f.Close()
		if err != nil {
			return nil, err
		}
	}
}

// readRecords adds a journal's records to recs, later lines winning.
func readRecords(r io.Reader, recs map[string]Record) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var rec Record
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Output == "" {
			continue // a line cut short by a kill: its output is redone
		}
		recs[rec.Output] = rec
	}
}

// Lookup returns the record of an output.
func (m *Manifest) Lookup(outRel string) (Record, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[outRel]
	return r, ok
}

// Add journals a record: one write of one whole line, under the journal's
// lock, on a journal opened afresh (so that on NFS it lands at the end of
// what other clients appended, and after another process's compaction, in
// the new file).
func (m *Manifest) Add(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[r.Output] = r
	f, err := m.lockJournal()
	if err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	if !endsLine(f) {
		// A killed writer's torn last line: end it, or this record
		// would be glued to it and lost with it.
		line = append([]byte{'\n'}, line...)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr // on NFS, close is where a failed write shows
	}
	if err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	return nil
}

// endsLine reports whether f is empty or ends with a newline.
func endsLine(f *os.File) bool {
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return true
	}
	var last [1]byte
	_, err = f.ReadAt(last[:], info.Size()-1)
	return err != nil || last[0] == '\n'
}

// Close compacts the journal to one line per output, dropping records
// whose output is gone. It reads the journal under its lock, so records
// other processes appended are kept, and renames the compacted copy over
// it before the lock is released.
func (m *Manifest) Close(outDir string, write func(path string, fill func(io.Writer) error) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	testhook.At(testhook.JournalCompact)
	if m.unlocked != nil {
		return nil
	}
	f, err := m.lockJournal()
	if err != nil {
		return fmt.Errorf("compacting manifest: %w", err)
	}
	defer f.Close() // releases the lock, after the rename
	if m.unlocked != nil {
		return nil
	}
	recs := make(map[string]Record)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("compacting manifest: %w", err)
	}
	readRecords(f, recs)
	keys := make([]string, 0, len(recs))
	for k := range recs {
		if _, err := os.Stat(filepath.Join(outDir, filepath.FromSlash(k))); err == nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, strings.Compare)
	testhook.At(testhook.JournalCompactLocked)
	return write(m.path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, k := range keys {
			if err := enc.Encode(recs[k]); err != nil {
				return err
			}
		}
		return nil
	})
}
