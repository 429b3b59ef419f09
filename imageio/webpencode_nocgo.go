//go:build !cgo || nolibwebp

package imageio

import (
	"errors"
	"image"
)

// webpEncoder says whether this binary writes WebP (libwebp linked in).
const webpEncoder = false

func webpVersion() string { return "" }

// errNoWebPEncoder is returned for WebP output by a binary built without
// libwebp.
var errNoWebPEncoder = errors.New("this animegan was built without libwebp, so it cannot write WebP (install libwebp-dev and rebuild with make)")

func encodeWebP(*image.NRGBA, int, bool, func([]byte) error) error { return errNoWebPEncoder }
