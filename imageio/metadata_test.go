package imageio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The phone photo of issue 13: these are the fields that must survive.
const (
	phoneMake  = "Canon"
	phoneModel = "EOS R5"
	phoneDate  = "2024:05:06 07:08:09"
	phoneXMP   = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Eiffel tower</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
)

// phoneLat and phoneLon are 48°51'30.24" N and 2°17'40.2" E as EXIF writes
// them: degrees, minutes, seconds as rationals.
var (
	phoneLat = [][2]uint32{{48, 1}, {51, 1}, {3024, 100}}
	phoneLon = [][2]uint32{{2, 1}, {17, 1}, {402, 10}}
)

// phoneIPTC is IPTC-IIM: record 2 (application), dataset 25 (Keywords).
var phoneIPTC = append([]byte{0x1C, 2, 25, 0, 5}, "tower"...)

func asciiEntry(tag uint16, s string) ExifEntry {
	return ExifEntry{Tag: tag, Type: exifASCII, Count: uint32(len(s) + 1), Value: append([]byte(s), 0)}
}

func rationalEntry(bo binary.ByteOrder, tag uint16, r [][2]uint32) ExifEntry {
	b := make([]byte, 8*len(r))
	for i, x := range r {
		bo.PutUint32(b[8*i:], x[0])
		bo.PutUint32(b[8*i+4:], x[1])
	}
	return ExifEntry{Tag: tag, Type: exifRational, Count: uint32(len(r)), Value: b}
}

// phoneEXIF builds, with this package's own writer, the EXIF block of a
// phone photo stored w x h with the given orientation (and the tags EXIF
// requires of a JPEG, so that exiftool -validate passes), and appends an
// IFD1 with a thumbnail (which the writer never writes) by hand. TIFF's
// ImageWidth and ImageLength, which EXIF does not allow in a JPEG but some
// cameras write, are there when imageSize is set.
func phoneEXIF(bo binary.AppendByteOrder, orientation, w, h int, imageSize bool) []byte {
	e := &EXIF{Order: bo.(binary.ByteOrder)}
	e.Set(IFD0, asciiEntry(TagMake, phoneMake))
	e.Set(IFD0, asciiEntry(TagModel, phoneModel))
	e.SetShort(IFD0, TagOrientation, uint16(orientation))
	if imageSize {
		e.SetShort(IFD0, TagImageWidth, uint16(w))
		e.SetShort(IFD0, TagImageLength, uint16(h))
	}
	e.Set(IFD0, rationalEntry(e.Order, 0x011A, [][2]uint32{{72, 1}}))                // XResolution
	e.Set(IFD0, rationalEntry(e.Order, 0x011B, [][2]uint32{{72, 1}}))                // YResolution
	e.SetShort(IFD0, 0x0128, 2)                                                      // ResolutionUnit: inches
	e.SetShort(IFD0, 0x0213, 1)                                                      // YCbCrPositioning
	e.Set(ExifIFD, ExifEntry{Tag: 0x9000, Type: 7, Count: 4, Value: []byte("0232")}) // ExifVersion
	e.Set(ExifIFD, ExifEntry{Tag: 0x9101, Type: 7, Count: 4, Value: []byte{1, 2, 3, 0}})
	e.Set(ExifIFD, ExifEntry{Tag: 0xA000, Type: 7, Count: 4, Value: []byte("0100")}) // FlashpixVersion
	e.SetShort(ExifIFD, 0xA001, 1)                                                   // ColorSpace: sRGB
	e.Set(GPSIFD, ExifEntry{Tag: 0x0000, Type: exifByte, Count: 4, Value: []byte{2, 3, 0, 0}})
	e.Set(ExifIFD, asciiEntry(TagDateTimeOrig, phoneDate))
	e.SetShort(ExifIFD, TagPixelXDimension, uint16(w))
	e.SetShort(ExifIFD, TagPixelYDimension, uint16(h))
	e.Set(GPSIFD, asciiEntry(TagGPSLatitudeRef, "N"))
	e.Set(GPSIFD, rationalEntry(e.Order, TagGPSLatitude, phoneLat))
	e.Set(GPSIFD, asciiEntry(TagGPSLongitudeRef, "E"))
	e.Set(GPSIFD, rationalEntry(e.Order, TagGPSLongitude, phoneLon))
	e.Set(InteropIFD, asciiEntry(0x0001, "R98"))
	return withThumbnailIFD(e.Bytes(), bo)
}

// thumbMarker is the fake thumbnail's content, to look for in outputs.
var thumbMarker = []byte("\xFF\xD8THUMBNAIL-BYTES\xFF\xD9")

// withThumbnailIFD chains an IFD1 after IFD0 pointing at a thumbnail.
func withThumbnailIFD(b []byte, bo binary.AppendByteOrder) []byte {
	order := bo.(binary.ByteOrder)
	ifd0 := order.Uint32(b[4:])
	n := order.Uint16(b[ifd0:])
	link := int(ifd0) + 2 + 12*int(n)
	ifd1 := len(b)
	out := append([]byte{}, b...)
	order.PutUint32(out[link:], uint32(ifd1))
	thumbAt := ifd1 + 2 + 2*12 + 4
	out = bo.AppendUint16(out, 2)
	out = bo.AppendUint16(out, 0x0201)
	out = bo.AppendUint16(out, exifLong)
	out = bo.AppendUint32(out, 1)
	out = bo.AppendUint32(out, uint32(thumbAt))
	out = bo.AppendUint16(out, 0x0202)
	out = bo.AppendUint16(out, exifLong)
	out = bo.AppendUint32(out, 1)
	out = bo.AppendUint32(out, uint32(len(thumbMarker)))
	out = bo.AppendUint32(out, 0)
	return append(out, thumbMarker...)
}

// jpegWithMeta inserts APP1 EXIF, APP1 XMP and APP13 IPTC segments after
// a JPEG's SOI, as a camera would.
func jpegWithMeta(jpg, exif []byte, xmp string, iptc []byte) []byte {
	var segs []byte
	seg := func(marker byte, parts ...[]byte) {
		body := bytes.Join(parts, nil)
		segs = append(segs, 0xFF, marker)
		segs = binary.BigEndian.AppendUint16(segs, uint16(len(body)+2))
		segs = append(segs, body...)
	}
	if exif != nil {
		seg(0xE1, exifHeader, exif)
	}
	if xmp != "" {
		seg(0xE1, jpegXMPHeader, []byte(xmp))
	}
	if iptc != nil {
		seg(0xED, jpegPSHeader, irbBlock(iptc))
	}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, segs...)
	return append(out, jpg[2:]...)
}

// phoneJPEG is a 64x32 (stored) JPEG with the phone's metadata, Orientation 6.
func phoneJPEG(t testing.TB, bo binary.AppendByteOrder) []byte {
	return jpegWithMeta(encodeJPEG(t, markedImage(64, 32), 90), phoneEXIF(bo, 6, 64, 32, false), phoneXMP, phoneIPTC)
}

// checkPhoneMeta checks field by field that m is the phone's metadata made
// to describe an upright w x h output.
func checkPhoneMeta(t *testing.T, m *Metadata, w, h int, wantIPTC, imageSize bool) {
	t.Helper()
	if m == nil || m.EXIF == nil {
		t.Fatalf("no EXIF: %+v", m)
	}
	e := m.EXIF
	for _, c := range []struct {
		d    IFD
		tag  uint16
		want string
	}{
		{IFD0, TagMake, phoneMake}, {IFD0, TagModel, phoneModel}, {ExifIFD, TagDateTimeOrig, phoneDate},
		{GPSIFD, TagGPSLatitudeRef, "N"}, {GPSIFD, TagGPSLongitudeRef, "E"}, {InteropIFD, 0x0001, "R98"},
	} {
		if got, _ := e.String(c.d, c.tag); got != c.want {
			t.Errorf("%s tag 0x%04X = %q, want %q", c.d, c.tag, got, c.want)
		}
	}
	lat, _ := e.Rationals(GPSIFD, TagGPSLatitude)
	lon, _ := e.Rationals(GPSIFD, TagGPSLongitude)
	if fmt.Sprint(lat) != fmt.Sprint(phoneLat) || fmt.Sprint(lon) != fmt.Sprint(phoneLon) {
		t.Errorf("GPS %v %v, want %v %v", lat, lon, phoneLat, phoneLon)
	}
	for _, c := range []struct {
		d    IFD
		tag  uint16
		want int
	}{
		{IFD0, TagOrientation, 1}, {ExifIFD, TagPixelXDimension, w}, {ExifIFD, TagPixelYDimension, h},
	} {
		if got, ok := e.Uint(c.d, c.tag); !ok || int(got) != c.want {
			t.Errorf("%s tag 0x%04X = %d (present %t), want %d", c.d, c.tag, got, ok, c.want)
		}
	}
	for _, tag := range []uint16{TagImageWidth, TagImageLength} {
		got, ok := e.Uint(IFD0, tag)
		if ok != imageSize || (ok && int(got) != map[uint16]int{TagImageWidth: w, TagImageLength: h}[tag]) {
			t.Errorf("IFD0 tag 0x%04X = %d (present %t), want %t", tag, got, ok, imageSize)
		}
	}
	for _, tag := range []uint16{0x0201, 0x0202} {
		if _, ok := e.Entry(IFD0, tag); ok {
			t.Errorf("thumbnail tag 0x%04X kept", tag)
		}
	}
	if string(m.XMP) != phoneXMP {
		t.Errorf("XMP = %q", m.XMP)
	}
	if wantIPTC && !bytes.Equal(m.IPTC, phoneIPTC) {
		t.Errorf("IPTC = %q, want %q", m.IPTC, phoneIPTC)
	}
}

func TestEXIFRewrite(t *testing.T) {
	for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(fmt.Sprint(bo), func(t *testing.T) {
			src := phoneEXIF(bo, 6, 64, 32, true)
			if !bytes.Contains(src, thumbMarker) {
				t.Fatal("fixture has no thumbnail")
			}
			e, warnings, err := ParseEXIF(src)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("parse: %v %v", err, warnings)
			}
			if o, _ := e.Uint(IFD0, TagOrientation); o != 6 {
				t.Fatalf("orientation %d", o)
			}
			out := e.ForOutput(100, 200).Bytes()
			if bytes.Contains(out, thumbMarker) {
				t.Error("thumbnail kept")
			}
			order := bo.(binary.ByteOrder)
			ifd0 := order.Uint32(out[4:])
			if next := order.Uint32(out[ifd0+2+12*uint32(order.Uint16(out[ifd0:])):]); next != 0 {
				t.Errorf("IFD0 links to an IFD1 at %d", next)
			}
			again, warnings, err := ParseEXIF(out)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("reparse: %v %v", err, warnings)
			}
			if again.Order != e.Order {
				t.Errorf("byte order changed")
			}
			checkPhoneMeta(t, &Metadata{EXIF: again, XMP: []byte(phoneXMP)}, 100, 200, false, true)
			// Every tag of the source is there, with its value (the
			// patched ones aside).
			for d := range numIFDs {
				for _, x := range e.IFDs[d] {
					y, ok := again.Entry(d, x.Tag)
					patched := x.Tag == TagOrientation || x.Tag == TagImageWidth || x.Tag == TagImageLength ||
						x.Tag == TagPixelXDimension || x.Tag == TagPixelYDimension
					if !ok || (!patched && !bytes.Equal(x.Value, y.Value)) {
						t.Errorf("%s tag 0x%04X: %v, want %v", d, x.Tag, y, x)
					}
				}
			}
			// Written by us, the block is laid out the same when rewritten.
			if !bytes.Equal(again.Bytes(), out) {
				t.Error("rewriting our own block changed it")
			}
		})
	}
}

// TestParseEXIFMalformed: damage drops what it touches, with a warning, and
// a block without a readable IFD0 is an error; never a panic.
func TestParseEXIFMalformed(t *testing.T) {
	le := binary.LittleEndian
	good := phoneEXIF(le, 1, 8, 8, false)
	e, _, _ := ParseEXIF(good)
	ifd0 := int(le.Uint32(good[4:]))
	entryAt := func(d IFD, tag uint16) int { // offset of an entry in good
		off := ifd0
		if d == ExifIFD {
			p := entryAt0(good, ifd0, TagExifIFD)
			off = int(le.Uint32(good[p+8:]))
		}
		return entryAt0(good, off, tag)
	}
	patch := func(at int, v []byte) []byte {
		b := append([]byte{}, good...)
		copy(b[at:], v)
		return b
	}
	u32 := func(v uint32) []byte { return le.AppendUint32(nil, v) }
	u16 := func(v uint16) []byte { return le.AppendUint16(nil, v) }
	cases := []struct {
		name      string
		b         []byte
		wantErr   bool
		wantWarn  string
		goneIFD   IFD
		goneTag   uint16
		keptTag   uint16 // in IFD0
		keepExif  bool
		checkGone bool
	}{
		{name: "empty", b: nil, wantErr: true},
		{name: "short", b: good[:7], wantErr: true},
		{name: "not TIFF", b: append([]byte("XX*\x00"), good[4:]...), wantErr: true},
		{name: "IFD0 outside", b: patch(4, u32(1<<30)), wantErr: true},
		{name: "IFD0 entries past end", b: patch(ifd0, u16(4000)), wantErr: true},
		{name: "truncated", b: good[:ifd0+20], wantErr: true},
		{name: "value outside", b: patch(entryAt(IFD0, TagMake)+8, u32(1<<31)), wantWarn: "outside the block",
			goneIFD: IFD0, goneTag: TagMake, keptTag: TagModel, checkGone: true},
		{name: "unknown type", b: patch(entryAt(IFD0, TagModel)+2, u16(99)), wantWarn: "unknown type",
			goneIFD: IFD0, goneTag: TagModel, keptTag: TagMake, checkGone: true},
		{name: "huge count", b: patch(entryAt(IFD0, TagMake)+4, u32(1<<31)), wantWarn: "outside the block",
			goneIFD: IFD0, goneTag: TagMake, keptTag: TagModel, checkGone: true},
		{name: "Exif IFD outside", b: patch(entryAt(IFD0, TagExifIFD)+8, u32(1<<30)), wantWarn: "Exif IFD dropped",
			goneIFD: ExifIFD, goneTag: TagDateTimeOrig, keptTag: TagMake, checkGone: true},
		{name: "Exif IFD is IFD0", b: patch(entryAt(IFD0, TagExifIFD)+8, u32(uint32(ifd0))), wantWarn: "already read",
			goneIFD: ExifIFD, goneTag: TagDateTimeOrig, keptTag: TagMake, checkGone: true},
		{name: "GPS pointer of type ASCII", b: patch(entryAt(IFD0, TagGPSIFD)+2, u16(exifASCII)), wantWarn: "sub-IFD pointer",
			goneIFD: GPSIFD, goneTag: TagGPSLatitude, keptTag: TagMake, checkGone: true},
	}
	if _, ok := e.Entry(IFD0, TagMake); !ok {
		t.Fatal("fixture lacks Make")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, warnings, err := ParseEXIF(c.b)
			if c.wantErr {
				if err == nil {
					t.Fatalf("no error; %d warnings", len(warnings))
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !strings.Contains(strings.Join(warnings, "\n"), c.wantWarn) {
				t.Errorf("warnings %q, want one with %q", warnings, c.wantWarn)
			}
			if _, ok := got.Entry(c.goneIFD, c.goneTag); ok && c.checkGone {
				t.Errorf("%s tag 0x%04X kept", c.goneIFD, c.goneTag)
			}
			if _, ok := got.Entry(IFD0, c.keptTag); !ok {
				t.Errorf("IFD0 tag 0x%04X dropped too", c.keptTag)
			}
			// What is left still writes a valid block.
			if _, w, err := ParseEXIF(got.Bytes()); err != nil || len(w) > 0 {
				t.Errorf("rewritten: %v %v", err, w)
			}
		})
	}
}

// entryAt0 is the offset of tag's entry in the IFD at off of a
// little-endian block.
func entryAt0(b []byte, off int, tag uint16) int {
	le := binary.LittleEndian
	n := int(le.Uint16(b[off:]))
	for i := range n {
		at := off + 2 + 12*i
		if le.Uint16(b[at:]) == tag {
			return at
		}
	}
	panic(fmt.Sprintf("tag 0x%04X not in IFD at %d", tag, off))
}

// TestMetadataKeep is issue 13's phone photo: decoded upright, its
// metadata read, the result (a different size) written as JPEG, PNG and
// WebP, and read back field by field with this package's reader, and with
// exiftool where it is installed.
func TestMetadataKeep(t *testing.T) {
	for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		src := phoneJPEG(t, bo)
		img, err := Decode(bytes.NewReader(src), DecodeOptions{Metadata: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(img.Warnings) > 0 {
			t.Errorf("warnings %q", img.Warnings)
		}
		if b := img.Pixels.Bounds(); b.Dx() != 32 || b.Dy() != 64 {
			t.Fatalf("decoded %v, want upright 32x64", b)
		}
		if o, _ := img.Metadata.EXIF.Uint(IFD0, TagOrientation); o != 6 {
			t.Errorf("the source's orientation reads %d", o)
		}
		out := Resize(img.Pixels, 20, 40)
		for _, f := range []Format{JPEG, PNG, WebP} {
			t.Run(fmt.Sprintf("%v/%s", bo, f), func(t *testing.T) {
				if !CanWrite(f) {
					t.Skipf("built without a %s encoder", f)
				}
				var buf bytes.Buffer
				var warnings []string
				err := EncodeWith(&buf, out, f, EncodeOptions{Quality: 90, Metadata: img.Metadata, Warnf: func(format string, a ...any) {
					warnings = append(warnings, fmt.Sprintf(format, a...))
				}})
				if err != nil {
					t.Fatal(err)
				}
				if f == WebP && (len(warnings) != 1 || !strings.Contains(warnings[0], "IPTC")) {
					t.Errorf("warnings %q, want the IPTC one", warnings)
				} else if f != WebP && len(warnings) > 0 {
					t.Errorf("warnings %q", warnings)
				}
				if bytes.Contains(buf.Bytes(), thumbMarker) {
					t.Error("thumbnail written")
				}
				back, err := Decode(bytes.NewReader(buf.Bytes()), DecodeOptions{Metadata: true})
				if err != nil {
					t.Fatal(err)
				}
				if back.Format != f || back.Orientation != 1 || back.Pixels.Bounds() != out.Bounds() || len(back.Warnings) > 0 {
					t.Fatalf("read back %s orientation %d %v, warnings %q", back.Format, back.Orientation, back.Pixels.Bounds(), back.Warnings)
				}
				checkPhoneMeta(t, back.Metadata, 20, 40, f != WebP, false)
				exiftoolCheck(t, buf.Bytes(), f, 20, 40)
			})
		}
	}
}

// exiftoolCheck reads a file written with the phone's metadata with
// exiftool, when it is installed: another implementation's view of the
// same fields, and its validation of the file's structure.
func exiftoolCheck(t *testing.T, data []byte, f Format, w, h int) {
	t.Helper()
	tool, err := exec.LookPath("exiftool")
	if err != nil {
		t.Log("exiftool not installed (Debian libimage-exiftool-perl): checked with our own reader only")
		return
	}
	path := filepath.Join(t.TempDir(), "out"+Ext(f))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command(tool, "-j", "-n", "-validate", "-warning", "-a",
		"-Make", "-Model", "-DateTimeOriginal", "-GPSLatitude", "-GPSLongitude", "-Orientation",
		"-ExifImageWidth", "-ExifImageHeight", "-ImageWidth", "-ImageHeight", "-ThumbnailLength",
		"-XMP-dc:Title", "-IPTC:Keywords", path).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var got []map[string]any
	if err := json.Unmarshal(raw, &got); err != nil || len(got) != 1 {
		t.Fatalf("exiftool output %s: %v", raw, err)
	}
	m := got[0]
	want := map[string]any{
		"Make": phoneMake, "Model": phoneModel, "DateTimeOriginal": phoneDate,
		"GPSLatitude": 48.8584, "GPSLongitude": 2.2945, "Orientation": 1.0,
		"ExifImageWidth": float64(w), "ExifImageHeight": float64(h),
		"ImageWidth": float64(w), "ImageHeight": float64(h), "Title": "Eiffel tower",
	}
	// -validate with -n: errors, warnings, minor warnings.
	if v := m["Validate"]; v != "0 0 0" {
		t.Errorf("exiftool -validate: %v (all: %s)", v, raw)
	}
	if v, ok := m["Warning"]; ok {
		t.Errorf("exiftool warns: %v", v)
	}
	if f != WebP {
		want["Keywords"] = "tower"
	}
	for k, v := range want {
		got := m[k]
		if gf, ok := got.(float64); ok {
			if vf, ok := v.(float64); ok && gf-vf < 1e-6 && vf-gf < 1e-6 {
				continue
			}
		}
		if got != v {
			t.Errorf("exiftool %s = %v, want %v (all: %s)", k, got, v, raw)
		}
	}
	if _, ok := m["ThumbnailLength"]; ok {
		t.Errorf("exiftool sees a thumbnail: %s", raw)
	}
}

// TestMetadataStrip: without metadata, the outputs have none.
func TestMetadataStrip(t *testing.T) {
	src := phoneJPEG(t, binary.LittleEndian)
	img, err := Decode(bytes.NewReader(src), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Metadata != nil {
		t.Fatal("metadata read without DecodeOptions.Metadata")
	}
	for _, f := range WriteFormats() {
		var buf bytes.Buffer
		if err := EncodeWith(&buf, img.Pixels, f, EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
		back, err := Decode(bytes.NewReader(buf.Bytes()), DecodeOptions{Metadata: true})
		if err != nil {
			t.Fatal(err)
		}
		if back.Metadata != nil {
			t.Errorf("%s: metadata written: %+v", f, back.Metadata)
		}
		for _, s := range []string{phoneMake, "Exif\x00", "xpacket", "8BIM", "tower"} {
			if bytes.Contains(buf.Bytes(), []byte(s)) {
				t.Errorf("%s: output contains %q", f, s)
			}
		}
	}
}

// TestBrokenEXIFIsAWarning: a JPEG whose EXIF cannot be read still
// converts, with a warning, and its XMP is still kept.
func TestBrokenEXIFIsAWarning(t *testing.T) {
	broken := []byte("II*\x00\xff\xff\xff\x7fgarbage")
	src := jpegWithMeta(encodeJPEG(t, markedImage(16, 8), 90), broken, phoneXMP, nil)
	img, err := Decode(bytes.NewReader(src), DecodeOptions{Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Warnings) != 1 || !strings.Contains(img.Warnings[0], "EXIF dropped") {
		t.Errorf("warnings %q", img.Warnings)
	}
	if img.Metadata == nil || img.Metadata.EXIF != nil || string(img.Metadata.XMP) != phoneXMP {
		t.Errorf("metadata %+v", img.Metadata)
	}
}

// TestPNGMetadataAnywhere: a PNG's eXIf and XMP are found after the image
// data too (allowed for XMP's iTXt, and written so by some tools), and
// ImageMagick's IPTC text chunk is read.
func TestPNGMetadataAnywhere(t *testing.T) {
	var buf bytes.Buffer
	png.Encode(&buf, markedImage(8, 4))
	b := buf.Bytes()
	iend := len(b) - 12
	xmp := append([]byte(pngXMPKeyword+"\x00\x00\x00\x00\x00"), phoneXMP...)
	var tail []byte
	tail = append(tail, pngChunk("iTXt", xmp)...)
	tail = append(tail, pngChunk("eXIf", append(append([]byte{}, exifHeader...), phoneEXIF(binary.BigEndian, 8, 8, 4, false)...))...)
	tail = append(tail, pngChunk("tEXt", append([]byte(pngIPTCKeyword+"\x00"), encodeRawProfile("IPTC profile", irbBlock(phoneIPTC))...))...)
	src := append(append(append([]byte{}, b[:iend]...), tail...), b[iend:]...)
	img, err := Decode(bytes.NewReader(src), DecodeOptions{Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	m := img.Metadata
	if m == nil || m.EXIF == nil || string(m.XMP) != phoneXMP || !bytes.Equal(m.IPTC, phoneIPTC) {
		t.Fatalf("metadata %+v", m)
	}
	if got, _ := m.EXIF.String(IFD0, TagMake); got != phoneMake {
		t.Errorf("Make %q", got)
	}
	// The orientation of an eXIf after IDAT is not applied: Probe stops at
	// the image data, as browsers do.
	if img.Orientation != 1 {
		t.Errorf("orientation %d", img.Orientation)
	}
}

// webpWithEXIF wraps a simple VP8L WebP into the extended format with an
// EXIF chunk after the image data, where the format puts it.
func webpWithEXIF(simple []byte, w, h int, exif []byte) []byte {
	var vp8l []byte
	walkRIFF(simple, func(id string, body []byte) bool {
		if id == "VP8L" {
			vp8l = body
		}
		return true
	})
	chunk := func(id string, body []byte) []byte {
		c := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
		c = append(c, body...)
		if len(body)&1 == 1 {
			c = append(c, 0)
		}
		return c
	}
	x := []byte{vp8xEXIF | vp8xAlpha, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), 0, byte(h - 1), byte((h - 1) >> 8), 0}
	body := append([]byte("WEBP"), chunk("VP8X", x)...)
	body = append(body, chunk("VP8L", vp8l)...)
	body = append(body, chunk("EXIF", exif)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// TestWebPInputOrientation: a WebP's EXIF orientation is applied, like a
// JPEG's, and its metadata read.
func TestWebPInputOrientation(t *testing.T) {
	// 4x2 stored, pixel (0,0) red, the rest blue; Orientation 6 shows it
	// rotated 90° clockwise: 2x4 with red at the top right.
	red, blue := [4]uint8{255, 0, 0, 255}, [4]uint8{0, 0, 255, 255}
	simple := webpTwoTone(4, 2, blue, red, func(x, y int) bool { return x == 0 && y == 0 })
	src := webpWithEXIF(simple, 4, 2, phoneEXIF(binary.LittleEndian, 6, 4, 2, false))
	h, err := Probe(bytes.NewReader(src))
	if err != nil || h.Orientation != 6 {
		t.Fatalf("probe %+v %v", h, err)
	}
	img, err := Decode(bytes.NewReader(src), DecodeOptions{Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Pixels.Bounds(); b.Dx() != 2 || b.Dy() != 4 {
		t.Fatalf("size %v", b)
	}
	if got := img.Pixels.NRGBAAt(1, 0); got != (color.NRGBA{255, 0, 0, 255}) {
		t.Errorf("top right %v, want red", got)
	}
	if got := img.Pixels.NRGBAAt(0, 0); got != (color.NRGBA{0, 0, 255, 255}) {
		t.Errorf("top left %v, want blue", got)
	}
	if got, _ := img.Metadata.EXIF.String(IFD0, TagModel); got != phoneModel {
		t.Errorf("Model %q", got)
	}
}

// TestWebPOutput: WebP is written lossy below quality 100 and lossless at
// 100, with alpha, and read back by golang.org/x/image/webp.
func TestWebPOutput(t *testing.T) {
	if !CanWrite(WebP) {
		t.Skip("built without libwebp")
	}
	src := markedImage(48, 32)
	src.SetNRGBA(0, 0, color.NRGBA{10, 20, 30, 128})
	for _, c := range []struct {
		quality int
		chunk   string
	}{{80, "VP8 "}, {100, "VP8L"}} {
		var buf bytes.Buffer
		if err := Encode(&buf, src, WebP, c.quality); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(buf.Bytes(), []byte(c.chunk)) {
			t.Errorf("quality %d: no %q chunk", c.quality, c.chunk)
		}
		back, err := Decode(bytes.NewReader(buf.Bytes()), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !back.HasAlpha || back.Pixels.Bounds() != src.Bounds() {
			t.Errorf("quality %d: alpha %t size %v", c.quality, back.HasAlpha, back.Pixels.Bounds())
		}
		if c.quality == 100 && !bytes.Equal(back.Pixels.Pix, src.Pix) {
			t.Error("lossless WebP changed pixels")
		}
	}
	// libwebp's limit is an error, not a crash.
	if err := Encode(&bytes.Buffer{}, image.NewNRGBA(image.Rect(0, 0, 16384, 1)), WebP, 80); err == nil {
		t.Error("16384 pixels wide: no error")
	}
}

// TestTIFFMetadata: a TIFF's own IFD0 becomes the EXIF of its output,
// without the tags that describe the TIFF's own pixels.
func TestTIFFMetadata(t *testing.T) {
	src := writeTIFF(4, 2, 4, 2, make([]byte, 32), 3)
	img, err := Decode(bytes.NewReader(src), DecodeOptions{Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if img.Metadata == nil || img.Metadata.EXIF == nil {
		t.Fatalf("metadata %+v", img.Metadata)
	}
	e := img.Metadata.EXIF
	if o, _ := e.Uint(IFD0, TagOrientation); o != 3 {
		t.Errorf("orientation %d", o)
	}
	for _, tag := range []uint16{0x0102, 0x0103, 0x0106, 0x0111, 0x0115, 0x0117} {
		if _, ok := e.Entry(IFD0, tag); ok {
			t.Errorf("structural tag 0x%04X kept", tag)
		}
	}
}

// TestXMPForOutput: XMP's copies of the orientation and dimensions are made
// to agree with the rewritten EXIF; everything else is left alone.
func TestXMPForOutput(t *testing.T) {
	in := `<rdf:Description tiff:Orientation="6" exif:PixelXDimension="4032" xmlns:tiff="http://ns.adobe.com/tiff/1.0/">` +
		`<exif:PixelYDimension>3024</exif:PixelYDimension><tiff:ImageWidth>4032</tiff:ImageWidth>` +
		`<tiff:ImageLength>3024</tiff:ImageLength><dc:title>Orientation="6" 4032</dc:title></rdf:Description>`
	want := `<rdf:Description tiff:Orientation="1" exif:PixelXDimension="300" xmlns:tiff="http://ns.adobe.com/tiff/1.0/">` +
		`<exif:PixelYDimension>400</exif:PixelYDimension><tiff:ImageWidth>300</tiff:ImageWidth>` +
		`<tiff:ImageLength>400</tiff:ImageLength><dc:title>Orientation="6" 4032</dc:title></rdf:Description>`
	if got := string(xmpForOutput([]byte(in), 300, 400)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Through a JPEG output.
	src := jpegWithMeta(encodeJPEG(t, markedImage(16, 8), 90), nil, in, nil)
	img, err := Decode(bytes.NewReader(src), DecodeOptions{Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := EncodeWith(&buf, Resize(img.Pixels, 300, 400), JPEG, EncodeOptions{Metadata: img.Metadata}); err != nil {
		t.Fatal(err)
	}
	if back := jpegMeta(buf.Bytes()); string(back.xmp) != want {
		t.Errorf("JPEG output's XMP:\n%s", back.xmp)
	}
}
