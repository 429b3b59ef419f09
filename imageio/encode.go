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

// Encode writes img to w as JPEG, PNG or WebP, without metadata; see
// EncodeWith.
func Encode(w io.Writer, img *image.NRGBA, f Format, quality int) error {
	return EncodeWith(w, img, f, EncodeOptions{Quality: quality})
}

// EncodeOptions controls EncodeWith.
type EncodeOptions struct {
	// Quality is 1..100 for JPEG and WebP (0: DefaultJPEGQuality; other
	// values are clamped). WebP at 100 is lossless.
	Quality int
	// Metadata, when not nil, is written into the file: EXIF (made to
	// describe img: Orientation 1, img's size, no thumbnail), XMP and IPTC.
	Metadata *Metadata
	// Warnf hears about metadata left out (too big for the format); nil
	// drops the warnings.
	Warnf func(format string, args ...any)
	// ICC, when not nil, is the colour profile the pixels are in, written
	// into the file (JPEG APP2, PNG iCCP, WebP ICCP; see iccout.go).
	ICC []byte
}

// EncodeWith writes img to w as JPEG, PNG or WebP.
//
// JPEG: JPEG has no alpha: translucent pixels are composited onto white.
// EXIF and XMP go in APP1 segments, IPTC in an APP13 Photoshop resource.
// PNG: alpha is kept; a fully opaque image is written as 8-bit RGB; quality
// is ignored. EXIF goes in eXIf, XMP in an iTXt chunk, IPTC in a zTXt
// "Raw profile type iptc" chunk (ImageMagick's and ExifTool's convention:
// PNG has no standard place for it).
// WebP: alpha is kept; lossy at quality 1..99, lossless at 100. EXIF and
// XMP go in EXIF and XMP chunks; IPTC is left out (WebP has no place for
// it). Only a binary built with libwebp writes WebP (CanWrite).
// Any other format gives an error matching ErrUnsupported.
func EncodeWith(w io.Writer, img *image.NRGBA, f Format, o EncodeOptions) error {
	quality := o.Quality
	warnf := o.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	meta := o.Metadata
	if meta.Empty() {
		meta = nil
	}
	size := img.Rect.Size()
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
		var sw *spliceWriter
		if meta != nil || o.ICC != nil {
			sw = &spliceWriter{w: w, cut: jpegCut, insert: jpegICCSegments(o.ICC)}
			if meta != nil {
				sw.insert = append(sw.insert, jpegMetaSegments(meta, size.X, size.Y, warnf)...)
			}
			w = sw
		}
		// libjpeg-turbo when linked in (jpegencode_cgo.go), else image/jpeg.
		if err := writeJPEG(w, src, quality); err != nil {
			return fmt.Errorf("encoding JPEG: %w", err)
		}
		if sw != nil {
			return sw.flush()
		}
		return nil
	case PNG:
		enc := png.Encoder{CompressionLevel: PNGCompression}
		bw := bufio.NewWriterSize(w, 64<<10)
		var out io.Writer = bw
		var sw *spliceWriter
		if meta != nil || o.ICC != nil {
			sw = &spliceWriter{w: bw, cut: pngCut, insert: pngICCChunk(o.ICC)}
			if meta != nil {
				sw.insert = append(sw.insert, pngMetaChunks(meta, size.X, size.Y)...)
			}
			out = sw
		}
		if err := enc.Encode(out, img); err != nil {
			return fmt.Errorf("encoding PNG: %w", err)
		}
		if sw != nil {
			if err := sw.flush(); err != nil {
				return err
			}
		}
		return bw.Flush()
	case WebP:
		if quality == 0 {
			quality = DefaultJPEGQuality
		}
		quality = max(1, min(100, quality))
		if meta != nil && len(meta.IPTC) > 0 {
			warnf("IPTC left out: WebP has no place for it (its XMP is kept)")
		}
		err := encodeWebP(img, quality, quality == 100, func(b []byte) error {
			_, err := w.Write(webpWithICC(webpWithMetadata(b, meta, size.X, size.Y), o.ICC, size.X, size.Y))
			return err
		})
		if err != nil {
			return fmt.Errorf("encoding WebP: %w", err)
		}
		return nil
	}
	return &formatError{msg: fmt.Sprintf("unsupported output format %q (only JPEG, PNG and WebP are written)", string(f))}
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
