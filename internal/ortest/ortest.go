// Package ortest loads the real ONNX Runtime for tests.
//
// Tests run with the package directory as working directory, so the ./lib
// candidate of model.Load would miss the checkout's lib/. This helper finds
// the module root and points model.Load at its lib/ unless ONNXRUNTIME_LIB
// already says where the library is.
package ortest

import (
	"os"
	"path/filepath"
	"testing"

	"animegan/model"
)

// Init loads ONNX Runtime or fails the test with the loader's explanation.
// A missing library is a setup error, not a reason to skip: `make test`
// installs it first.
func Init(tb testing.TB) *model.Runtime {
	tb.Helper()
	rt, err := model.Load(LibraryPath())
	if err != nil {
		tb.Fatalf("ONNX Runtime: %v", err)
	}
	return rt
}

// LibraryPath returns $ONNXRUNTIME_LIB, or lib/libonnxruntime.so.1 under the
// module root when it exists, or "" to let model.Load search.
func LibraryPath() string {
	if env := os.Getenv(model.LibraryEnv); env != "" {
		return env
	}
	if root := ModuleRoot(); root != "" {
		p := filepath.Join(root, "lib", "libonnxruntime.so.1")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// ModuleRoot is the directory holding go.mod above the working directory.
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
