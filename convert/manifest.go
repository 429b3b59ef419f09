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
}

// Manifest is the journal of one output directory. Records are appended as
// outputs land (an output without its record, after a kill, is simply made
// again), and the file is rewritten compactly at the end of a run.
type Manifest struct {
	path    string
	mu      sync.Mutex
	records map[string]Record // every journal's, for lookups
	own     map[string]Record // this journal's, rewritten on Close
	journal *os.File
}

// OpenManifest reads every journal in dir, tolerating a torn last line from
// a killed run, and opens the shard's own for appending.
func OpenManifest(dir string, shard Shard) (*Manifest, error) {
	m, err := ReadManifest(dir, shard)
	if err != nil {
		return nil, err
	}
	m.journal, err = os.OpenFile(m.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening manifest for writing: %w", err)
	}
	return m, nil
}

// ReadManifest reads every journal in dir and opens none for writing (a
// dry run writes nothing); a missing dir reads as empty. Only Lookup may be
// called on the result.
func ReadManifest(dir string, shard Shard) (*Manifest, error) {
	m := &Manifest{path: filepath.Join(dir, manifestName(shard)), records: make(map[string]Record), own: make(map[string]Record)}
	journals, err := filepath.Glob(filepath.Join(dir, ".animegan-manifest*.jsonl"))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(journals, func(a, b string) int {
		// Our own journal last: its records win.
		return cmpBool(a == m.path, b == m.path)
	})
	for _, path := range journals {
		f, err := os.Open(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // compacted away by another process just now
		case err != nil:
			return nil, fmt.Errorf("reading manifest: %w", err)
		}
		m.read(f, path == m.path)
		f.Close()
	}
	return m, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (m *Manifest) read(r io.Reader, own bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var rec Record
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Output == "" {
			continue // a line cut short by a kill: its output is redone
		}
		m.records[rec.Output] = rec
		if own {
			m.own[rec.Output] = rec
		}
	}
}

// Lookup returns the record of an output.
func (m *Manifest) Lookup(outRel string) (Record, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[outRel]
	return r, ok
}

// Add journals a record. One write call per line with O_APPEND keeps lines
// whole even when two processes share the directory.
func (m *Manifest) Add(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[r.Output] = r
	m.own[r.Output] = r
	if _, err := m.journal.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	return nil
}

// Close compacts the journal to one line per output, dropping records whose
// output is gone, and closes it.
func (m *Manifest) Close(outDir string, write func(path string, fill func(io.Writer) error) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.journal.Close(); err != nil {
		return fmt.Errorf("closing manifest: %w", err)
	}
	keys := make([]string, 0, len(m.own))
	for k := range m.own {
		if _, err := os.Stat(filepath.Join(outDir, filepath.FromSlash(k))); err == nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, strings.Compare)
	return write(m.path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, k := range keys {
			if err := enc.Encode(m.own[k]); err != nil {
				return err
			}
		}
		return nil
	})
}
