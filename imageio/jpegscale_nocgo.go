//go:build !cgo || nolibjpeg

package imageio

import "image"

// Without libjpeg-turbo, JPEGs are decoded at full size by the standard
// library and shrunk by Resize.
const scaledJPEGAvailable = false

func decodeJPEGScaled([]byte, image.Point, int) (*image.NRGBA, bool) { return nil, false }
