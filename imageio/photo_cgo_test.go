//go:build cgo && !nolibjpeg

package imageio

import (
	"bytes"
	"image"
)

// progressiveAvailable says whether encodeProgressive can write a
// progressive JPEG. It is true in the builds that have the libjpeg-turbo
// decode path the progressive fixture is there to test.
const progressiveAvailable = true

// encodeProgressive writes img as a progressive 4:2:0 JPEG.
func encodeProgressive(img *image.NRGBA, quality int) ([]byte, error) {
	var buf bytes.Buffer
	err := writeLibjpeg(&buf, img, quality, true)
	return buf.Bytes(), err
}
