//go:build !cgo || nolibheif

package imageio

import (
	"image"
)

// Without libheif (Debian libheif-dev) HEIC and AVIF stay unsupported:
// "unsupported format HEIC (this binary was built without libheif)".
const heifAvailable = false

func heifVersion() string { return "" }

func heifHasDecoder(Format) bool { return false }

func heifMeta([]byte) rawMeta { return rawMeta{} }

func heifConfig(_ []byte, f Format) (image.Config, error) { return image.Config{}, noHEIF(f) }

func decodeHEIF(_ []byte, f Format) (image.Image, profileSource, error) {
	return nil, profileSource{}, noHEIF(f)
}
