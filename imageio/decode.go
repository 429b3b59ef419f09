package imageio

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the pixel limit used when DecodeOptions.MaxPixels is 0
// (100 megapixels: bigger than any phone or DSLR photo; the decoded NRGBA
// then needs 400 MB).
const DefaultMaxPixels = 100_000_000

// DecodeOptions controls Decode.
type DecodeOptions struct {
	// MaxPixels rejects, before decoding, an image whose header claims more
	// than this many pixels (width*height as stored). 0 means
	// DefaultMaxPixels; a negative value means no limit.
	MaxPixels int64
	// Shrink, when set, is told the upright size from the header and
	// returns the smallest size the caller needs. A JPEG may then be decoded
	// already shrunk by 2, 4 or 8 (libjpeg-turbo's DCT-domain scaling, far
	// cheaper than decoding everything and resizing), never below it.
	Shrink func(width, height int) (minWidth, minHeight int)
}

// Image is a decoded photo.
type Image struct {
	// Pixels holds the upright picture: the EXIF orientation has been applied.
	// Colour channels are not premultiplied. When HasAlpha is false every
	// alpha value is 255.
	Pixels *image.NRGBA
	// HasAlpha is true when at least one pixel is not fully opaque.
	HasAlpha bool
	// Format is the format detected from the content.
	Format Format
	// Orientation is the EXIF orientation that was applied (1 = none).
	Orientation int
	// StoredWidth and StoredHeight are the dimensions as stored in the file,
	// before orientation; Pixels' size is them swapped for orientations 5..8,
	// and divided by Scale.
	StoredWidth, StoredHeight int
	// Scale is 1, or 2, 4 or 8 when DecodeOptions.Shrink let a JPEG be
	// decoded that much smaller.
	Scale int
}

// Size is the upright full size of the picture, whatever Scale it was
// decoded at.
func (img *Image) Size() (w, h int) {
	if img.Orientation >= 5 {
		return img.StoredHeight, img.StoredWidth
	}
	return img.StoredWidth, img.StoredHeight
}

// Decode reads a whole image, applies its EXIF orientation and returns it
// as NRGBA. The header is probed first and an image over opts.MaxPixels is
// rejected (ErrTooLarge) before any pixel buffer is allocated. For GIF only
// the first frame is decoded. Errors match ErrEmpty, ErrUnsupported,
// ErrCorrupt or ErrTooLarge, or wrap an I/O error of r. Decode never panics.
func Decode(r io.Reader, opts DecodeOptions) (img *Image, err error) {
	var f Format
	defer recoverAsError(&err, &f)
	h, rc, err := probe(r)
	if err != nil {
		return nil, err
	}
	f = h.Format
	limit := opts.MaxPixels
	if limit == 0 {
		limit = DefaultMaxPixels
	}
	if limit > 0 && h.Pixels() > limit {
		return nil, fmt.Errorf("%w: %s is %dx%d (%.1f megapixels), over the limit of %d pixels",
			ErrTooLarge, h.Format.displayName(), h.Width, h.Height, float64(h.Pixels())/1e6, limit)
	}
	in := rc.replay()
	var m image.Image
	scale := 1
	if f == JPEG && opts.Shrink != nil && scaledJPEGAvailable {
		if d := jpegDenominator(h, opts.Shrink); d > 1 {
			data, err := io.ReadAll(in)
			if err != nil {
				return nil, classify(f, rc, err)
			}
			if scaled, ok := decodeJPEGScaled(data, d); ok {
				m, scale = scaled, d
			}
			in = bytes.NewReader(data)
		}
	}
	switch {
	case m != nil:
	case f == JPEG:
		m, err = jpeg.Decode(bufio.NewReaderSize(in, 64<<10))
	case f == PNG:
		m, err = png.Decode(in)
	case f == GIF:
		m, err = gif.Decode(in)
	case f == BMP:
		m, err = bmp.Decode(in)
	case f == TIFF:
		m, err = tiff.Decode(in)
	case f == WebP:
		m, err = webp.Decode(in)
	}
	if err != nil {
		return nil, classify(f, rc, err)
	}
	b := m.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("%w %s: decoded an empty image", ErrCorrupt, f.displayName())
	}
	if limit > 0 && int64(b.Dx())*int64(b.Dy()) > limit {
		return nil, fmt.Errorf("%w: %s decoded to %dx%d, over the limit of %d pixels",
			ErrTooLarge, f.displayName(), b.Dx(), b.Dy(), limit)
	}
	if f == GIF && b != image.Rect(0, 0, h.Width, h.Height) {
		// The first frame may cover part of the logical screen.
		canvas := image.NewNRGBA(image.Rect(0, 0, h.Width, h.Height))
		draw.Draw(canvas, b, m, b.Min, draw.Src)
		m = canvas
	}
	px, hasAlpha := toNRGBA(m, h.Orientation)
	return &Image{
		Pixels:       px,
		HasAlpha:     hasAlpha,
		Format:       f,
		Orientation:  h.Orientation,
		StoredWidth:  h.Width,
		StoredHeight: h.Height,
		Scale:        scale,
	}, nil
}

// jpegDenominator is the largest DCT scaling (8, 4 or 2) whose result
// (libjpeg rounds sizes up) is still at least the size Shrink asks for.
func jpegDenominator(h Header, shrink func(w, h int) (int, int)) int {
	w, ht := h.OrientedSize()
	minW, minH := shrink(w, ht)
	if h.Orientation >= 5 { // back to stored orientation
		minW, minH = minH, minW
	}
	for _, d := range []int{8, 4, 2} {
		if (h.Width+d-1)/d >= minW && (h.Height+d-1)/d >= minH {
			return d
		}
	}
	return 1
}
