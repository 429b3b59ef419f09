//go:build !cgo || nolibjpeg

package imageio

import (
	"image"
	"io"
)

// libjpegEncoder says whether writeJPEG is libjpeg-turbo's encoder.
const libjpegEncoder = false

// writeJPEG is image/jpeg's encoder when libjpeg-turbo is not linked in.
func writeJPEG(w io.Writer, img *image.NRGBA, quality int) error {
	return writeJPEGStd(w, img, quality)
}
