package convert

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Input is one file to convert.
type Input struct {
	Path string // as the user can find it: the argument joined with Rel
	Root string // the argument it was found under ("" for a file argument)
	Rel  string // path below Root, slash-separated; the bare name for a file argument
}

// imageExts are the extensions a directory walk picks up. Formats we cannot
// decode (HEIC, AVIF, ...) are listed too, so a folder of iPhone photos
// reports each one as "unsupported format" instead of silently skipping it.
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".jpe": true, ".jfif": true,
	".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true,
	".heic": true, ".heif": true, ".avif": true, ".jxl": true, ".jp2": true,
}

// junkNames are files that photo folders collect from other systems.
var junkNames = map[string]bool{"desktop.ini": true, "thumbs.db": true, "ehthumbs.db": true}

// isJunk reports names a walk passes over: hidden files (which also covers
// our own temp files and macOS ._ resource forks) and OS clutter.
func isJunk(name string) bool {
	return strings.HasPrefix(name, ".") || junkNames[strings.ToLower(name)]
}

// IsImageName reports whether a directory walk would pick up the file name.
func IsImageName(name string) bool {
	return !isJunk(name) && imageExts[strings.ToLower(filepath.Ext(name))]
}

// Listing is what Collect found.
type Listing struct {
	Inputs []Input
	// Problems are inputs that cannot even be listed (an unreadable
	// directory, a missing argument, a symlink loop); each counts as failed.
	Problems []Failure
	Ignored  int // files in walked directories that are not images
}

// Collect expands the arguments into inputs: files are taken as given,
// directories walked recursively in lexical order. Symlinked files are
// followed; symlinked directories are followed once, and a link back into a
// directory already on the walk's path is reported as a loop. exclude names
// a directory never to descend into (the output directory, when it lies
// inside an input directory).
func Collect(args []string, exclude string) Listing {
	var l Listing
	if exclude != "" {
		exclude = absClean(exclude)
	}
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			l.Problems = append(l.Problems, Failure{Input: arg, Err: describeFSError(err)})
			continue
		}
		if !info.IsDir() {
			l.Inputs = append(l.Inputs, Input{Path: arg, Rel: filepath.Base(arg)})
			continue
		}
		w := walker{root: arg, exclude: exclude, listing: &l}
		w.walk(arg, "", []string{realPath(arg)})
	}
	return l
}

type walker struct {
	root    string
	exclude string
	listing *Listing
}

// walk lists dir (whose path below the root is rel). ancestors holds the
// resolved paths of the directories above, to catch symlink loops.
func (w *walker) walk(dir, rel string, ancestors []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		w.listing.Problems = append(w.listing.Problems, Failure{Input: dir, Err: describeFSError(err)})
		// ReadDir returns what it read before the error; go on with that.
	}
	for _, e := range entries {
		name := e.Name()
		if isJunk(name) {
			continue
		}
		path := filepath.Join(dir, name)
		relPath := joinRel(rel, name)
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			info, err := os.Stat(path)
			if err != nil {
				w.listing.Problems = append(w.listing.Problems, Failure{Input: path, Err: describeFSError(err)})
				continue
			}
			isDir = info.IsDir()
		}
		if isDir {
			if w.exclude != "" && absClean(path) == w.exclude {
				continue
			}
			real := realPath(path)
			if slices.Contains(ancestors, real) {
				w.listing.Problems = append(w.listing.Problems, Failure{Input: path, Err: fmt.Errorf("symlink loop: leads back to %s", real)})
				continue
			}
			w.walk(path, relPath, append(ancestors[:len(ancestors):len(ancestors)], real))
			continue
		}
		if !imageExts[strings.ToLower(filepath.Ext(name))] {
			w.listing.Ignored++
			continue
		}
		w.listing.Inputs = append(w.listing.Inputs, Input{Path: path, Root: w.root, Rel: relPath})
	}
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

func absClean(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return absClean(r)
	}
	return absClean(p)
}

// describeFSError drops the repeated path from *PathError: the failure line
// already names the file.
func describeFSError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("no such file or directory: %w", fs.ErrNotExist)
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("permission denied: %w", fs.ErrPermission)
		}
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
