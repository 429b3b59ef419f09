package imageio

import (
	"bufio"
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
	// before orientation; Pixels' size is them swapped for orientations 5..8.
	StoredWidth, StoredHeight int
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
	switch f {
	case JPEG:
		m, err = jpeg.Decode(bufio.NewReaderSize(in, 64<<10))
	case PNG:
		m, err = png.Decode(in)
	case GIF:
		m, err = gif.Decode(in)
	case BMP:
		m, err = bmp.Decode(in)
	case TIFF:
		m, err = tiff.Decode(in)
	case WebP:
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
		StoredWidth:  m.Bounds().Dx(),
		StoredHeight: m.Bounds().Dy(),
	}, nil
}
