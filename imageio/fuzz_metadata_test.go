package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/png"
	"testing"
)

// FuzzEXIF: ParseEXIF never panics nor reads outside its input, and what
// it accepts it writes as a block that parses back to the same tags, with
// no warnings (the damage was dropped the first time).
func FuzzEXIF(f *testing.F) {
	for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		f.Add(phoneEXIF(bo, 6, 64, 32, true))
		f.Add(exifBlock(3, bo == binary.BigEndian))
	}
	f.Add([]byte("II*\x00\x08\x00\x00\x00\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, _, err := ParseEXIF(data)
		if err != nil {
			if !errors.Is(err, errEXIF) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			return
		}
		out := e.ForOutput(7, 5).Bytes()
		again, warnings, err := ParseEXIF(out)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("our own block: %v %q", err, warnings)
		}
		if o, ok := again.Uint(ExifIFD, TagPixelXDimension); !ok || o != 7 {
			t.Fatalf("PixelXDimension %d %t", o, ok)
		}
		if !bytes.Equal(again.Bytes(), out) {
			t.Fatal("rewriting our own block changed it")
		}
	})
}

// FuzzMetadata: decoding any file with its metadata never panics, and what
// it yields is written into every output format and read back unchanged.
func FuzzMetadata(f *testing.F) {
	f.Add(phoneJPEG(f, binary.LittleEndian))
	f.Add(webpWithEXIF(webpTwoTone(4, 2, [4]uint8{}, [4]uint8{9, 9, 9, 255}, func(x, y int) bool { return x == y }),
		4, 2, phoneEXIF(binary.BigEndian, 6, 4, 2, false)))
	var buf bytes.Buffer
	png.Encode(&buf, markedImage(4, 4))
	f.Add(insertPNGChunk(buf.Bytes(), "eXIf", phoneEXIF(binary.LittleEndian, 8, 4, 4, false)))
	f.Add(insertPNGChunk(buf.Bytes(), "iTXt", append([]byte(pngXMPKeyword+"\x00\x00\x00\x00\x00"), phoneXMP...)))
	f.Add(writeTIFF(4, 2, 4, 2, make([]byte, 32), 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(bytes.NewReader(data), DecodeOptions{MaxPixels: 1 << 16, Metadata: true})
		if err != nil || img.Metadata == nil {
			return
		}
		small := Resize(img.Pixels, 3, 2)
		for _, f := range WriteFormats() {
			var out bytes.Buffer
			if err := EncodeWith(&out, small, f, EncodeOptions{Metadata: img.Metadata}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			back, err := Decode(bytes.NewReader(out.Bytes()), DecodeOptions{Metadata: true})
			if err != nil {
				t.Fatalf("%s: reading our output: %v", f, err)
			}
			if back.Pixels.Bounds() != image.Rect(0, 0, 3, 2) || len(back.Warnings) > 0 {
				t.Fatalf("%s: %v, warnings %q", f, back.Pixels.Bounds(), back.Warnings)
			}
			m, bm := img.Metadata, back.Metadata
			if bm == nil {
				bm = &Metadata{}
			}
			// A JPEG segment holds 64 KiB: bigger blocks are left out.
			fits := func(n int) bool { return f != JPEG || n <= jpegMaxSegment-len(jpegXMPHeader) }
			if m.EXIF != nil && fits(len(m.EXIF.ForOutput(3, 2).Bytes())) != (bm.EXIF != nil) {
				t.Fatalf("%s: EXIF lost", f)
			}
			if want := xmpForOutput(m.XMP, 3, 2); fits(len(want)) && !bytes.Equal(want, bm.XMP) {
				t.Fatalf("%s: XMP %q became %q", f, want, bm.XMP)
			}
			if bm != nil && m.EXIF != nil && bm.EXIF != nil {
				if o, _ := bm.EXIF.Uint(IFD0, TagOrientation); o > 1 {
					t.Fatalf("%s: orientation %d written", f, o)
				}
			}
		}
	})
}
