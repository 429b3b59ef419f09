package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnv is the environment variable that names the ONNX Runtime shared
// library, consulted after an explicit --ort-lib.
const LibraryEnv = "ONNXRUNTIME_LIB"

// libraryFile is the name scripts/install-onnxruntime.sh installs under lib/.
const libraryFile = "libonnxruntime.so.1"

// InstallHint is the one command that fixes a missing library.
const InstallHint = "run ./scripts/install-onnxruntime.sh (or set " + LibraryEnv + " to your libonnxruntime.so)"

// Candidate is one place the runtime library may be loaded from, with the
// reason it is on the list (shown to the user when nothing loads).
type Candidate struct {
	Path   string
	Source string
}

// LibraryCandidates lists where to look for the library, in order:
// --ort-lib, $ONNXRUNTIME_LIB, lib/ beside the executable, ./lib, and last
// the system loader's own search path.
func LibraryCandidates(explicit string) []Candidate {
	var c []Candidate
	if explicit != "" {
		return append(c, Candidate{explicit, "--ort-lib"})
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		c = append(c, Candidate{env, "$" + LibraryEnv})
	}
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		dir := filepath.Dir(exe)
		c = append(c, Candidate{filepath.Join(dir, "lib", libraryFile), "lib/ beside the executable"})
		// bin/animegan in a checkout: the library lives in ../lib.
		c = append(c, Candidate{filepath.Join(dir, "..", "lib", libraryFile), "lib/ beside the executable's directory"})
	}
	if wd, err := os.Getwd(); err == nil {
		c = append(c, Candidate{filepath.Join(wd, "lib", libraryFile), "./lib"})
	}
	c = append(c, Candidate{libraryFile, "system loader"}, Candidate{"libonnxruntime.so", "system loader"})
	return dedupe(c)
}

func dedupe(cs []Candidate) []Candidate {
	seen := make(map[string]bool, len(cs))
	out := cs[:0]
	for _, c := range cs {
		key := filepath.Clean(c.Path)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, c)
	}
	return out
}

// LoadError says that no candidate loaded, with each attempt's reason.
type LoadError struct {
	Tried []Attempt
}

// Attempt is one failed try to load the library.
type Attempt struct {
	Candidate
	Err error
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("cannot load the ONNX Runtime library; tried:")
	for _, a := range e.Tried {
		fmt.Fprintf(&b, "\n  %s (%s): %v", a.Path, a.Source, a.Err)
	}
	b.WriteString("\nfix: " + InstallHint)
	return b.String()
}

// Runtime is the loaded ONNX Runtime. The Go binding keeps one process-wide
// environment, so there is at most one Runtime per process; Load returns the
// same one to every caller once it has succeeded.
type Runtime struct {
	Library string // the path that loaded
	Version string // ONNX Runtime's own version string
}

var (
	loadMu  sync.Mutex
	loaded  *Runtime
	errLoad = errors.New("no candidate given")
)

// Load initialises ONNX Runtime from the first candidate that loads.
// explicit is the --ort-lib value ("" when absent).
func Load(explicit string) (*Runtime, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded != nil {
		return loaded, nil
	}
	var tried []Attempt
	for _, c := range LibraryCandidates(explicit) {
		// ORT logs only fatal errors: every failure it reports reaches the user
		// through our own error, once, naming the file.
		// dlopen with a bare name searches the system path; a path with a
		// slash must exist, and saying so beats dlerror's wording.
		if strings.ContainsRune(c.Path, '/') {
			if _, err := os.Stat(c.Path); err != nil {
				tried = append(tried, Attempt{c, errors.Unwrap(err)})
				continue
			}
		}
		ort.SetSharedLibraryPath(c.Path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
			tried = append(tried, Attempt{c, err})
			continue
		}
		loaded = &Runtime{Library: c.Path, Version: ort.GetVersion()}
		return loaded, nil
	}
	if len(tried) == 0 {
		tried = append(tried, Attempt{Candidate{"", "none"}, errLoad})
	}
	return nil, &LoadError{Tried: tried}
}
