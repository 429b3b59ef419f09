//go:build !cgo || nolibjpeg

package imageio

import (
	"errors"
	"image"
)

// progressiveAvailable says whether encodeProgressive can write a
// progressive JPEG: not without libjpeg-turbo, as image/jpeg writes
// baseline only.
const progressiveAvailable = false

func encodeProgressive(*image.NRGBA, int) ([]byte, error) {
	return nil, errors.New("progressive JPEG: built without libjpeg-turbo")
}
