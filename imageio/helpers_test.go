package imageio

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"testing"
)

// exifBlock builds a TIFF-structured EXIF body whose IFD0 holds only the
// Orientation tag, in the given byte order.
func exifBlock(orientation int, bigEndian bool) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	hdr := []byte("II*\x00")
	if bigEndian {
		bo, hdr = binary.BigEndian, []byte("MM\x00*")
	}
	b := append([]byte{}, hdr...)
	b = bo.AppendUint32(b, 8) // IFD0 offset
	b = bo.AppendUint16(b, 1) // one entry
	b = bo.AppendUint16(b, tagOrientation)
	b = bo.AppendUint16(b, 3) // SHORT
	b = bo.AppendUint32(b, 1) // count
	b = bo.AppendUint16(b, uint16(orientation))
	b = bo.AppendUint16(b, 0) // padding of the value field
	b = bo.AppendUint32(b, 0) // no next IFD
	return b
}

// withEXIF inserts an APP1 EXIF segment right after the SOI of a JPEG.
func withEXIF(jpg []byte, orientation int, bigEndian bool) []byte {
	body := append([]byte("Exif\x00\x00"), exifBlock(orientation, bigEndian)...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(body)+2))
	seg = append(seg, body...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngChunk frames one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	return binary.BigEndian.AppendUint32(b, crc.Sum32())
}

// insertPNGChunk puts a chunk right after IHDR (signature 8 + IHDR 25 bytes).
func insertPNGChunk(png []byte, typ string, data []byte) []byte {
	out := append([]byte{}, png[:33]...)
	out = append(out, pngChunk(typ, data)...)
	return append(out, png[33:]...)
}

// bombPNG is a valid PNG header claiming w×h RGBA pixels, followed by a tiny IDAT.
func bombPNG(w, h int) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(b, pngChunk("IEND", nil)...)
}

// bombJPEG is a JPEG header (SOI + SOF0) claiming w×h pixels.
func bombJPEG(w, h int) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8}
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0)
	// SOS header (DecodeConfig of a non-JFIF JPEG stops there), no scan data.
	b = append(b, 0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0)
	return append(b, 0xFF, 0xD9)
}

// tiffEntry is one IFD entry of the minimal TIFF writer.
type tiffEntry struct {
	tag, typ uint16
	vals     []uint32
}

// writeTIFF writes an uncompressed, single-strip, chunky TIFF (little-endian)
// of 8-bit samples: photometric 2 (RGB, spp 3 or 4) or 5 (CMYK, spp 4).
// orientation 0 omits the tag.
func writeTIFF(w, h, spp int, photometric uint16, pix []byte, orientation int) []byte {
	bo := binary.LittleEndian
	bps := make([]uint32, spp)
	for i := range bps {
		bps[i] = 8
	}
	entries := []tiffEntry{
		{256, 4, []uint32{uint32(w)}},
		{257, 4, []uint32{uint32(h)}},
		{258, 3, bps},
		{259, 3, []uint32{1}},
		{262, 3, []uint32{uint32(photometric)}},
		{273, 4, []uint32{0}}, // strip offset, patched below
		{274, 3, []uint32{uint32(orientation)}},
		{277, 3, []uint32{uint32(spp)}},
		{278, 4, []uint32{uint32(h)}},
		{279, 4, []uint32{uint32(len(pix))}},
		{284, 3, []uint32{1}},
	}
	if spp == 4 && photometric == 2 {
		entries = append(entries, tiffEntry{338, 3, []uint32{2}}) // unassociated alpha
	}
	if orientation == 0 {
		entries = append(entries[:6], entries[7:]...)
	}
	ifdLen := 2 + 12*len(entries) + 4
	extra := 8 + ifdLen // where out-of-line values go
	var ext []byte
	ifd := bo.AppendUint16(nil, uint16(len(entries)))
	var stripOffsetPos int
	for _, e := range entries {
		ifd = bo.AppendUint16(ifd, e.tag)
		ifd = bo.AppendUint16(ifd, e.typ)
		ifd = bo.AppendUint32(ifd, uint32(len(e.vals)))
		size := 2
		if e.typ == 4 {
			size = 4
		}
		var val []byte
		for _, v := range e.vals {
			if size == 2 {
				val = bo.AppendUint16(val, uint16(v))
			} else {
				val = bo.AppendUint32(val, v)
			}
		}
		if e.tag == 273 {
			stripOffsetPos = len(ifd)
		}
		if len(val) <= 4 {
			for len(val) < 4 {
				val = append(val, 0)
			}
			ifd = append(ifd, val...)
		} else {
			ifd = bo.AppendUint32(ifd, uint32(extra+len(ext)))
			ext = append(ext, val...)
		}
	}
	ifd = bo.AppendUint32(ifd, 0)
	bo.PutUint32(ifd[stripOffsetPos:], uint32(extra+len(ext)))
	out := []byte("II*\x00")
	out = bo.AppendUint32(out, 8)
	out = append(out, ifd...)
	out = append(out, ext...)
	return append(out, pix...)
}

// webpTwoTone writes a lossless WebP (VP8L) where each channel takes one of
// two values: pixel (x,y) uses value 1 of every channel when on(x,y), else
// value 0. Each channel is a "simple" prefix code with two 1-bit symbols.
func webpTwoTone(w, h int, c0, c1 [4]uint8, on func(x, y int) bool) []byte {
	var bw bitWriter
	bw.put(0x2f, 8)
	bw.put(uint32(w-1), 14)
	bw.put(uint32(h-1), 14)
	bw.put(1, 1) // alpha used
	bw.put(0, 3) // version
	bw.put(0, 1) // no transform
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta prefix codes
	// Codes in order green, red, blue, alpha; then distance (one symbol).
	order := []int{1, 0, 2, 3}
	for _, ch := range order {
		lo, hi := c0[ch], c1[ch]
		bw.put(1, 1) // simple code
		if lo == hi {
			bw.put(0, 1) // one symbol
			bw.put(1, 1) // 8-bit symbol
			bw.put(uint32(lo), 8)
			continue
		}
		bw.put(1, 1) // two symbols
		bw.put(1, 1)
		bw.put(uint32(lo), 8)
		bw.put(uint32(hi), 8)
	}
	bw.put(1, 1) // distance: simple, one 1-bit symbol 0
	bw.put(0, 1)
	bw.put(0, 1)
	bw.put(0, 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			bit := uint32(0)
			if on(x, y) {
				bit = 1
			}
			for _, ch := range order {
				if c0[ch] != c1[ch] {
					bw.put(bit, 1)
				}
			}
		}
	}
	data := bw.bytes()
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	chunk = append(chunk, data...)
	if len(data)%2 == 1 {
		chunk = append(chunk, 0)
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(4+len(chunk)))
	out = append(out, "WEBP"...)
	return append(out, chunk...)
}

// bitWriter packs bits least-significant first (VP8L order).
type bitWriter struct {
	buf  []byte
	acc  uint64
	nacc uint
}

func (b *bitWriter) put(v uint32, n uint) {
	b.acc |= uint64(v) << b.nacc
	b.nacc += n
	for b.nacc >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.nacc -= 8
	}
}

func (b *bitWriter) bytes() []byte {
	out := b.buf
	if b.nacc > 0 {
		out = append(out, byte(b.acc))
	}
	return out
}

// cmykJPEG writes a baseline Adobe CMYK JPEG (4 components, transform 0) of
// flat 8×8 blocks: block (bx, by) gets the CMYK colour blocks(bx, by). Only
// DC coefficients are coded (quantiser 1), so it decodes exactly.
func cmykJPEG(bw, bh int, blocks func(bx, by int) [4]uint8) []byte {
	be := binary.BigEndian
	out := []byte{0xFF, 0xD8}
	// APP14 Adobe: version 100, flags 0, 0, transform 0 (CMYK, no YCC).
	app14 := append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, 0)
	out = append(out, 0xFF, 0xEE)
	out = be.AppendUint16(out, uint16(len(app14)+2))
	out = append(out, app14...)
	// DQT: table 0, all ones.
	out = append(out, 0xFF, 0xDB, 0, 67, 0)
	for i := 0; i < 64; i++ {
		out = append(out, 1)
	}
	// SOF0.
	out = append(out, 0xFF, 0xC0, 0, 20, 8)
	out = be.AppendUint16(out, uint16(bh*8))
	out = be.AppendUint16(out, uint16(bw*8))
	out = append(out, 4)
	for c := 1; c <= 4; c++ {
		out = append(out, byte(c), 0x11, 0)
	}
	// DHT DC 0: categories 0..11, all 4-bit codes (code = category).
	out = append(out, 0xFF, 0xC4)
	dc := []byte{0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for s := 0; s < 12; s++ {
		dc = append(dc, byte(s))
	}
	out = be.AppendUint16(out, uint16(len(dc)+2))
	out = append(out, dc...)
	// DHT AC 0: only EOB, 1-bit code "0".
	ac := []byte{0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00}
	out = append(out, 0xFF, 0xC4)
	out = be.AppendUint16(out, uint16(len(ac)+2))
	out = append(out, ac...)
	// SOS.
	out = append(out, 0xFF, 0xDA, 0, 14, 4)
	for c := 1; c <= 4; c++ {
		out = append(out, byte(c), 0x00)
	}
	out = append(out, 0, 63, 0)
	var e jpegBits
	var pred [4]int
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			col := blocks(bx, by)
			for c := 0; c < 4; c++ {
				stored := 255 - int(col[c]) // Adobe CMYK is stored inverted
				dcv := 8 * (stored - 128)
				diff := dcv - pred[c]
				pred[c] = dcv
				s, mag := 0, diff
				if mag < 0 {
					mag = -mag
				}
				for mag > 0 {
					s++
					mag >>= 1
				}
				e.put(uint32(s), 4)
				if s > 0 {
					v := diff
					if v < 0 {
						v += 1<<s - 1
					}
					e.put(uint32(v), uint(s))
				}
				e.put(0, 1) // EOB
			}
		}
	}
	out = append(out, e.flush()...)
	return append(out, 0xFF, 0xD9)
}

// jpegBits packs bits most-significant first with 0xFF byte stuffing.
type jpegBits struct {
	out  []byte
	acc  uint32
	nacc uint
}

func (j *jpegBits) put(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		j.acc = j.acc<<1 | (v>>uint(i))&1
		j.nacc++
		if j.nacc == 8 {
			j.emit(byte(j.acc))
		}
	}
}

func (j *jpegBits) emit(b byte) {
	j.out = append(j.out, b)
	if b == 0xFF {
		j.out = append(j.out, 0)
	}
	j.acc, j.nacc = 0, 0
}

func (j *jpegBits) flush() []byte {
	for j.nacc != 0 {
		j.put(1, 1) // pad with ones
	}
	return j.out
}
