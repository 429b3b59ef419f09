package imageio

import (
	"bytes"
	"encoding/binary"
)

// tagOrientation is the TIFF/EXIF Orientation tag of IFD0.
const tagOrientation = 0x0112

// exifOrientation returns the Orientation tag (1..8) found in IFD0 of a
// TIFF-structured block (the body of an EXIF segment, or a whole TIFF file),
// or 1 when it is absent, malformed or out of range.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := int64(bo.Uint32(t[4:8]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 1
	}
	n := int64(bo.Uint16(t[ifd:]))
	for i := int64(0); i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(t)) {
			break
		}
		if bo.Uint16(t[e:]) != tagOrientation {
			continue
		}
		typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if count < 1 {
			return 1
		}
		var v int
		switch typ {
		case 3: // SHORT, left-justified in the value field
			v = int(bo.Uint16(t[e+8:]))
		case 4: // LONG
			v = int(bo.Uint32(t[e+8:]))
		case 1: // BYTE (seen in the wild)
			v = int(t[e+8])
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

var exifHeader = []byte("Exif\x00\x00")

// jpegOrientation walks the segments of a JPEG prefix up to the first scan
// and returns the orientation of the first EXIF APP1 segment.
func jpegOrientation(b []byte) int {
	for seg, err := range jpegSegments(b) {
		if err != nil || seg.Marker == markerSOS {
			break
		}
		if seg.Marker == 0xE1 && bytes.HasPrefix(seg.Payload, exifHeader) {
			return exifOrientation(seg.Payload[len(exifHeader):])
		}
	}
	return 1
}

// pngOrientation looks for an eXIf chunk in a PNG prefix (before IDAT).
func pngOrientation(b []byte) int {
	i := 8
	for i+8 <= len(b) {
		n := int64(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if typ == "IDAT" || typ == "IEND" {
			return 1
		}
		end := int64(i) + 12 + n
		if end > int64(len(b)) {
			return 1
		}
		if typ == "eXIf" {
			body := b[i+8 : int64(i)+8+n]
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			body = bytes.TrimPrefix(body, exifHeader)
			return exifOrientation(body)
		}
		i = int(end)
	}
	return 1
}
