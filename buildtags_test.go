package main

// buildTags are the build tags this test binary was built with that change
// what animegan does; TestMain builds the animegan binary it runs with the
// same, so that `go test -tags nolibjpeg` (what `make test` passes on a
// machine without libjpeg's header) tests, and can build, that variant.
// Each such tag adds itself from a file built only under it.
var buildTags []string
