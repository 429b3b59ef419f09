package main

import (
	"slices"
	"strings"

	"animegan/imageio"
)

// cBuildTags are the build tags that left C libraries out of this test
// binary (the Makefile sets them when a header is missing), so that the
// animegan binary TestMain builds is built the same way: without them, a
// machine lacking a header could not build it at all.
func cBuildTags() string {
	var tags []string
	if !slices.ContainsFunc(imageio.Features(), func(f string) bool { return strings.HasPrefix(f, "libjpeg") }) {
		tags = append(tags, "nolibjpeg")
	}
	if !imageio.CanWrite(imageio.WebP) {
		tags = append(tags, "nolibwebp")
	}
	if !imageio.HEIFAvailable {
		tags = append(tags, "nolibheif")
	}
	if !imageio.ColourAvailable {
		tags = append(tags, "nolcms")
	}
	return strings.Join(tags, ",")
}
