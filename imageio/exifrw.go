package imageio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// An EXIF block is a little TIFF file: a header, IFD0 (the main image's
// tags), pointers from IFD0 to the Exif and GPS sub-IFDs (and from the
// Exif IFD to the Interoperability IFD), and IFD1, chained after IFD0,
// which describes the embedded thumbnail. Values longer than four bytes
// live elsewhere in the block, at offsets from the header. Copying a block
// into another file therefore means re-laying it out: that is what
// ParseEXIF and (*EXIF).Bytes do.

// EXIF tags this package reads or rewrites.
const (
	TagImageWidth      = 0x0100
	TagImageLength     = 0x0101
	TagMake            = 0x010F
	TagModel           = 0x0110
	TagOrientation     = tagOrientation
	TagExifIFD         = 0x8769
	TagGPSIFD          = 0x8825
	TagInteropIFD      = 0xA005
	TagDateTimeOrig    = 0x9003
	TagPixelXDimension = 0xA002
	TagPixelYDimension = 0xA003
	TagGPSLatitudeRef  = 0x0001
	TagGPSLatitude     = 0x0002
	TagGPSLongitudeRef = 0x0003
	TagGPSLongitude    = 0x0004
)

// IFD names one of the directories of an EXIF block that are kept.
type IFD int

const (
	IFD0 IFD = iota
	ExifIFD
	GPSIFD
	InteropIFD
	numIFDs
)

func (d IFD) String() string {
	return [...]string{"IFD0", "Exif IFD", "GPS IFD", "Interop IFD"}[d]
}

// EXIF type codes (TIFF 6.0 and EXIF 2.3) and their sizes in bytes.
const (
	exifByte     = 1
	exifASCII    = 2
	exifShort    = 3
	exifLong     = 4
	exifRational = 5
	exifIFDType  = 13
)

var exifTypeSize = [...]int{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4}

// Limits that keep a hostile block cheap: a real one has a few hundred
// tags and is at most 64 KiB in a JPEG (a few MB elsewhere).
const (
	maxEXIFEntries = 4096    // per IFD
	maxEXIFBytes   = 8 << 20 // the whole block
)

// dropTags point at data an EXIF copy does not carry (strips, tiles,
// thumbnails, sub-images): kept, they would point at garbage.
var dropTags = map[uint16]bool{
	0x0111: true, // StripOffsets
	0x0117: true, // StripByteCounts
	0x0144: true, // TileOffsets
	0x0145: true, // TileByteCounts
	0x014A: true, // SubIFDs
	0x0201: true, // JPEGInterchangeFormat (thumbnail)
	0x0202: true, // JPEGInterchangeFormatLength
}

// ExifEntry is one tag: its value is Count items of Type, in the block's
// byte order.
type ExifEntry struct {
	Tag, Type uint16
	Count     uint32
	Value     []byte
}

// EXIF is a parsed EXIF block: IFD0, Exif, GPS and Interop IFDs with every
// tag they hold (values copied out of the source), IFD1 and its thumbnail
// left out. The sub-IFD pointers are not stored as entries: Bytes writes
// them.
type EXIF struct {
	Order binary.ByteOrder
	IFDs  [numIFDs][]ExifEntry
}

// errEXIF is what every parse failure wraps.
var errEXIF = errors.New("malformed EXIF")

// ParseEXIF parses a TIFF-structured EXIF block (without the "Exif\0\0"
// prefix of JPEG's APP1). A block whose header or IFD0 cannot be read is
// an error; damage further in (an entry whose value lies outside the
// block, an unknown type, an unreadable sub-IFD) drops that part and is
// reported in warnings. It never panics, and reads nothing outside b.
func ParseEXIF(b []byte) (e *EXIF, warnings []string, err error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%w: %d bytes, too short for a header", errEXIF, len(b))
	}
	if len(b) > maxEXIFBytes {
		return nil, nil, fmt.Errorf("%w: %d bytes, over the %d limit", errEXIF, len(b), maxEXIFBytes)
	}
	e = &EXIF{}
	switch string(b[:4]) {
	case "II*\x00":
		e.Order = binary.LittleEndian
	case "MM\x00*":
		e.Order = binary.BigEndian
	default:
		return nil, nil, fmt.Errorf("%w: no TIFF header", errEXIF)
	}
	p := exifParser{b: b, bo: e.Order}
	ifd0 := p.bo.Uint32(b[4:8])
	ptrs := make(map[uint16]uint32)
	if e.IFDs[IFD0], err = p.readIFD(ifd0, IFD0, ptrs); err != nil {
		return nil, nil, err
	}
	seen := map[uint32]bool{ifd0: true}
	sub := func(tag uint16, d IFD) {
		off, ok := ptrs[tag]
		if !ok {
			return
		}
		if seen[off] {
			p.warnf("%s: points at an IFD already read, dropped", d)
			return
		}
		seen[off] = true
		entries, err := p.readIFD(off, d, ptrs)
		if err != nil {
			p.warnf("%s dropped: %v", d, err)
			return
		}
		e.IFDs[d] = entries
	}
	sub(TagExifIFD, ExifIFD)
	sub(TagGPSIFD, GPSIFD)
	sub(TagInteropIFD, InteropIFD)
	return e, p.warnings, nil
}

type exifParser struct {
	b        []byte
	bo       binary.ByteOrder
	warnings []string
}

func (p *exifParser) warnf(format string, args ...any) {
	if len(p.warnings) < 20 { // a hostile block could make thousands
		p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
	}
}

// readIFD reads the entries of the IFD at off. Sub-IFD pointers found in
// it go to ptrs instead of the entries.
func (p *exifParser) readIFD(off uint32, d IFD, ptrs map[uint16]uint32) ([]ExifEntry, error) {
	b, bo := p.b, p.bo
	if off < 8 || uint64(off)+2 > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %s offset %d outside the %d-byte block", errEXIF, d, off, len(b))
	}
	n := int(bo.Uint16(b[off:]))
	if n > maxEXIFEntries {
		return nil, fmt.Errorf("%w: %s claims %d entries", errEXIF, d, n)
	}
	if int(off)+2+12*n > len(b) {
		return nil, fmt.Errorf("%w: %s's %d entries run past the end of the block", errEXIF, d, n)
	}
	entries := make([]ExifEntry, 0, n)
	for i := range n {
		at := int(off) + 2 + 12*i
		tag, typ, count := bo.Uint16(b[at:]), bo.Uint16(b[at+2:]), bo.Uint32(b[at+4:])
		if pointer, ok := subIFDTag(d, tag); ok {
			if (typ == exifLong || typ == exifIFDType) && count == 1 {
				ptrs[pointer] = bo.Uint32(b[at+8:])
			} else {
				p.warnf("%s: sub-IFD pointer 0x%04X has type %d count %d, dropped", d, tag, typ, count)
			}
			continue
		}
		if d == IFD0 && dropTags[tag] {
			continue
		}
		if typ == 0 || int(typ) >= len(exifTypeSize) {
			p.warnf("%s: tag 0x%04X has unknown type %d, dropped", d, tag, typ)
			continue
		}
		size := uint64(count) * uint64(exifTypeSize[typ])
		var val []byte
		if size <= 4 {
			val = b[at+8 : at+8+int(size)]
		} else {
			vo := uint64(bo.Uint32(b[at+8:]))
			if vo+size > uint64(len(b)) {
				p.warnf("%s: tag 0x%04X's %d-byte value lies outside the block, dropped", d, tag, size)
				continue
			}
			val = b[vo : vo+size]
		}
		entries = append(entries, ExifEntry{Tag: tag, Type: typ, Count: count, Value: slices.Clone(val)})
	}
	slices.SortStableFunc(entries, func(a, b ExifEntry) int { return int(a.Tag) - int(b.Tag) })
	// A duplicated tag is invalid TIFF; the first one wins.
	entries = slices.CompactFunc(entries, func(a, b ExifEntry) bool { return a.Tag == b.Tag })
	return entries, nil
}

// subIFDTag says whether tag, in IFD d, is the pointer to a sub-IFD that
// is kept.
func subIFDTag(d IFD, tag uint16) (uint16, bool) {
	switch {
	case d == IFD0 && (tag == TagExifIFD || tag == TagGPSIFD):
		return tag, true
	case d == ExifIFD && tag == TagInteropIFD:
		return tag, true
	}
	return 0, false
}

// Entry returns the tag in IFD d.
func (e *EXIF) Entry(d IFD, tag uint16) (ExifEntry, bool) {
	i, ok := slices.BinarySearchFunc(e.IFDs[d], tag, func(x ExifEntry, t uint16) int { return int(x.Tag) - int(t) })
	if !ok {
		return ExifEntry{}, false
	}
	return e.IFDs[d][i], true
}

// Uint returns the first value of a BYTE, SHORT or LONG tag.
func (e *EXIF) Uint(d IFD, tag uint16) (uint32, bool) {
	x, ok := e.Entry(d, tag)
	if !ok || x.Count < 1 {
		return 0, false
	}
	switch x.Type {
	case exifByte:
		return uint32(x.Value[0]), true
	case exifShort:
		return uint32(e.Order.Uint16(x.Value)), true
	case exifLong:
		return e.Order.Uint32(x.Value), true
	}
	return 0, false
}

// String returns an ASCII tag's text, without its terminating NULs.
func (e *EXIF) String(d IFD, tag uint16) (string, bool) {
	x, ok := e.Entry(d, tag)
	if !ok || x.Type != exifASCII {
		return "", false
	}
	v := x.Value
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return string(v), true
}

// Rationals returns a RATIONAL tag's values as numerator/denominator pairs.
func (e *EXIF) Rationals(d IFD, tag uint16) ([][2]uint32, bool) {
	x, ok := e.Entry(d, tag)
	if !ok || x.Type != exifRational {
		return nil, false
	}
	r := make([][2]uint32, x.Count)
	for i := range r {
		r[i] = [2]uint32{e.Order.Uint32(x.Value[8*i:]), e.Order.Uint32(x.Value[8*i+4:])}
	}
	return r, true
}

// Set puts (or replaces) a tag in IFD d.
func (e *EXIF) Set(d IFD, x ExifEntry) {
	i, ok := slices.BinarySearchFunc(e.IFDs[d], x.Tag, func(y ExifEntry, t uint16) int { return int(y.Tag) - int(t) })
	if ok {
		e.IFDs[d][i] = x
		return
	}
	e.IFDs[d] = slices.Insert(e.IFDs[d], i, x)
}

// SetShort sets a one-value SHORT tag.
func (e *EXIF) SetShort(d IFD, tag uint16, v uint16) {
	b := make([]byte, 2)
	e.Order.PutUint16(b, v)
	e.Set(d, ExifEntry{Tag: tag, Type: exifShort, Count: 1, Value: b})
}

// SetLong sets a one-value LONG tag.
func (e *EXIF) SetLong(d IFD, tag uint16, v uint32) {
	b := make([]byte, 4)
	e.Order.PutUint32(b, v)
	e.Set(d, ExifEntry{Tag: tag, Type: exifLong, Count: 1, Value: b})
}

// ForOutput is a copy of e describing an upright picture of w x h pixels:
// Orientation 1 (when the tag is there), PixelXDimension and
// PixelYDimension set, and ImageWidth and ImageLength when present.
func (e *EXIF) ForOutput(w, h int) *EXIF {
	c := &EXIF{Order: e.Order}
	for i := range e.IFDs {
		c.IFDs[i] = slices.Clone(e.IFDs[i])
	}
	if _, ok := c.Entry(IFD0, TagOrientation); ok {
		c.SetShort(IFD0, TagOrientation, 1)
	}
	for _, t := range [2]struct {
		tag uint16
		v   int
	}{{TagImageWidth, w}, {TagImageLength, h}} {
		if _, ok := c.Entry(IFD0, t.tag); ok {
			c.SetLong(IFD0, t.tag, uint32(t.v))
		}
	}
	c.SetLong(ExifIFD, TagPixelXDimension, uint32(w))
	c.SetLong(ExifIFD, TagPixelYDimension, uint32(h))
	return c
}

// Bytes lays the block out afresh: header, IFD0 (no IFD1 after it), then
// the Exif, Interop and GPS IFDs, each followed by its long values at even
// offsets, with the sub-IFD pointers written to match.
func (e *EXIF) Bytes() []byte {
	ifds := e.IFDs
	// The pointer entries, with placeholder values patched below.
	withPtr := func(d IFD, tag uint16, on bool) {
		if on {
			ifds[d] = slices.Clone(ifds[d])
			i, _ := slices.BinarySearchFunc(ifds[d], tag, func(y ExifEntry, t uint16) int { return int(y.Tag) - int(t) })
			ifds[d] = slices.Insert(ifds[d], i, ExifEntry{Tag: tag, Type: exifLong, Count: 1, Value: make([]byte, 4)})
		}
	}
	hasInterop := len(ifds[InteropIFD]) > 0
	hasExif := len(ifds[ExifIFD]) > 0 || hasInterop
	withPtr(ExifIFD, TagInteropIFD, hasInterop)
	withPtr(IFD0, TagExifIFD, hasExif)
	withPtr(IFD0, TagGPSIFD, len(ifds[GPSIFD]) > 0)

	size := func(entries []ExifEntry) int {
		n := 2 + 12*len(entries) + 4
		for _, x := range entries {
			if len(x.Value) > 4 {
				n += len(x.Value) + len(x.Value)&1
			}
		}
		return n
	}
	order := []IFD{IFD0, ExifIFD, InteropIFD, GPSIFD}
	var at [numIFDs]int
	total := 8
	for _, d := range order {
		if d == IFD0 || len(ifds[d]) > 0 {
			at[d] = total
			total += size(ifds[d])
		}
	}
	bo := e.Order
	out := make([]byte, total)
	if bo == binary.LittleEndian {
		copy(out, "II*\x00")
	} else {
		copy(out, "MM\x00*")
	}
	bo.PutUint32(out[4:], 8)
	ptr := map[uint16]int{TagExifIFD: at[ExifIFD], TagGPSIFD: at[GPSIFD], TagInteropIFD: at[InteropIFD]}
	for _, d := range order {
		entries := ifds[d]
		if d != IFD0 && len(entries) == 0 {
			continue
		}
		o := at[d]
		bo.PutUint16(out[o:], uint16(len(entries)))
		data := o + 2 + 12*len(entries) + 4 // the next-IFD link stays 0: no IFD1
		for i, x := range entries {
			ent := out[o+2+12*i:]
			bo.PutUint16(ent, x.Tag)
			bo.PutUint16(ent[2:], x.Type)
			bo.PutUint32(ent[4:], x.Count)
			if p, ok := subIFDTag(d, x.Tag); ok {
				bo.PutUint32(ent[8:], uint32(ptr[p]))
				continue
			}
			if len(x.Value) <= 4 {
				copy(ent[8:12], x.Value)
				continue
			}
			bo.PutUint32(ent[8:], uint32(data))
			copy(out[data:], x.Value)
			data += len(x.Value) + len(x.Value)&1
		}
	}
	return out
}
