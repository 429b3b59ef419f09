package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Metadata is what of a photo, besides its pixels, is copied into its
// output: EXIF (camera, date, GPS position, ...), XMP and IPTC. Decode
// gathers it when DecodeOptions.Metadata is set; EncodeWith writes it.
// It holds copies, never slices of the source file's bytes, so the file's
// buffer can go as soon as the pixels are decoded.
type Metadata struct {
	// EXIF is nil when the source had none, or an EXIF block too broken
	// to read (Decode then warns).
	EXIF *EXIF
	// XMP is the XMP packet (XML), nil when absent.
	XMP []byte
	// IPTC is the IPTC-IIM record data (what a JPEG keeps in Photoshop
	// image resource 0x0404), nil when absent.
	IPTC []byte
}

// Empty says whether there is nothing to write.
func (m *Metadata) Empty() bool {
	return m == nil || (m.EXIF == nil && len(m.XMP) == 0 && len(m.IPTC) == 0)
}

// Size is the bytes held, for accounting.
func (m *Metadata) Size() int {
	if m == nil {
		return 0
	}
	n := len(m.XMP) + len(m.IPTC)
	if m.EXIF != nil {
		for _, d := range m.EXIF.IFDs {
			for _, x := range d {
				n += 12 + len(x.Value)
			}
		}
	}
	return n
}

// Markers and signatures of the metadata containers.
var (
	jpegXMPHeader  = []byte("http://ns.adobe.com/xap/1.0/\x00")
	jpegPSHeader   = []byte("Photoshop 3.0\x00")
	pngXMPKeyword  = "XML:com.adobe.xmp"
	pngIPTCKeyword = "Raw profile type iptc"
)

// Bounds on what is gathered: a metadata chunk bigger than this is not
// photo metadata worth carrying (and could be a memory attack).
const maxMetaChunk = 8 << 20

// rawMeta is metadata as found in a file, before parsing.
type rawMeta struct {
	exif, xmp, iptc []byte
}

// parse turns raw blocks into Metadata, copying them. A broken EXIF is
// dropped with a warning; a rewrite-worthy fault inside it keeps the rest.
func (r rawMeta) parse() (*Metadata, []string) {
	m := &Metadata{}
	var warnings []string
	if len(r.exif) > 0 {
		e, w, err := ParseEXIF(r.exif)
		for _, s := range w {
			warnings = append(warnings, "EXIF: "+s)
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("EXIF dropped: %v", err))
		} else {
			m.EXIF = e
		}
	}
	if len(r.xmp) > 0 {
		m.XMP = slices.Clone(r.xmp)
	}
	if len(r.iptc) > 0 {
		m.IPTC = slices.Clone(r.iptc)
	}
	if m.Empty() {
		return nil, warnings
	}
	return m, warnings
}

// jpegMeta reads the APP1 (EXIF, XMP) and APP13 (Photoshop IRB) segments
// of a JPEG before its first scan. Only the first EXIF and XMP segments
// count; extended XMP (split over several segments) is not gathered.
func jpegMeta(b []byte) rawMeta {
	var r rawMeta
	var irb []byte
	for seg, err := range jpegSegments(b) {
		if err != nil || seg.Marker == markerSOS {
			break
		}
		p := seg.Payload
		switch {
		case seg.Marker == 0xE1 && r.exif == nil && bytes.HasPrefix(p, exifHeader):
			r.exif = p[len(exifHeader):]
		case seg.Marker == 0xE1 && r.xmp == nil && bytes.HasPrefix(p, jpegXMPHeader):
			r.xmp = p[len(jpegXMPHeader):]
		case seg.Marker == 0xED && bytes.HasPrefix(p, jpegPSHeader):
			// A resource block over 64 KiB continues in the next APP13.
			irb = append(irb, p[len(jpegPSHeader):]...)
		}
	}
	r.iptc = irbResource(irb, 0x0404)
	return r
}

// irbResource finds a resource in a Photoshop image resource block:
// "8BIM", id, a Pascal name padded to even length, a size and the data,
// padded to even length.
func irbResource(b []byte, id uint16) []byte {
	for len(b) >= 12 && string(b[:4]) == "8BIM" {
		rid := binary.BigEndian.Uint16(b[4:])
		nl := int(b[6])
		at := 6 + nl + 1
		at += at & 1
		if at+4 > len(b) {
			return nil
		}
		size := int64(binary.BigEndian.Uint32(b[at:]))
		at += 4
		if int64(at)+size > int64(len(b)) {
			return nil
		}
		if rid == id {
			return b[at : int64(at)+size]
		}
		b = b[int64(at)+size+size&1:]
	}
	return nil
}

// irbBlock wraps IPTC records as a Photoshop image resource block with
// the one resource 0x0404.
func irbBlock(iptc []byte) []byte {
	b := make([]byte, 0, 12+len(iptc)+1)
	b = append(b, "8BIM\x04\x04\x00\x00"...) // id 0x0404, empty name padded
	b = binary.BigEndian.AppendUint32(b, uint32(len(iptc)))
	b = append(b, iptc...)
	if len(iptc)&1 == 1 {
		b = append(b, 0)
	}
	return b
}

// webpMeta reads the EXIF and XMP chunks of a whole WebP file.
func webpMeta(b []byte) rawMeta {
	var r rawMeta
	walkRIFF(b, func(id string, body []byte) bool {
		switch id {
		case "EXIF":
			// Some writers keep JPEG's "Exif\0\0" prefix.
			r.exif = bytes.TrimPrefix(body, exifHeader)
		case "XMP ":
			r.xmp = body
		}
		return true
	})
	return r
}

// walkRIFF calls fn for each top-level chunk of a RIFF WEBP file, in
// order, until fn returns false or the chunks end or break off.
func walkRIFF(b []byte, fn func(id string, body []byte) bool) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return
	}
	end := min(int64(len(b)), 8+int64(binary.LittleEndian.Uint32(b[4:])))
	for i := int64(12); i+8 <= end; {
		n := int64(binary.LittleEndian.Uint32(b[i+4:]))
		if i+8+n > end {
			return
		}
		if !fn(string(b[i:i+4]), b[i+8:i+8+n]) {
			return
		}
		i += 8 + n + n&1
	}
}

// webpEXIFOrientation is the orientation in a WebP's EXIF chunk.
func webpEXIFOrientation(b []byte) int {
	return exifOrientation(webpMeta(b).exif)
}

// tiffStructTags describe a TIFF file's own pixels (or hold its XMP, IPTC,
// Photoshop and ICC blocks, gathered separately): they are not carried
// into another file's EXIF.
var tiffStructTags = map[uint16]bool{
	0x00FE: true, 0x00FF: true, 0x0102: true, 0x0103: true, 0x0106: true, 0x0107: true,
	0x0108: true, 0x0109: true, 0x010A: true, 0x0115: true, 0x0116: true, 0x0118: true,
	0x0119: true, 0x011C: true, 0x0122: true, 0x0123: true, 0x0124: true, 0x0125: true,
	0x013D: true, 0x0140: true, 0x0142: true, 0x0143: true, 0x0152: true, 0x0153: true,
	0x0154: true, 0x0155: true, 0x0156: true, 0x015B: true, 0x0211: true, 0x0212: true,
	0x0213: true, 0x02BC: true, 0x83BB: true, 0x8649: true, 0x8773: true, 0x935C: true,
}

// tiffMeta reads a whole TIFF file's own IFD0 as its EXIF (structural tags
// left out), and its XMP (tag 700) and IPTC (tag 33723).
func tiffMeta(b []byte) rawMeta {
	e, _, err := ParseEXIF(b)
	if err != nil {
		return rawMeta{}
	}
	var r rawMeta
	if x, ok := e.Entry(IFD0, 0x02BC); ok {
		r.xmp = x.Value
	}
	if x, ok := e.Entry(IFD0, 0x83BB); ok {
		r.iptc = x.Value
	}
	e.IFDs[IFD0] = slices.DeleteFunc(e.IFDs[IFD0], func(x ExifEntry) bool { return tiffStructTags[x.Tag] })
	r.exif = e.Bytes()
	return r
}

// pngMetaTap passes a PNG stream through while gathering its eXIf chunk,
// its XMP iTXt chunk and an ImageMagick-style IPTC text chunk, wherever
// they sit (before or after the image data). Image data is not copied.
type pngMetaTap struct {
	r    io.Reader
	pos  int64 // bytes passed so far
	next int64 // where the next chunk header starts
	hdr  []byte
	typ  string
	body []byte // the current chunk's body when it is gathered
	want int64  // its length
	raw  rawMeta
	bad  bool // lost track of the chunks: gather no more
}

func newPNGMetaTap(r io.Reader) *pngMetaTap { return &pngMetaTap{r: r, next: 8} }

func (t *pngMetaTap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.feed(p[:n])
	return n, err
}

func (t *pngMetaTap) feed(p []byte) {
	for len(p) > 0 && !t.bad {
		switch {
		case t.pos < t.next: // inside a chunk, or the signature
			k := min(int64(len(p)), t.next-t.pos)
			if t.body != nil && int64(len(t.body)) < t.want {
				t.body = append(t.body, p[:min(k, t.want-int64(len(t.body)))]...)
				if int64(len(t.body)) == t.want {
					t.chunk(t.typ, t.body)
					t.body = nil
				}
			}
			t.pos += k
			p = p[k:]
		default: // a chunk header
			k := min(len(p), 8-len(t.hdr))
			t.hdr = append(t.hdr, p[:k]...)
			t.pos += int64(k)
			p = p[k:]
			if len(t.hdr) < 8 {
				continue
			}
			n := int64(binary.BigEndian.Uint32(t.hdr))
			t.typ = string(t.hdr[4:8])
			t.hdr = t.hdr[:0]
			if n > 1<<31-1 {
				t.bad = true
				return
			}
			t.next = t.pos + n + 4 // body and CRC
			t.body = nil
			switch t.typ {
			case "eXIf", "iTXt", "zTXt", "tEXt":
				if n <= maxMetaChunk {
					t.body, t.want = make([]byte, 0, n), n
					if n == 0 {
						t.body = nil
					}
				}
			}
		}
	}
}

func (t *pngMetaTap) chunk(typ string, body []byte) {
	switch typ {
	case "eXIf":
		if t.raw.exif == nil {
			t.raw.exif = bytes.TrimPrefix(body, exifHeader)
		}
	case "iTXt":
		kw, text, ok := pngITXt(body)
		if ok && kw == pngXMPKeyword && t.raw.xmp == nil {
			t.raw.xmp = text
		}
	case "zTXt", "tEXt":
		kw, text, ok := pngText(typ, body)
		if ok && kw == pngIPTCKeyword && t.raw.iptc == nil {
			t.raw.iptc = decodeRawProfile(text)
		}
	}
}

// pngITXt reads an iTXt chunk: keyword, compression flag and method,
// language, translated keyword, text.
func pngITXt(b []byte) (keyword string, text []byte, ok bool) {
	kw, rest, ok := bytes.Cut(b, []byte{0})
	if !ok || len(rest) < 2 {
		return "", nil, false
	}
	compressed, rest := rest[0] == 1, rest[2:]
	_, rest, ok1 := bytes.Cut(rest, []byte{0}) // language
	_, rest, ok2 := bytes.Cut(rest, []byte{0}) // translated keyword
	if !ok1 || !ok2 {
		return "", nil, false
	}
	if compressed {
		var err error
		if rest, err = inflate(rest); err != nil {
			return "", nil, false
		}
	}
	return string(kw), rest, true
}

// pngText reads a tEXt or zTXt chunk.
func pngText(typ string, b []byte) (keyword string, text []byte, ok bool) {
	kw, rest, ok := bytes.Cut(b, []byte{0})
	if !ok {
		return "", nil, false
	}
	if typ == "zTXt" {
		if len(rest) < 1 {
			return "", nil, false
		}
		var err error
		if rest, err = inflate(rest[1:]); err != nil {
			return "", nil, false
		}
	}
	return string(kw), rest, true
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(io.LimitReader(zr, maxMetaChunk))
}

// decodeRawProfile reads ImageMagick's text form of a binary profile:
// "\nNAME\n  LENGTH\nHEX..." (hex in lines). A Photoshop resource block
// in it yields its IPTC resource; plain IPTC records come back as they are.
func decodeRawProfile(text []byte) []byte {
	lines := strings.SplitN(strings.TrimLeft(string(text), "\n"), "\n", 3)
	if len(lines) < 3 {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil || n <= 0 || n > maxMetaChunk {
		return nil
	}
	h := strings.Join(strings.Fields(lines[2]), "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != n {
		return nil
	}
	if bytes.HasPrefix(b, []byte("8BIM")) {
		return irbResource(b, 0x0404)
	}
	return b
}

// encodeRawProfile writes ImageMagick's text form of a binary profile.
func encodeRawProfile(name string, b []byte) []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "\n%s\n%8d\n", name, len(b))
	h := hex.EncodeToString(b)
	for len(h) > 72 {
		s.WriteString(h[:72])
		s.WriteByte('\n')
		h = h[72:]
	}
	s.WriteString(h)
	s.WriteByte('\n')
	return []byte(s.String())
}

// Size limits of a JPEG marker segment's payload (its length field counts
// itself).
const jpegMaxSegment = 65535 - 2

// jpegMetaSegments are the APP1 Exif, APP1 XMP and APP13 segments of m for
// a w x h output; a block too big for one segment is left out with a
// warning.
func jpegMetaSegments(m *Metadata, w, h int, warnf func(string, ...any)) []byte {
	var out []byte
	seg := func(marker byte, parts ...[]byte) bool {
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		if n > jpegMaxSegment {
			return false
		}
		out = append(out, 0xFF, marker, byte((n+2)>>8), byte(n+2))
		for _, p := range parts {
			out = append(out, p...)
		}
		return true
	}
	if m.EXIF != nil {
		if !seg(0xE1, exifHeader, m.EXIF.ForOutput(w, h).Bytes()) {
			warnf("EXIF left out: over the 64 KiB a JPEG segment holds")
		}
	}
	if len(m.XMP) > 0 && !seg(0xE1, jpegXMPHeader, xmpForOutput(m.XMP, w, h)) {
		warnf("XMP left out: over the 64 KiB a JPEG segment holds (extended XMP is not written)")
	}
	if len(m.IPTC) > 0 && !seg(0xED, jpegPSHeader, irbBlock(m.IPTC)) {
		warnf("IPTC left out: over the 64 KiB a JPEG segment holds")
	}
	return out
}

// pngMetaChunks are the eXIf, iTXt XMP and zTXt IPTC chunks of m.
func pngMetaChunks(m *Metadata, w, h int) []byte {
	var out []byte
	chunk := func(typ string, body []byte) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
		start := len(out)
		out = append(out, typ...)
		out = append(out, body...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	if m.EXIF != nil {
		chunk("eXIf", m.EXIF.ForOutput(w, h).Bytes())
	}
	if len(m.XMP) > 0 {
		// Uncompressed, no language: what XMP's spec asks, so that a
		// scanner for "<?xpacket" finds it.
		body := append([]byte(pngXMPKeyword), 0, 0, 0, 0, 0)
		chunk("iTXt", append(body, xmpForOutput(m.XMP, w, h)...))
	}
	if len(m.IPTC) > 0 {
		// PNG has no IPTC chunk: this is ImageMagick's and ExifTool's
		// convention, a Photoshop resource block as hex text in zTXt.
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(encodeRawProfile("IPTC profile", irbBlock(m.IPTC)))
		zw.Close()
		body := append([]byte(pngIPTCKeyword), 0, 0)
		chunk("zTXt", append(body, z.Bytes()...))
	}
	return out
}

// spliceWriter passes an encoder's output to w with extra bytes inserted
// at the position cut finds in the output's first bytes (cut returns -1
// while it needs more of them).
type spliceWriter struct {
	w      io.Writer
	cut    func(head []byte) int
	insert []byte
	head   []byte
	done   bool
}

func (s *spliceWriter) Write(p []byte) (int, error) {
	if s.done {
		return s.w.Write(p)
	}
	s.head = append(s.head, p...)
	at := s.cut(s.head)
	if at < 0 {
		return len(p), nil
	}
	s.done = true
	if _, err := s.w.Write(s.head[:at]); err != nil {
		return 0, err
	}
	if _, err := s.w.Write(s.insert); err != nil {
		return 0, err
	}
	if _, err := s.w.Write(s.head[at:]); err != nil {
		return 0, err
	}
	s.head = nil
	return len(p), nil
}

// flush writes what is held when the output ended before the cut (only a
// broken encoder does that).
func (s *spliceWriter) flush() error {
	if s.done || len(s.head) == 0 {
		return nil
	}
	s.done = true
	_, err := s.w.Write(s.head)
	return err
}

// jpegCut is after SOI and a JFIF APP0 right behind it.
func jpegCut(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	if b[2] != 0xFF || b[3] != 0xE0 {
		return 2
	}
	if len(b) < 6 {
		return -1
	}
	end := 4 + (int(b[4])<<8 | int(b[5]))
	if len(b) < end {
		return -1
	}
	return end
}

// pngCut is after the signature and IHDR.
func pngCut(b []byte) int {
	if len(b) < 33 {
		return -1
	}
	return 33
}

// xmpFixes find the XMP properties that repeat EXIF's orientation and
// pixel dimensions, as attributes (tiff:Orientation="6") or elements
// (<tiff:Orientation>6</tiff:Orientation>), under their usual prefixes.
var xmpFixes = []struct {
	re   *regexp.Regexp
	what int // 0 orientation, 1 width, 2 height
}{
	{regexp.MustCompile(`(tiff:Orientation(?:="|>))\d+`), 0},
	{regexp.MustCompile(`((?:exif:PixelXDimension|tiff:ImageWidth)(?:="|>))\d+`), 1},
	{regexp.MustCompile(`((?:exif:PixelYDimension|tiff:ImageLength)(?:="|>))\d+`), 2},
}

// xmpForOutput is an XMP packet made to agree with the EXIF of an upright
// w x h output: its orientation 1, its dimensions w and h. Anything else
// is left byte for byte.
func xmpForOutput(x []byte, w, h int) []byte {
	if !bytes.Contains(x, []byte("tiff:")) && !bytes.Contains(x, []byte("exif:Pixel")) {
		return x
	}
	for _, f := range xmpFixes {
		v := [...]string{"1", strconv.Itoa(w), strconv.Itoa(h)}[f.what]
		x = f.re.ReplaceAll(x, []byte("${1}"+v))
	}
	return x
}
