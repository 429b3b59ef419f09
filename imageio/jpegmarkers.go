package imageio

import (
	"errors"
	"fmt"
	"io"
	"iter"
)

// The header of a JPEG, from SOI to the first scan, is a chain of marker
// segments: 0xFF, a marker byte, a big-endian length that counts itself,
// and the payload. Every reader of that header here (the ICC profile, the
// metadata, the orientation, the scan filter) walks it with jpegSegments,
// so that fill bytes, markers without a length and cut-off segments are
// handled the same way everywhere.

// jpegSegment is one marker of a JPEG header.
type jpegSegment struct {
	Marker byte
	// Start is the offset of the segment's 0xFF (the last one, when fill
	// bytes precede it); End is just past the segment.
	Start, End int
	// Payload is what follows the length field; nil for a standalone
	// marker (TEM, RST0-7, SOI, EOI), which has no length.
	Payload []byte
}

// Markers the header walk stops at, or that have no length.
const (
	markerTEM  = 0x01
	markerRST0 = 0xD0
	markerRST7 = 0xD7
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
)

// standalone reports whether marker m has no length field.
func standalone(m byte) bool {
	return m == markerTEM || (m >= markerRST0 && m <= markerEOI)
}

// isFrameHeader reports whether m starts a frame (SOF0-15 but DHT, JPG
// and DAC, which share the range).
func isFrameHeader(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// errNotJPEG: the data does not start with SOI.
var errNotJPEG = errors.New("not a JPEG: no SOI marker")

// jpegSegments walks the segments of the JPEG in b after its SOI, up to
// and including the first SOS (whose payload is the scan header: the
// entropy-coded data after it is not walked) or EOI. When b ends, or
// holds something other than a marker, before either, the walk's last
// pair carries an error that names the offset: for a cut-off segment it
// wraps io.ErrUnexpectedEOF (b is often a prefix of the file, so callers
// that read what they can just stop there), otherwise ErrCorrupt.
func jpegSegments(b []byte) iter.Seq2[jpegSegment, error] {
	if len(b) < 2 || b[0] != 0xFF || b[1] != markerSOI {
		return func(yield func(jpegSegment, error) bool) { yield(jpegSegment{}, errNotJPEG) }
	}
	return jpegSegmentsAt(b, 2)
}

// jpegSegmentsAt is jpegSegments from offset at, where a marker is due
// (after SOI, or where a scan's entropy-coded data ends).
//
// Any byte but 0xFF after an 0xFF is taken for a marker with a length,
// unknown ones included: the decoders, not this walk, judge which markers
// are valid.
func jpegSegmentsAt(b []byte, at int) iter.Seq2[jpegSegment, error] {
	return func(yield func(jpegSegment, error) bool) {
		i := at
		for {
			if i >= len(b) {
				yield(jpegSegment{}, fmt.Errorf("JPEG header ends at offset %d before a scan: %w", i, io.ErrUnexpectedEOF))
				return
			}
			if b[i] != 0xFF {
				yield(jpegSegment{}, fmt.Errorf("%w JPEG: byte 0x%02X at offset %d where a marker should be", ErrCorrupt, b[i], i))
				return
			}
			// Any 0xFF may be followed by fill bytes (more 0xFF) before
			// the marker byte.
			for i+1 < len(b) && b[i+1] == 0xFF {
				i++
			}
			if i+1 >= len(b) {
				yield(jpegSegment{}, fmt.Errorf("JPEG marker cut off at offset %d: %w", i, io.ErrUnexpectedEOF))
				return
			}
			m := b[i+1]
			if standalone(m) {
				if !yield(jpegSegment{Marker: m, Start: i, End: i + 2}, nil) || m == markerEOI {
					return
				}
				i += 2
				continue
			}
			if i+4 > len(b) {
				yield(jpegSegment{}, fmt.Errorf("JPEG segment FF%02X at offset %d: length cut off: %w", m, i, io.ErrUnexpectedEOF))
				return
			}
			n := int(b[i+2])<<8 | int(b[i+3])
			if n < 2 {
				yield(jpegSegment{}, fmt.Errorf("%w JPEG: segment FF%02X at offset %d has length %d (at least 2)", ErrCorrupt, m, i, n))
				return
			}
			end := i + 2 + n
			if end > len(b) {
				yield(jpegSegment{}, fmt.Errorf("JPEG segment FF%02X at offset %d: %d bytes long, %d left: %w", m, i, n+2, len(b)-i, io.ErrUnexpectedEOF))
				return
			}
			if !yield(jpegSegment{Marker: m, Start: i, End: end, Payload: b[i+4 : end]}, nil) || m == markerSOS {
				return
			}
			i = end
		}
	}
}
