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
	"io/fs"

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
	// already shrunk to M/8 of its size (libjpeg-turbo's DCT-domain scaling,
	// far cheaper than decoding everything and resizing), never below it.
	// With Shrink set, a JPEG that cannot shrink is decoded by libjpeg-turbo
	// too, at full size: its pixels then differ slightly (smoother chroma
	// upsampling) from image/jpeg's.
	Shrink func(width, height int) (minWidth, minHeight int)
	// Metadata asks for the photo's EXIF, XMP and IPTC in Image.Metadata
	// (see metadata.go for where each format keeps them).
	Metadata bool
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
	// and scaled by ScaleNum/ScaleDenom (each side rounded up).
	StoredWidth, StoredHeight int
	// ScaleNum is the numerator of the scale Pixels were decoded at, over
	// ScaleDenom: 8 (full size), or 1..7 when DecodeOptions.Shrink let a
	// JPEG be decoded that much smaller.
	ScaleNum int
	// Scale is ScaleDenom/ScaleNum rounded down: 1 at full size, 2, 4 or 8
	// exactly when ScaleNum is 4, 2 or 1. It predates ScaleNum and is kept
	// for callers that only know those three.
	Scale int
	// Metadata is the photo's EXIF, XMP and IPTC when DecodeOptions.Metadata
	// asked for it; nil when it has none.
	Metadata *Metadata
	// Warnings are problems that did not stop the decode, such as a broken
	// EXIF block that was dropped.
	Warnings []string
	// Colour says whether the photo had a colour profile and whether its
	// pixels were converted from it to sRGB (colour.go).
	Colour Colour
}

// ScaleDenom is the denominator of Image.ScaleNum: libjpeg scales in
// eighths, because a JPEG is coded in 8x8 blocks.
const ScaleDenom = 8

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
	size := sizeHint(r) // before probe reads from r
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
	// The profile may sit past what the header took: read it before
	// the stream is replayed.
	prof := readProfile(f, rc)
	in := rc.replay()
	var m image.Image
	var scaled *image.NRGBA // decoded by libjpeg-turbo, opaque, not yet oriented
	num := ScaleDenom
	if f == JPEG && opts.Shrink != nil && scaledJPEGAvailable {
		// Even when it cannot shrink (num 8), libjpeg-turbo decodes several
		// times faster than image/jpeg.
		n := jpegScaleNum(h, opts.Shrink)
		data, err := readAll(in, size)
		if err != nil {
			return nil, classify(f, rc, err)
		}
		src := data
		if n == 1 {
			if fewer, ok := withoutUnusedScans(data); ok {
				src = fewer
			}
		}
		px, ok := decodeJPEGScaled(src, image.Pt(h.Width, h.Height), n)
		if !ok && len(src) != len(data) {
			px, ok = decodeJPEGScaled(data, image.Pt(h.Width, h.Height), n)
		}
		if ok {
			m, scaled, num = px, px, n
		}
		in = bytes.NewReader(data)
	}
	var raw rawMeta
	if opts.Metadata {
		switch f {
		case JPEG:
			// Probe read every segment up to the frame header.
			raw = jpegMeta(rc.buf)
		case PNG:
			tap := newPNGMetaTap(in)
			in = tap
		case WebP, TIFF:
			// Their metadata may follow the pixels; these decoders read
			// the whole file anyway (and Probe may have, for a WebP's
			// orientation).
			data := rc.buf
			if !rc.eof {
				var err error
				if data, err = readAll(in, size); err != nil {
					return nil, classify(f, rc, err)
				}
			}
			if f == WebP {
				raw = webpMeta(data)
			} else {
				raw = tiffMeta(data)
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
	case f == HEIC || f == AVIF:
		// Probe read the whole file; libheif applies the HEIF transforms
		// (irot, imir, clap), so the EXIF orientation is not applied again.
		m, prof, err = decodeHEIF(rc.buf, f)
		if err == nil && opts.Metadata {
			raw = heifMeta(rc.buf)
		}
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
	var px *image.NRGBA
	var hasAlpha bool
	switch {
	case scaled != nil && h.Orientation > 1:
		px = Orient(scaled, h.Orientation)
	case scaled != nil:
		// libjpeg wrote every alpha byte 255: nothing to scan or copy.
		px = scaled
	case cmykProfiled(m, prof):
		// manageColour converts the CMYK values through their profile.
	default:
		px, hasAlpha = toNRGBA(m, h.Orientation)
	}
	if f == PNG && opts.Metadata {
		raw = in.(*pngMetaTap).raw
	}
	meta, warnings := raw.parse()
	px, colour, warn := manageColour(prof, m, px, h.Orientation)
	if warn != "" {
		warnings = append(warnings, warn)
	}
	return &Image{
		Metadata:     meta,
		Warnings:     warnings,
		Colour:       colour,
		Pixels:       px,
		HasAlpha:     hasAlpha,
		Format:       f,
		Orientation:  h.Orientation,
		StoredWidth:  h.Width,
		StoredHeight: h.Height,
		ScaleNum:     num,
		Scale:        ScaleDenom / num,
	}, nil
}

// dctScaleNums are the numerators (over ScaleDenom) jpegScaleNum may pick,
// smallest first. libjpeg-turbo has SIMD IDCTs only for 8x8, 4x4 and 2x2:
// at 5/8 and 6/8 it decodes slower than at full size, but the smaller
// Resize that follows more than pays for it. 7/8 is left out: measured on
// real photos, its decode plus resize took 3-8% more CPU than decoding at
// full size and resizing.
var dctScaleNums = []int{1, 2, 3, 4, 5, 6}

// jpegScaleNum is the smallest DCT scaling numerator in dctScaleNums whose
// result is still at least the size Shrink asks for, or 8 (full size).
func jpegScaleNum(h Header, shrink func(w, h int) (int, int)) int {
	w, ht := h.OrientedSize()
	minW, minH := shrink(w, ht)
	if h.Orientation >= 5 { // back to stored orientation
		minW, minH = minH, minW
	}
	for _, n := range dctScaleNums {
		if s := dctScaledSize(image.Pt(h.Width, h.Height), n); s.X >= minW && s.Y >= minH {
			return n
		}
	}
	return ScaleDenom
}

// dctScaledSize is the size libjpeg decodes a JPEG stored as size to at
// num/8: each side rounded up (jdiv_round_up in jdmaster.c).
func dctScaledSize(size image.Point, num int) image.Point {
	return image.Pt((size.X*num+ScaleDenom-1)/ScaleDenom, (size.Y*num+ScaleDenom-1)/ScaleDenom)
}

// sizeHint is how many bytes r holds when it can tell cheaply (a file, an
// in-memory reader), else 0.
func sizeHint(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

// readAll reads r to the end into a buffer of capacity size (a hint; 0:
// unknown). io.ReadAll grows its buffer step by step: for a 1.6 MB photo
// that measured 2.5 ms of CPU against 0.7 ms for one right-sized buffer.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > 1<<30 {
		return io.ReadAll(r)
	}
	// MinRead spare bytes, or ReadFrom grows the buffer to look for EOF.
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}
