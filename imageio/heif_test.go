package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// heifEnc encodes a PNG with Debian's heif-enc (libheif-examples) and
// returns the HEIC or AVIF file; the test is skipped without the tool or
// without libheif in this binary.
func heifEnc(t *testing.T, pngData []byte, f Format, args ...string) []byte {
	t.Helper()
	if !CanRead(f) {
		t.Skipf("this binary does not decode %s (libheif)", f)
	}
	if _, err := exec.LookPath("heif-enc"); err != nil {
		t.Skip("heif-enc not installed (Debian libheif-examples)")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out"+Ext(f))
	if err := os.WriteFile(in, pngData, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("heif-enc", append(append(args, "-o", out), in)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("heif-enc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cornerPhoto is 64x48, red with a blue 16x16 top-left corner: where the
// corner ends up tells the orientation.
func cornerPhoto() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			c := color.NRGBA{200, 30, 30, 255}
			if x < 16 && y < 16 {
				c = color.NRGBA{30, 30, 200, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// cornerPhoto16 is cornerPhoto in 16 bits per channel, for 10-bit encodes.
func cornerPhoto16() *image.NRGBA64 {
	src := cornerPhoto()
	img := image.NewNRGBA64(src.Rect)
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			c := src.NRGBAAt(x, y)
			img.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, 0xFFFF})
		}
	}
	return img
}

var (
	cornerRed  = color.NRGBA{200, 30, 30, 255}
	cornerBlue = color.NRGBA{30, 30, 200, 255}
)

// checkCorner checks the decoded size and that the blue corner is at
// corner (in display coordinates), red far from it.
func checkCorner(t *testing.T, img *Image, w, h int, corner, far image.Point) {
	t.Helper()
	if b := img.Pixels.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("decoded %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	if got := img.Pixels.NRGBAAt(corner.X, corner.Y); !near(got, cornerBlue, 14) {
		t.Errorf("at %v: %v, want the blue corner %v", corner, got, cornerBlue)
	}
	if got := img.Pixels.NRGBAAt(far.X, far.Y); !near(got, cornerRed, 14) {
		t.Errorf("at %v: %v, want red %v", far, got, cornerRed)
	}
}

// HEIC and AVIF, 8 and 10 bits, decode to the right size and colours.
func TestHEIFDecode(t *testing.T) {
	png8, png16 := pngBytes(t, cornerPhoto()), pngBytes(t, cornerPhoto16())
	cases := []struct {
		name string
		f    Format
		src  []byte
		args []string
	}{
		{"heic 8-bit", HEIC, png8, []string{"-q", "95"}},
		{"heic 10-bit", HEIC, png16, []string{"-q", "95", "-b", "10"}},
		{"avif 8-bit", AVIF, png8, []string{"-A", "-q", "95"}},
		// libaom 3.6 asserts on 10-bit 4:2:0 through heif-enc: 4:2:2.
		{"avif 10-bit", AVIF, png16, []string{"-A", "-q", "95", "-b", "10", "-p", "chroma=422"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := heifEnc(t, c.src, c.f, c.args...)
			h, err := Probe(bytes.NewReader(data))
			if err != nil || h.Format != c.f || h.Width != 64 || h.Height != 48 || h.Orientation != 1 {
				t.Fatalf("Probe = %+v, %v", h, err)
			}
			img := decodeBytes(t, data)
			if img.Format != c.f || img.HasAlpha {
				t.Errorf("format %s alpha %t", img.Format, img.HasAlpha)
			}
			checkCorner(t, img, 64, 48, image.Pt(4, 4), image.Pt(50, 40))
		})
	}
}

// heifWithRotation adds an irot property (angle x 90° anticlockwise) to
// the primary item of a HEIF file as heif-enc writes it (meta before
// mdat): the box goes at the end of ipco, the association at the end of
// the primary item's ipma entry (transforms come after descriptive
// properties), and every file offset in iloc moves by the bytes added.
func heifWithRotation(t *testing.T, data []byte, angle byte) []byte {
	t.Helper()
	be := binary.BigEndian
	type box struct{ off, size, body int } // body: where the payload starts
	children := func(from, to int) map[string]box {
		m := map[string]box{}
		for i := from; i+8 <= to; {
			n := int(be.Uint32(data[i:]))
			if n < 8 || i+n > to {
				t.Fatalf("bad box at %d", i)
			}
			m[string(data[i+4:i+8])] = box{i, n, i + 8}
			i += n
		}
		return m
	}
	top := children(0, len(data))
	meta, ok := top["meta"]
	if !ok || top["mdat"].off < meta.off {
		t.Fatal("want meta before mdat")
	}
	mc := children(meta.body+4, meta.off+meta.size)
	pitm, iloc, iprp := mc["pitm"], mc["iloc"], mc["iprp"]
	primary := uint32(be.Uint16(data[pitm.body+4:]))
	pc := children(iprp.body, iprp.off+iprp.size)
	ipco, ipma := pc["ipco"], pc["ipma"]
	nprops := 0 // properties are numbered from 1 in ipco order
	for i := ipco.body; i+8 <= ipco.off+ipco.size; i += int(be.Uint32(data[i:])) {
		nprops++
	}
	irot := []byte{0, 0, 0, 9, 'i', 'r', 'o', 't', angle & 3}

	// The primary's ipma entry gets one more association.
	ver, flags := data[ipma.body], be.Uint32(data[ipma.body:])&0xFFFFFF
	var entry []byte // the new association
	if flags&1 != 0 {
		entry = be.AppendUint16(nil, 0x8000|uint16(nprops+1))
	} else {
		entry = []byte{0x80 | byte(nprops+1)}
	}
	count := int(be.Uint32(data[ipma.body+4:]))
	i := ipma.body + 8
	countAt, insertAt := -1, -1
	for e := 0; e < count; e++ {
		var id uint32
		if ver < 1 {
			id, i = uint32(be.Uint16(data[i:])), i+2
		} else {
			id, i = be.Uint32(data[i:]), i+4
		}
		n := int(data[i])
		end := i + 1 + n*len(entry)
		if id == primary {
			countAt, insertAt = i, end
		}
		i = end
	}
	if insertAt < 0 {
		t.Fatal("primary item has no ipma entry")
	}
	delta := len(irot) + len(entry)
	var out []byte
	out = append(out, data[:ipco.off+ipco.size]...)
	out = append(out, irot...)
	out = append(out, data[ipco.off+ipco.size:insertAt]...)
	out = append(out, entry...)
	out = append(out, data[insertAt:]...)
	out[countAt+len(irot)]++
	grow := func(b box, by int) {
		if b.off >= ipco.off+ipco.size { // after the inserted irot
			b.off += len(irot)
		}
		be.PutUint32(out[b.off:], uint32(b.size+by))
	}
	grow(ipco, len(irot))
	grow(ipma, len(entry))
	grow(iprp, delta)
	grow(meta, delta)

	// iloc (before iprp in heif-enc's files, so not moved): shift offsets
	// into the file (construction method 0).
	if iloc.off > ipco.off {
		t.Fatal("want iloc before iprp")
	}
	p := iloc.body
	iv := out[p]
	p += 4
	offSize, lenSize := int(out[p]>>4), int(out[p]&15)
	baseSize, idxSize := int(out[p+1]>>4), int(out[p+1]&15)
	if iv == 0 {
		idxSize = 0
	}
	p += 2
	var items int
	if iv < 2 {
		items, p = int(be.Uint16(out[p:])), p+2
	} else {
		items, p = int(be.Uint32(out[p:])), p+4
	}
	shift := func(at, size int) {
		switch size {
		case 4:
			be.PutUint32(out[at:], be.Uint32(out[at:])+uint32(delta))
		case 8:
			be.PutUint64(out[at:], be.Uint64(out[at:])+uint64(delta))
		}
	}
	for it := 0; it < items; it++ {
		if iv < 2 {
			p += 2
		} else {
			p += 4
		}
		method := 0
		if iv >= 1 {
			method, p = int(be.Uint16(out[p:])&15), p+2
		}
		p += 2 // data reference index
		baseAt := p
		p += baseSize
		extents := int(be.Uint16(out[p:]))
		p += 2
		if method == 0 && baseSize > 0 {
			shift(baseAt, baseSize)
		}
		for x := 0; x < extents; x++ {
			p += idxSize
			if method == 0 && baseSize == 0 {
				shift(p, offSize)
			}
			p += offSize + lenSize
		}
	}
	return out
}

// exiftoolOrientation writes EXIF Orientation into a HEIF file with
// exiftool (Debian libimage-exiftool-perl), or skips.
func exiftoolOrientation(t *testing.T, data []byte, f Format, o int) []byte {
	t.Helper()
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	p := filepath.Join(t.TempDir(), "x"+Ext(f))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("exiftool", "-q", "-overwrite_original", "-n", "-Orientation="+string(rune('0'+o)), p).CombinedOutput(); err != nil {
		t.Fatalf("exiftool: %v\n%s", err, b)
	}
	b, err := exec.Command("exiftool", "-s3", "-n", "-Orientation", p).Output()
	if err != nil || strings.TrimSpace(string(b)) != string(rune('0'+o)) {
		t.Fatalf("exiftool did not write Orientation %d: %q %v", o, b, err)
	}
	out, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// HEIF orientation is its irot/imir transform, which libheif applies; the
// EXIF Orientation a phone also writes describes the same turn and must
// not be applied a second time (nor alone: HEIF says it is informative).
func TestHEIFOrientation(t *testing.T) {
	for _, f := range []Format{HEIC, AVIF} {
		t.Run(string(f), func(t *testing.T) {
			var args []string
			if f == AVIF {
				args = []string{"-A"}
			}
			plain := heifEnc(t, pngBytes(t, cornerPhoto()), f, append(args, "-q", "95")...)
			// irot 1: 90° anticlockwise. Stored (x, y) shows at (y, 63-x)
			// of a 48x64 picture: the top-left corner goes bottom-left.
			rotated := heifWithRotation(t, plain, 1)
			h, err := Probe(bytes.NewReader(rotated))
			if err != nil || h.Width != 48 || h.Height != 64 || h.Orientation != 1 {
				t.Fatalf("Probe = %+v, %v: want 48x64 upright", h, err)
			}
			t.Run("irot", func(t *testing.T) {
				checkCorner(t, decodeBytes(t, rotated), 48, 64, image.Pt(4, 59), image.Pt(40, 4))
			})
			t.Run("irot and EXIF 8", func(t *testing.T) {
				// What a phone writes: the transform, and EXIF saying the same.
				img := decodeBytes(t, exiftoolOrientation(t, rotated, f, 8))
				checkCorner(t, img, 48, 64, image.Pt(4, 59), image.Pt(40, 4))
				if img.Orientation != 1 {
					t.Errorf("Orientation %d applied on top of irot", img.Orientation)
				}
			})
			t.Run("EXIF 6 alone", func(t *testing.T) {
				checkCorner(t, decodeBytes(t, exiftoolOrientation(t, plain, f, 6)), 64, 48, image.Pt(4, 4), image.Pt(50, 40))
			})
		})
	}
}

// The embedded ICC profile and an nclx colour description are honoured.
func TestHEIFColourProfiles(t *testing.T) {
	needLCMS(t)
	t.Run("ICC", func(t *testing.T) {
		icc := colordProfile(t, "SwappedRedAndGreen.icc")
		src := withICC(t, PNG, cornerPhoto(), icc)
		img := decodeBytes(t, heifEnc(t, src, HEIC, "-q", "95"))
		if !img.Colour.Converted || !bytes.Equal(img.Colour.Profile, icc) {
			t.Fatalf("colour %+v, warnings %q: want the PNG's profile, converted", img.Colour, img.Warnings)
		}
		if got := img.Pixels.NRGBAAt(50, 40); got.G < 150 || got.R > 80 {
			t.Errorf("red under SwappedRedAndGreen decoded to %v, want green", got)
		}
	})
	t.Run("nclx Display P3", func(t *testing.T) {
		p := color.NRGBA{200, 100, 80, 255}
		// AVIF: heif-enc writes a colr nclx box there (for HEIC, x265
		// codes it in the HEVC bitstream only, which libheif 1.15 does not
		// report). heif-enc 1.15 ignores --colour_primaries: the box is
		// set to Display P3 (primaries 12, sRGB curve 13) here.
		data := setNCLX(t, heifEnc(t, pngBytes(t, patchImage(64, 48, p, p)), AVIF, "-A", "-q", "100", "-p", "chroma=444"), 12, 13)
		img := decodeBytes(t, data)
		want := expectedSRGB(p, p3ToXYZ, srgbDecode)
		if got := img.Pixels.NRGBAAt(30, 30); !img.Colour.Converted || !near(got, want, 4) {
			t.Errorf("P3 %v: got sRGB %v (colour converted %t, warnings %q), want %v", p, got, img.Colour.Converted, img.Warnings, want)
		}
	})
	t.Run("nclx sRGB", func(t *testing.T) {
		data := setNCLX(t, heifEnc(t, pngBytes(t, cornerPhoto()), AVIF, "-A", "-q", "95"), 1, 13)
		if img := decodeBytes(t, data); img.Colour.Tagged() || img.Colour.Converted || len(img.Warnings) != 0 {
			t.Errorf("sRGB nclx: colour %+v warnings %q, want untouched", img.Colour, img.Warnings)
		}
	})
}

// --max-pixels is checked from the header: the error gives the size
// libheif read without decoding.
func TestHEIFMaxPixels(t *testing.T) {
	data := heifEnc(t, pngBytes(t, cornerPhoto()), HEIC, "-q", "50")
	_, err := Decode(bytes.NewReader(data), DecodeOptions{MaxPixels: 64*48 - 1})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "HEIC is 64x48") {
		t.Errorf("err = %v, want ErrTooLarge from the header", err)
	}
	if _, err := Decode(bytes.NewReader(data), DecodeOptions{MaxPixels: 64 * 48}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

// A file holding several images decodes its primary one.
func TestHEIFPrimaryImage(t *testing.T) {
	if !CanRead(HEIC) {
		t.Skip("built without libheif")
	}
	if _, err := exec.LookPath("heif-enc"); err != nil {
		t.Skip("heif-enc not installed")
	}
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	os.WriteFile(first, pngBytes(t, cornerPhoto()), 0o644)
	os.WriteFile(second, pngBytes(t, patchImage(32, 32, cornerBlue, cornerBlue)), 0o644)
	out := filepath.Join(dir, "two.heic")
	if b, err := exec.Command("heif-enc", "-q", "90", "-o", out, first, second).CombinedOutput(); err != nil {
		t.Fatalf("heif-enc: %v\n%s", err, b)
	}
	data, _ := os.ReadFile(out)
	if info, err := exec.Command("heif-info", out).Output(); err == nil && !bytes.Contains(info, []byte("64x48")) {
		t.Fatalf("heif-info does not list the first image:\n%s", info)
	}
	checkCorner(t, decodeBytes(t, data), 64, 48, image.Pt(4, 4), image.Pt(50, 40))
}

// setNCLX rewrites the colour primaries and transfer characteristic of
// the (first) colr nclx box of a HEIF file.
func setNCLX(t *testing.T, data []byte, primaries, transfer uint16) []byte {
	t.Helper()
	i := bytes.Index(data, []byte("colrnclx"))
	if i < 0 {
		t.Fatal("no colr nclx box")
	}
	out := bytes.Clone(data)
	binary.BigEndian.PutUint16(out[i+8:], primaries)
	binary.BigEndian.PutUint16(out[i+10:], transfer)
	return out
}

// BenchmarkDecodeHEIF12MP decodes a 4000x3000 photo as HEIC (8 and 10
// bits, made by heif-enc) and, for comparison in the same run, as a JPEG
// of the same pixels. The photo is $ANIMEGAN_BENCH_JPEG scaled to 12 MP
// when set, else a synthetic noisy gradient. Encoding the fixtures takes
// x265 a minute or two.
func BenchmarkDecodeHEIF12MP(b *testing.B) {
	if !CanRead(HEIC) {
		b.Skip("built without libheif")
	}
	if _, err := exec.LookPath("heif-enc"); err != nil {
		b.Skip("heif-enc not installed")
	}
	src := noisyImage(4000, 3000, 3)
	if p := os.Getenv("ANIMEGAN_BENCH_JPEG"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		img, err := Decode(bytes.NewReader(data), DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		src = Resize(img.Pixels, 4000, 3000)
	}
	deep := image.NewNRGBA64(src.Rect)
	for i := 0; i < len(src.Pix); i++ {
		deep.Pix[2*i], deep.Pix[2*i+1] = src.Pix[i], src.Pix[i]
	}
	dir := b.TempDir()
	enc := func(name string, img image.Image, args ...string) []byte {
		in, out := filepath.Join(dir, name+".png"), filepath.Join(dir, name+".heic")
		f, err := os.Create(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(f, img); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if out, err := exec.Command("heif-enc", append(args, "-o", out, in)...).CombinedOutput(); err != nil {
			b.Fatalf("heif-enc: %v\n%s", err, out)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	var jpg bytes.Buffer
	if err := Encode(&jpg, src, JPEG, 90); err != nil {
		b.Fatal(err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"heic-8bit", enc("8bit", src, "-q", "85")},
		{"heic-10bit", enc("10bit", deep, "-q", "85", "-b", "10")},
		{"jpeg", jpg.Bytes()},
	}
	for _, f := range files {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(f.data), DecodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A phone HEIC's EXIF (date, camera, GPS) and XMP are read for the output,
// from the file's Exif and XMP items.
func TestHEIFMetadata(t *testing.T) {
	data := heifEnc(t, pngBytes(t, cornerPhoto()), HEIC, "-q", "50")
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	p := filepath.Join(t.TempDir(), "meta.heic")
	os.WriteFile(p, data, 0o644)
	if b, err := exec.Command("exiftool", "-q", "-overwrite_original", "-Make=TestPhone", "-DateTimeOriginal=2024:05:06 07:08:09",
		"-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-XMP-dc:Title=Tower", p).CombinedOutput(); err != nil {
		t.Fatalf("exiftool: %v\n%s", err, b)
	}
	data, _ = os.ReadFile(p)
	img, err := Decode(bytes.NewReader(data), DecodeOptions{Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if img.Metadata == nil || img.Metadata.EXIF == nil {
		t.Fatalf("no EXIF read (warnings %q)", img.Warnings)
	}
	e := img.Metadata.EXIF
	if s, _ := e.String(IFD0, 0x010F); s != "TestPhone" {
		t.Errorf("Make %q", s)
	}
	if s, _ := e.String(ExifIFD, 0x9003); s != "2024:05:06 07:08:09" {
		t.Errorf("DateTimeOriginal %q", s)
	}
	if r, ok := e.Rationals(GPSIFD, 0x0002); !ok || len(r) != 3 || r[0][0]/max(r[0][1], 1) != 48 {
		t.Errorf("GPSLatitude %v", r)
	}
	if !bytes.Contains(img.Metadata.XMP, []byte("Tower")) {
		t.Errorf("XMP %q", img.Metadata.XMP)
	}
}
