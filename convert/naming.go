package convert

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"animegan/imageio"
)

// OutputFormat is the encoding of an output file.
type OutputFormat string

const (
	FormatKeep OutputFormat = ""     // JPEG stays JPEG, PNG stays PNG, the rest become PNG
	FormatJPEG OutputFormat = "jpeg" // never carries alpha
	FormatPNG  OutputFormat = "png"
	FormatWebP OutputFormat = "webp" // lossy, or lossless at --quality 100; keeps alpha
)

// ErrNoWebP is ParseFormat's error for webp in a binary built without libwebp.
var ErrNoWebP = errors.New("format webp: this animegan was built without libwebp (install libwebp-dev, or your system's libwebp headers, and rebuild with make)")

// ParseFormat reads a --format value.
func ParseFormat(s string) (OutputFormat, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "keep", "auto":
		return FormatKeep, nil
	case "jpg", "jpeg":
		return FormatJPEG, nil
	case "png":
		return FormatPNG, nil
	case "webp":
		if !imageio.CanWrite(imageio.WebP) {
			return FormatKeep, ErrNoWebP
		}
		return FormatWebP, nil
	}
	return FormatKeep, fmt.Errorf("format %q: want jpg, png or webp", s)
}

// Ext is the file extension written for the format.
func (f OutputFormat) Ext() string {
	switch f {
	case FormatJPEG:
		return ".jpg"
	case FormatWebP:
		return ".webp"
	}
	return ".png"
}

// KeepsAlpha says whether the format carries transparency.
func (f OutputFormat) KeepsAlpha() bool { return f == FormatPNG || f == FormatWebP }

// Codec is the imageio format the output is encoded in.
func (f OutputFormat) Codec() imageio.Format {
	switch f {
	case FormatJPEG:
		return imageio.JPEG
	case FormatWebP:
		return imageio.WebP
	}
	return imageio.PNG
}

// OutputFormatFor picks the output format for an input name: want, unless
// it is FormatKeep, when JPEG stays JPEG and HEIC and AVIF become JPEG, everything else PNG.
// The decision goes by extension so that it is known before any file is
// read: planning the output names (and their collisions) must not wait for
// decoding.
func OutputFormatFor(name string, want OutputFormat) OutputFormat {
	if want != FormatKeep {
		return want
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".jpe", ".jfif":
		return FormatJPEG
	case ".heic", ".heif", ".avif":
		// Lossy photos, like JPEGs: a PNG of one is several times bigger.
		return FormatJPEG
	}
	return FormatPNG
}

// Target is where one input's result goes.
type Target struct {
	Input
	OutRel string // below the output directory, slash-separated
	Format OutputFormat
	// Renamed says why OutRel is not the plain mirror of Rel (a
	// collision); "" when it is.
	Renamed string
}

// planOutputs mirrors each input's relative path under the output directory
// with the output format's extension. When two inputs would land on one
// name, neither is overwritten:
//
//  1. the input whose own extension already matches keeps the plain name
//     (photo.png → photo.png), the others keep their source extension in
//     the name (photo.gif → photo.gif.png, photo.jpeg → photo.jpeg.jpg);
//  2. any name still taken (the same relative path under two arguments)
//     gets "~2", "~3", ... before the extension, in input order.
//
// Inputs are ordered by path first, so the names do not depend on the order
// the arguments or directory entries came in.
func planOutputs(inputs []Input, want OutputFormat) []Target {
	targets := make([]Target, len(inputs))
	for i, in := range inputs {
		f := OutputFormatFor(in.Rel, want)
		targets[i] = Target{Input: in, OutRel: stem(in.Rel) + f.Ext(), Format: f}
	}
	slices.SortStableFunc(targets, func(a, b Target) int { return strings.Compare(a.Path, b.Path) })

	groups := make(map[string][]int)
	for i, t := range targets {
		key := strings.ToLower(t.OutRel) // stay safe on case-insensitive disks
		groups[key] = append(groups[key], i)
	}
	for _, idx := range groups {
		if len(idx) < 2 {
			continue
		}
		keeper := idx[0]
		for _, i := range idx {
			if extMatches(targets[i]) {
				keeper = i
				break
			}
		}
		for _, i := range idx {
			if i != keeper && !extMatches(targets[i]) {
				targets[i].Renamed = fmt.Sprintf("%s is %s's", targets[i].OutRel, targets[keeper].Path)
				targets[i].OutRel = targets[i].Rel + targets[i].Format.Ext()
			}
		}
	}

	taken := make(map[string]string, len(targets)) // lower-cased name → the input that has it
	for i := range targets {
		name := targets[i].OutRel
		for n := 2; taken[strings.ToLower(name)] != ""; n++ {
			if n == 2 {
				targets[i].Renamed = fmt.Sprintf("%s is %s's", name, taken[strings.ToLower(name)])
			}
			name = fmt.Sprintf("%s~%d%s", stem(targets[i].OutRel), n, path.Ext(targets[i].OutRel))
		}
		taken[strings.ToLower(name)] = targets[i].Path
		targets[i].OutRel = name
	}
	return targets
}

// extMatches reports whether the input already has the output's extension.
func extMatches(t Target) bool {
	return strings.EqualFold(path.Ext(t.Rel), t.Format.Ext())
}

func stem(rel string) string {
	return strings.TrimSuffix(rel, path.Ext(rel))
}
