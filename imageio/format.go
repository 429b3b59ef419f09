// Package imageio decodes photos into upright RGBA pixels, resizes them and
// encodes results. It knows nothing about models or the command line.
//
// Formats are recognised by content (magic bytes), never by file name.
// Decoding reads only the header first, so that a file claiming absurd
// dimensions is rejected before any pixel buffer is allocated.
package imageio

import (
	"bytes"
	"fmt"
	"strings"

	// Registering decoders with the image package keeps image.Decode
	// usable by callers too; this package calls each decoder directly.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// Format names an image file format. The values are lower-case names.
type Format string

// Formats that can be decoded. JPEG and PNG can also be encoded.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
	WebP Format = "webp"
)

// Formats lists every decodable format.
var Formats = []Format{JPEG, PNG, GIF, BMP, TIFF, WebP}

// displayName is the name used in error messages ("corrupt or truncated JPEG").
func (f Format) displayName() string {
	switch f {
	case WebP:
		return "WebP"
	case "":
		return "image"
	}
	return strings.ToUpper(string(f))
}

// Ext returns the usual file extension for f, with the leading dot
// (".jpg", ".png", ".gif", ".bmp", ".tif", ".webp"), or "" for an unknown format.
func Ext(f Format) string {
	switch f {
	case JPEG:
		return ".jpg"
	case PNG:
		return ".png"
	case GIF:
		return ".gif"
	case BMP:
		return ".bmp"
	case TIFF:
		return ".tif"
	case WebP:
		return ".webp"
	case HEIC:
		return ".heic"
	case AVIF:
		return ".avif"
	}
	return ""
}

// FormatForOutput picks the format to write a result in for a source of
// format src: JPEG, HEIC and AVIF (lossy photos) become JPEG, everything
// else PNG (lossless, and keeps alpha).
func FormatForOutput(src Format) Format {
	if src == JPEG || src == HEIC || src == AVIF {
		return JPEG
	}
	return PNG
}

// ParseFormat parses a user-supplied format name ("jpg", "jpeg", "png", ...,
// case-insensitive, an optional leading dot allowed).
func ParseFormat(s string) (Format, error) {
	switch strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), ".") {
	case "jpg", "jpeg", "jpe", "jfif":
		return JPEG, nil
	case "png":
		return PNG, nil
	case "gif":
		return GIF, nil
	case "bmp", "dib":
		return BMP, nil
	case "tif", "tiff":
		return TIFF, nil
	case "webp":
		return WebP, nil
	}
	return "", &formatError{msg: fmt.Sprintf("unsupported format %q", s)}
}

// sniffLen is how many leading bytes Sniff needs to recognise every format it knows.
const sniffLen = 32

// Sniff recognises a supported format from the first bytes of a file (32 bytes
// are enough). It returns "" when the content is not a supported format.
func Sniff(b []byte) Format {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return JPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return GIF
	case len(b) >= 14 && b[0] == 'B' && b[1] == 'M' && b[6] == 0 && b[7] == 0 && b[8] == 0 && b[9] == 0:
		// "BM", file size, two reserved zero words, pixel data offset.
		return BMP
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return TIFF
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return WebP
	}
	return ""
}

// describeUnsupported names a recognisable but unsupported format, or
// returns "" when the content is not recognised at all.
func describeUnsupported(b []byte) string {
	// ISO base media file format: size(4) "ftyp" major-brand(4) minor(4) compatible brands...
	if len(b) >= 12 && string(b[4:8]) == "ftyp" {
		brands := []string{string(b[8:12])}
		for i := 16; i+4 <= len(b) && i < 64; i += 4 {
			brands = append(brands, string(b[i:i+4]))
		}
		for _, br := range brands {
			switch br {
			case "heic", "heix", "heim", "heis", "hevc", "hevx", "heif", "mif1", "msf1":
				if brands[0] == "avif" || brands[0] == "avis" {
					return "AVIF"
				}
				return "HEIC"
			case "avif", "avis":
				return "AVIF"
			case "crx ":
				return "Canon CR3 raw"
			case "jxl ":
				return "JPEG XL"
			case "jp2 ", "jpx ", "jpm ":
				return "JPEG 2000"
			}
		}
		return "ISO media (" + strings.TrimSpace(brands[0]) + ")"
	}
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0x0A}), bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cJXL \r\n\x87\n")):
		return "JPEG XL"
	case bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  \r\n\x87\n")), bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51}):
		return "JPEG 2000"
	case bytes.HasPrefix(b, []byte("8BPS")):
		return "Photoshop PSD"
	case bytes.HasPrefix(b, []byte{0, 0, 1, 0}) && len(b) >= 6 && b[4] != 0:
		return "ICO"
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "PDF"
	case len(b) >= 12 && string(b[:4]) == "RIFF":
		return "RIFF " + strings.TrimSpace(string(b[8:12]))
	case bytes.HasPrefix(b, []byte("qoif")):
		return "QOI"
	case bytes.HasPrefix(b, []byte("\x76\x2f\x31\x01")):
		return "OpenEXR"
	case bytes.HasPrefix(b, []byte("FUJIFILMCCD-RAW")):
		return "Fujifilm RAF raw"
	}
	if t := bytes.TrimLeft(b, " \t\r\n\xef\xbb\xbf"); bytes.HasPrefix(t, []byte("<svg")) ||
		(bytes.HasPrefix(t, []byte("<?xml")) && bytes.Contains(b, []byte("<svg"))) {
		return "SVG"
	}
	return ""
}
