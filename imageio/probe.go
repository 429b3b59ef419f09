package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Header is what Probe learns from a file's headers without decoding pixels.
type Header struct {
	Format Format
	// Width and Height are the dimensions as stored in the file, before the
	// EXIF orientation is applied.
	Width, Height int
	// Orientation is the EXIF/TIFF orientation, 1..8; 1 (upright) when absent.
	// It is read from JPEG APP1 EXIF, the TIFF IFD0 Orientation tag and the
	// PNG eXIf chunk and the WebP EXIF chunk (which sits after the pixel
	// data: Probe then reads the whole file).
	Orientation int
}

// OrientedSize is the size of the image as displayed, after the orientation
// is applied: Width and Height swapped for orientations 5..8.
func (h Header) OrientedSize() (w, ht int) {
	if h.Orientation >= 5 && h.Orientation <= 8 {
		return h.Height, h.Width
	}
	return h.Width, h.Height
}

// Pixels is Width*Height.
func (h Header) Pixels() int64 { return int64(h.Width) * int64(h.Height) }

// recorder keeps every byte read through it so the stream can be replayed
// after the header has been parsed.
type recorder struct {
	r   io.Reader
	buf []byte
	eof bool
	err error // first non-EOF error of r
}

func (rc *recorder) Read(p []byte) (int, error) {
	if rc.eof {
		return 0, io.EOF
	}
	n, err := rc.r.Read(p)
	rc.buf = append(rc.buf, p[:n]...)
	if err == io.EOF {
		rc.eof = true
	} else if err != nil && rc.err == nil {
		rc.err = err
	}
	return n, err
}

// ensure reads until at least n bytes are recorded; it reports whether they are.
func (rc *recorder) ensure(n int) bool {
	var tmp [4096]byte
	for len(rc.buf) < n && !rc.eof && rc.err == nil {
		k := min(n-len(rc.buf), len(tmp))
		if _, err := rc.Read(tmp[:k]); err != nil && err != io.EOF {
			return false
		}
	}
	return len(rc.buf) >= n
}

// replay returns a reader yielding the whole stream from its first byte,
// without recording further.
func (rc *recorder) replay() io.Reader {
	if rc.eof {
		return bytes.NewReader(rc.buf)
	}
	return io.MultiReader(bytes.NewReader(rc.buf), rc.r)
}

// Probe reads the headers of an image and reports its format, stored size and
// orientation. It reads as little as the format allows (TIFF decoders need
// the whole file). Errors match ErrEmpty, ErrUnsupported or ErrCorrupt.
func Probe(r io.Reader) (h Header, err error) {
	defer recoverAsError(&err, nil)
	h, _, err = probe(r)
	return h, err
}

func probe(r io.Reader) (Header, *recorder, error) {
	rc := &recorder{r: r}
	rc.ensure(sniffLen)
	if rc.err != nil {
		return Header{}, rc, fmt.Errorf("reading image: %w", rc.err)
	}
	if len(rc.buf) == 0 {
		return Header{}, rc, ErrEmpty
	}
	prefix := rc.buf[:min(len(rc.buf), sniffLen)]
	f := Sniff(prefix)
	if hf := sniffHEIF(prefix); f == "" && hf != "" {
		if !CanRead(hf) {
			return Header{}, rc, noHEIF(hf)
		}
		f = hf
	}
	if f == "" {
		if name := describeUnsupported(prefix); name != "" {
			return Header{}, rc, &formatError{msg: "unsupported format " + name}
		}
		return Header{}, rc, &formatError{msg: "unknown format"}
	}
	var cfg image.Config
	var err error
	// Replay the sniffed prefix, then keep recording what the decoder reads.
	var in io.Reader = io.MultiReader(bytes.NewReader(rc.buf), rc)
	switch f {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(in)
	case PNG:
		cfg, err = png.DecodeConfig(in)
	case GIF:
		cfg, err = gif.DecodeConfig(in)
	case BMP:
		cfg, err = bmp.DecodeConfig(in)
	case TIFF:
		cfg, err = tiff.DecodeConfig(in)
	case WebP:
		cfg, err = webp.DecodeConfig(in)
	case HEIC, AVIF:
		// libheif parses from memory: the boxes locating the primary
		// image may be anywhere in the file.
		if !rc.readWhole(maxHEIFFile) {
			if rc.err != nil {
				return Header{Format: f}, rc, fmt.Errorf("reading %s: %w", f.displayName(), rc.err)
			}
			return Header{Format: f}, rc, &formatError{msg: fmt.Sprintf("unsupported %s variant: over %d MiB", f.displayName(), maxHEIFFile>>20)}
		}
		cfg, err = heifConfig(rc.buf, f)
		if err != nil {
			return Header{Format: f}, rc, err
		}
	}
	if err != nil {
		return Header{Format: f}, rc, classify(f, rc, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Header{Format: f}, rc, fmt.Errorf("%w %s: invalid dimensions %dx%d", ErrCorrupt, f.displayName(), cfg.Width, cfg.Height)
	}
	h := Header{Format: f, Width: cfg.Width, Height: cfg.Height, Orientation: 1}
	switch f {
	case JPEG:
		h.Orientation = jpegOrientation(rc.buf)
	case TIFF:
		h.Orientation = exifOrientation(rc.buf)
	case PNG:
		h.Orientation = scanPNGOrientation(rc)
	case WebP:
		h.Orientation = scanWebPOrientation(rc)
	}
	return h, rc, nil
}

// maxPNGMetaScan bounds how far past IHDR Probe reads looking for eXIf.
const maxPNGMetaScan = 1 << 20

// scanPNGOrientation walks PNG chunks before IDAT, reading more of the
// stream as needed (at most maxPNGMetaScan bytes), to find an eXIf chunk.
func scanPNGOrientation(rc *recorder) int {
	i := 8
	for i < maxPNGMetaScan && rc.ensure(i+8) {
		n := int(binary.BigEndian.Uint32(rc.buf[i:]))
		typ := string(rc.buf[i+4 : i+8])
		if typ == "IDAT" || typ == "IEND" || n < 0 || n > maxPNGMetaScan {
			return 1
		}
		if typ == "eXIf" {
			if !rc.ensure(i + 12 + n) {
				return 1
			}
			return pngOrientation(rc.buf)
		}
		i += 12 + n
	}
	return 1
}

// classify turns a decoder error into one matching ErrCorrupt or
// ErrUnsupported, or passes through an I/O error of the underlying reader.
func classify(f Format, rc *recorder, err error) error {
	if rc != nil && rc.err != nil {
		return fmt.Errorf("reading %s: %w", f.displayName(), rc.err)
	}
	var (
		ju jpeg.UnsupportedError
		pu png.UnsupportedError
		tu tiff.UnsupportedError
	)
	switch {
	case errors.As(err, &ju), errors.As(err, &pu), errors.As(err, &tu), errors.Is(err, bmp.ErrUnsupported):
		return &wrapFormatError{msg: fmt.Sprintf("unsupported %s variant: %v", f.displayName(), err), err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w %s: %w", ErrCorrupt, f.displayName(), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%w %s: %w", ErrCorrupt, f.displayName(), err)
}

// wrapFormatError is an ErrUnsupported that also wraps the decoder's error.
type wrapFormatError struct {
	msg string
	err error
}

func (e *wrapFormatError) Error() string   { return e.msg }
func (e *wrapFormatError) Unwrap() []error { return []error{ErrUnsupported, e.err} }

// recoverAsError turns a panic inside a decoder into an ErrCorrupt error.
// f, when not nil, names the format for the message.
func recoverAsError(err *error, f *Format) {
	if p := recover(); p != nil {
		name := Format("")
		if f != nil {
			name = *f
		}
		*err = fmt.Errorf("%w %s: decoder panic: %v", ErrCorrupt, name.displayName(), p)
	}
}
