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

// TelemetryEnv is ONNX Runtime's own switch for the usage telemetry its
// official Linux builds send since 1.29 (an uploader, a device id under
// ~/.cache/Microsoft and a /tmp/mat-debug-PID.log per process). A batch tool
// should not report on its user unasked, so Load turns it off unless the
// user has set the variable themselves; ORT reads it once, at start-up.
const TelemetryEnv = "ORT_DISABLE_TELEMETRY"

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

// telemetryWanted reports whether the user asked for ORT's telemetry and,
// when they did not say, sets TelemetryEnv so that ORT starts without it.
// os.Setenv reaches the C environment ORT reads, as the binary uses cgo.
func telemetryWanted() bool {
	v, set := os.LookupEnv(TelemetryEnv)
	if !set {
		os.Setenv(TelemetryEnv, "1")
		return false
	}
	return strings.TrimSpace(v) != "1"
}

// TelemetryState says in a few words what ORT's telemetry is doing, for
// version, inspect and --verbose.
func (r *Runtime) TelemetryState() string {
	if r.Telemetry {
		return "telemetry left to ONNX Runtime (" + TelemetryEnv + "=" + os.Getenv(TelemetryEnv) + ")"
	}
	return "telemetry off"
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
	Library   string // the path that loaded
	Version   string // ONNX Runtime's own version string
	Telemetry bool   // whether the user opted in to ORT's telemetry (TelemetryEnv set to anything but 1)
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
	telemetry := telemetryWanted()
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
		if !telemetry {
			// Older builds ignore the variable but honour the API; an error
			// here only means there was nothing to turn off.
			_ = ort.DisableTelemetry()
		}
		loaded = &Runtime{Library: c.Path, Version: ort.GetVersion(), Telemetry: telemetry}
		return loaded, nil
	}
	if len(tried) == 0 {
		tried = append(tried, Attempt{Candidate{"", "none"}, errLoad})
	}
	return nil, &LoadError{Tried: tried}
}
