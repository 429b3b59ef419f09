package imageio

import (
	"bytes"
	"encoding/binary"
)

// VP8X feature flags (WebP container specification).
const (
	vp8xICC   = 0x20
	vp8xAlpha = 0x10
	vp8xEXIF  = 0x08
	vp8xXMP   = 0x04
)

// webpWithMetadata rebuilds the WebP file enc (as libwebp writes it) in
// the extended format, with m's EXIF and XMP chunks after the image data
// and the VP8X flags saying so. IPTC has no place in WebP and is left out.
// enc is returned as it is when there is nothing to add.
func webpWithMetadata(enc []byte, m *Metadata, w, h int) []byte {
	if m == nil || (m.EXIF == nil && len(m.XMP) == 0) {
		return enc
	}
	var flags byte
	var before, image [][]byte // chunks (header included) before and of the image
	walkRIFF(enc, func(id string, body []byte) bool {
		n := 8 + len(body) + len(body)&1
		chunk := make([]byte, 0, n)
		chunk = append(chunk, id...)
		chunk = binary.LittleEndian.AppendUint32(chunk, uint32(len(body)))
		chunk = append(chunk, body...)
		if len(body)&1 == 1 {
			chunk = append(chunk, 0)
		}
		switch id {
		case "VP8X":
			if len(body) > 0 {
				flags |= body[0]
			}
		case "ICCP":
			flags |= vp8xICC
			before = append(before, chunk)
		case "ALPH":
			flags |= vp8xAlpha
			image = append(image, chunk)
		case "VP8L":
			// alpha_is_used: bit 28 after the signature byte.
			if len(body) >= 5 && binary.LittleEndian.Uint32(body[1:])>>28&1 == 1 {
				flags |= vp8xAlpha
			}
			image = append(image, chunk)
		case "VP8 ":
			image = append(image, chunk)
		case "EXIF", "XMP ":
			// replaced below
		default:
			before = append(before, chunk)
		}
		return true
	})
	var exif []byte
	if m.EXIF != nil {
		exif = m.EXIF.ForOutput(w, h).Bytes()
		flags |= vp8xEXIF
	}
	if len(m.XMP) > 0 {
		flags |= vp8xXMP
	}
	out := make([]byte, 0, len(enc)+len(exif)+len(m.XMP)+64)
	out = append(out, "RIFF\x00\x00\x00\x00WEBP"...)
	out = append(out, "VP8X"...)
	out = binary.LittleEndian.AppendUint32(out, 10)
	out = append(out, flags, 0, 0, 0)
	out = append(out, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	out = append(out, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	for _, c := range before {
		out = append(out, c...)
	}
	for _, c := range image {
		out = append(out, c...)
	}
	add := func(id string, body []byte) {
		out = append(out, id...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
		out = append(out, body...)
		if len(body)&1 == 1 {
			out = append(out, 0)
		}
	}
	if exif != nil {
		add("EXIF", exif)
	}
	if len(m.XMP) > 0 {
		add("XMP ", xmpForOutput(m.XMP, w, h))
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// scanWebPOrientation reads the orientation in a WebP's EXIF chunk. Only
// an extended (VP8X) file with the EXIF flag has one; it comes after the
// image data, so the stream is read up to it.
func scanWebPOrientation(rc *recorder) int {
	if !rc.ensure(21) || string(rc.buf[12:16]) != "VP8X" || rc.buf[20]&vp8xEXIF == 0 {
		return 1
	}
	for i := 12; rc.ensure(i + 8); {
		n := int64(binary.LittleEndian.Uint32(rc.buf[i+4:]))
		if string(rc.buf[i:i+4]) == "EXIF" {
			if n > maxMetaChunk || !rc.ensure(i+8+int(n)) {
				return 1
			}
			return exifOrientation(bytes.TrimPrefix(rc.buf[i+8:i+8+int(n)], exifHeader))
		}
		if n > 1<<32-1-int64(i) {
			return 1
		}
		i += 8 + int(n) + int(n&1)
	}
	return 1
}
