package convert

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ReadList reads a --files-from list: one path a line, or NUL-delimited
// when nul is set (as `find -print0` writes, for names holding newlines).
// Empty entries are skipped; in line mode a trailing CR is dropped too, so
// lists written on Windows read the same. Nothing else is trimmed: names
// may begin or end with spaces.
func ReadList(r io.Reader, nul bool) ([]string, error) {
	sep := byte('\n')
	if nul {
		sep = 0
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20) // PATH_MAX is 4 KiB; a longer entry is not a path
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, sep); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	var paths []string
	for sc.Scan() {
		p := sc.Text()
		if !nul {
			p = strings.TrimSuffix(p, "\r")
		}
		if p != "" {
			paths = append(paths, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the list: %w", err)
	}
	return paths, nil
}

// CollectList makes inputs of listed paths without touching the disk, so
// that the N shards of a run over a list on shared storage each stat and
// read only their own part: a listed path that is missing, a directory or
// unreadable fails later, when its shard works on it. Each output mirrors
// the path relative to root, as it would if root were walked: Rel (and so
// the shard an input falls in) is the same for a listed and a walked run.
// Relative paths are taken from the working directory. Paths outside root
// are problems; paths inside exclude (the output directory, which a walk
// skips) are ignored. Problems fall to the shard their path hashes to, so
// a sharded run reports each once.
func CollectList(paths []string, root, exclude string, shard Shard) Listing {
	var l Listing
	absRoot := absClean(root)
	if exclude != "" {
		exclude = absClean(exclude)
	}
	// filepath.Abs asks the system for the working directory each time
	// (two stats): once is enough for the whole list.
	wd, err := os.Getwd()
	if err != nil {
		wd = "."
	}
	for _, p := range paths {
		abs := filepath.Clean(p)
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(wd, abs)
		}
		if exclude != "" && within(exclude, abs) {
			l.Ignored++
			continue
		}
		rel, err := filepath.Rel(absRoot, abs)
		if err != nil || rel == "." || !filepath.IsLocal(rel) {
			if shard.Owns(Input{Rel: p}) {
				l.Problems = append(l.Problems, Failure{Input: p, Err: fmt.Errorf("not below --root %s: its output would have no place in the output tree", root)})
			}
			continue
		}
		l.Inputs = append(l.Inputs, Input{Path: p, Root: root, Rel: filepath.ToSlash(rel)})
	}
	return l
}

// within reports whether path is dir or lies below it (both absolute and
// clean).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel)
}
