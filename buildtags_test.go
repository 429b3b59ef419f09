package main

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// buildTags are the build tags this test binary was built with that change
// what animegan does; TestMain builds the animegan binary it runs with the
// same, so that `go test -tags nolibjpeg` (what `make test` passes on a
// machine without libjpeg's header) tests, and can build, that variant.
// Each such tag adds itself from a file built only under it.
var buildTags []string

// TestBinaryBuildTags: the binary the CLI tests run was built with this
// test binary's tags (`go version -m` reads them from the binary itself).
func TestBinaryBuildTags(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", binary).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	var got []string
	if m := regexp.MustCompile(`(?m)^\s*build\s+-tags=(\S*)$`).FindSubmatch(out); m != nil {
		got = strings.Split(string(m[1]), ",")
	}
	if !slices.Equal(got, buildTags) {
		t.Fatalf("the animegan binary was built with tags %q, the tests with %q\n%s", got, buildTags, out)
	}
}
