package imageio

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
)

// DefaultJPEGQuality is used by Encode when quality is 0.
const DefaultJPEGQuality = 90

// PNGCompression is the zlib level Encode uses for PNG. BestSpeed writes
// files a little bigger than the default level in a fraction of the time.
var PNGCompression = png.BestSpeed

// Encode writes img to w as JPEG or PNG.
//
// JPEG: quality 1..100 (0 means DefaultJPEGQuality; other values are
// clamped). JPEG has no alpha: translucent pixels are composited onto white.
// PNG: alpha is kept; a fully opaque image is written as 8-bit RGB; quality
// is ignored. Any other format gives an error matching ErrUnsupported.
func Encode(w io.Writer, img *image.NRGBA, f Format, quality int) error {
	switch f {
	case JPEG:
		if quality == 0 {
			quality = DefaultJPEGQuality
		}
		quality = max(1, min(100, quality))
		src := img
		if !opaque(img) {
			src = Flatten(img, color.NRGBA{255, 255, 255, 255})
		}
		// libjpeg-turbo when linked in (jpegencode_cgo.go), else image/jpeg.
		if err := writeJPEG(w, src, quality); err != nil {
			return fmt.Errorf("encoding JPEG: %w", err)
		}
		return nil
	case PNG:
		enc := png.Encoder{CompressionLevel: PNGCompression}
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := enc.Encode(bw, img); err != nil {
			return fmt.Errorf("encoding PNG: %w", err)
		}
		return bw.Flush()
	}
	return &formatError{msg: fmt.Sprintf("unsupported output format %q (only JPEG and PNG are written)", string(f))}
}

// writeJPEGStd writes an opaque img with image/jpeg: baseline, 4:2:0,
// standard Huffman tables, the IJG quality scale.
func writeJPEGStd(w io.Writer, img *image.NRGBA, quality int) error {
	// An opaque NRGBA has the same bytes as an RGBA, which image/jpeg
	// encodes through its fast path.
	rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := jpeg.Encode(bw, rgba, &jpeg.Options{Quality: quality}); err != nil {
		return err
	}
	return bw.Flush()
}
