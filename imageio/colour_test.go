package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
)

const colordDir = "/usr/share/color/icc/colord/"

// colordProfile reads one of Debian colord-data's ICC profiles, or skips.
func colordProfile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(colordDir + name)
	if err != nil {
		t.Skipf("%s not installed (Debian colord-data): %v", name, err)
	}
	return b
}

func needLCMS(t *testing.T) {
	t.Helper()
	if !ColourAvailable {
		t.Skip("built without lcms2")
	}
}

// patchImage is w x h of colour c with a 4x4 patch of colour p at the top left.
func patchImage(w, h int, c, p color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x < 4 && y < 4 {
				img.SetNRGBA(x, y, p)
			} else {
				img.SetNRGBA(x, y, c)
			}
		}
	}
	return img
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withICC embeds icc into an image file the way each format carries it,
// using the package's own writers (which TestICCWritersRoundTrip checks).
func withICC(t testing.TB, f Format, img *image.NRGBA, icc []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeWith(&buf, img, f, EncodeOptions{Quality: 100, ICC: icc}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) int { return int(math.Abs(float64(int(x) - int(y)))) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol && d(a.A, b.A) <= tol
}

// The case: a red patch in a PNG tagged with a profile that swaps
// red and green is green as displayed, and must reach the model green.
func TestColourSwappedRedAndGreen(t *testing.T) {
	needLCMS(t)
	icc := colordProfile(t, "SwappedRedAndGreen.icc")
	red, blue := color.NRGBA{220, 20, 20, 255}, color.NRGBA{20, 20, 220, 255}
	src := patchImage(16, 12, blue, red)
	formats := []Format{PNG, JPEG}
	if CanWrite(WebP) {
		formats = append(formats, WebP)
	}
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			img := decodeBytes(t, withICC(t, f, src, icc))
			if !img.Colour.Converted || !img.Colour.Tagged() || len(img.Warnings) != 0 {
				t.Fatalf("colour %+v, warnings %q: want converted", img.Colour, img.Warnings)
			}
			got := img.Pixels.NRGBAAt(1, 1)
			if got.G < 150 || got.R > 80 {
				t.Errorf("red patch under SwappedRedAndGreen decoded to %v, want green", got)
			}
			if got := img.Pixels.NRGBAAt(12, 8); got.B < 150 || got.R > 80 || got.G > 80 {
				t.Errorf("blue background decoded to %v, want blue still", got)
			}
		})
	}
}

// The same profile in a TIFF (tag 34675).
func TestColourTIFFProfile(t *testing.T) {
	needLCMS(t)
	icc := colordProfile(t, "SwappedRedAndGreen.icc")
	pix := bytes.Repeat([]byte{220, 20, 20}, 4*4)
	tif := tiffWithTag(writeTIFF(4, 4, 3, 2, pix, 0), tagICCProfile, icc)
	img := decodeBytes(t, tif)
	if got := img.Pixels.NRGBAAt(2, 2); !img.Colour.Converted || got.G < 150 || got.R > 80 {
		t.Errorf("TIFF red under SwappedRedAndGreen: %v (colour %+v, warnings %q), want green", got, img.Colour, img.Warnings)
	}
}

// tiffWithTag rewrites the first IFD of a TIFF from writeTIFF with one more
// UNDEFINED tag whose data goes at the end of the file.
func tiffWithTag(tif []byte, tag uint16, data []byte) []byte {
	bo := binary.LittleEndian
	ifd := int(bo.Uint32(tif[4:]))
	n := int(bo.Uint16(tif[ifd:]))
	entries := make([][]byte, 0, n+1)
	for i := 0; i < n; i++ {
		entries = append(entries, tif[ifd+2+12*i:ifd+14+12*i])
	}
	out := bytes.Clone(tif)
	newIFD := len(out)
	dataAt := newIFD + 2 + 12*(n+1) + 4
	e := make([]byte, 12)
	bo.PutUint16(e, tag)
	bo.PutUint16(e[2:], 7)
	bo.PutUint32(e[4:], uint32(len(data)))
	bo.PutUint32(e[8:], uint32(dataAt))
	entries = append(entries, e) // tags stay sorted: 34675 is the highest
	out = bo.AppendUint16(out, uint16(n+1))
	for _, e := range entries {
		out = append(out, e...)
	}
	out = bo.AppendUint32(out, 0)
	out = append(out, data...)
	bo.PutUint32(out[4:], uint32(newIFD))
	return out
}

// xyzMatrix is an RGB space's linear-RGB to XYZ (D65) matrix.
type xyzMatrix [3][3]float64

var (
	adobeRGBToXYZ = xyzMatrix{{0.5767309, 0.1855540, 0.1881852}, {0.2973769, 0.6273491, 0.0752741}, {0.0270343, 0.0706872, 0.9911085}}
	p3ToXYZ       = xyzMatrix{{0.4865709, 0.2656677, 0.1982173}, {0.2289746, 0.6917385, 0.0792869}, {0, 0.0451134, 1.0439444}}
	xyzToSRGB     = xyzMatrix{{3.2404542, -1.5371385, -0.4985314}, {-0.9692660, 1.8760108, 0.0415560}, {0.0556434, -0.2040259, 1.0572252}}
)

func (m xyzMatrix) apply(v [3]float64) [3]float64 {
	var o [3]float64
	for i := range o {
		o[i] = m[i][0]*v[0] + m[i][1]*v[1] + m[i][2]*v[2]
	}
	return o
}

func srgbDecode(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

func srgbEncode(v float64) uint8 {
	if v <= 0.0031308 {
		v *= 12.92
	} else {
		v = 1.055*math.Pow(v, 1/2.4) - 0.055
	}
	return uint8(math.Round(math.Max(0, math.Min(1, v)) * 255))
}

// expectedSRGB computes, independently of lcms2, the sRGB value of a
// colour c in a space given by its matrix and its tone curve.
func expectedSRGB(c color.NRGBA, m xyzMatrix, decode func(float64) float64) color.NRGBA {
	lin := [3]float64{decode(float64(c.R) / 255), decode(float64(c.G) / 255), decode(float64(c.B) / 255)}
	s := xyzToSRGB.apply(m.apply(lin))
	return color.NRGBA{srgbEncode(s[0]), srgbEncode(s[1]), srgbEncode(s[2]), 255}
}

// Photos from cameras (Adobe RGB) and phones (Display P3) shift by the
// amount colour science says: each patch comes out at the sRGB value
// computed here from the spaces' published matrices.
func TestColourWideGamutShifts(t *testing.T) {
	needLCMS(t)
	p3, err := rgbProfile([8]float64{0.3127, 0.3290, 0.680, 0.320, 0.265, 0.690, 0.150, 0.060},
		parametricCurve{4, []float64{2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045}}, "Display P3 (test)")
	if err != nil {
		t.Fatal(err)
	}
	adobeGamma := func(v float64) float64 { return math.Pow(v, 563.0/256) }
	patches := []color.NRGBA{{200, 100, 80, 255}, {90, 160, 110, 255}, {120, 110, 190, 255}, {128, 128, 128, 255}}
	cases := []struct {
		name   string
		icc    func(t *testing.T) []byte
		m      xyzMatrix
		decode func(float64) float64
	}{
		{"AdobeRGB1998", func(t *testing.T) []byte { return colordProfile(t, "AdobeRGB1998.icc") }, adobeRGBToXYZ, adobeGamma},
		{"DisplayP3", func(*testing.T) []byte { return p3 }, p3ToXYZ, srgbDecode},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			icc := c.icc(t)
			for _, p := range patches {
				img := decodeBytes(t, withICC(t, PNG, patchImage(8, 8, p, p), icc))
				got, want := img.Pixels.NRGBAAt(3, 3), expectedSRGB(p, c.m, c.decode)
				if !img.Colour.Converted || !near(got, want, 2) {
					t.Errorf("%v in %s: got sRGB %v, want %v (converted %t)", p, c.name, got, want, img.Colour.Converted)
				}
			}
			// Saturated colours really move: the profile was not ignored.
			p := color.NRGBA{200, 100, 80, 255}
			if got := decodeBytes(t, withICC(t, PNG, patchImage(8, 8, p, p), icc)).Pixels.NRGBAAt(0, 0); near(got, p, 3) {
				t.Errorf("%v in %s came out unchanged", p, c.name)
			}
		})
	}
}

// An sRGB-tagged photo is not transformed (fast path): pixels exactly as stored.
func TestColourSRGBProfileFastPath(t *testing.T) {
	icc := colordProfile(t, "sRGB.icc")
	src := patchImage(8, 8, color.NRGBA{13, 200, 77, 255}, color.NRGBA{250, 3, 128, 255})
	img := decodeBytes(t, withICC(t, PNG, src, icc))
	if img.Colour.Converted || !img.Colour.Tagged() || len(img.Warnings) != 0 {
		t.Fatalf("colour %+v warnings %q: want tagged sRGB, not converted", img.Colour, img.Warnings)
	}
	if !bytes.Equal(img.Pixels.Pix, src.Pix) {
		t.Error("an sRGB photo's pixels changed")
	}
	if SRGBProfile() != nil {
		if in, err := parseICC(SRGBProfile()); err != nil || !in.srgb {
			t.Errorf("lcms2's sRGB profile not recognised as sRGB: %+v %v", in, err)
		}
	}
}

// A broken profile is a warning and the photo is read as sRGB.
func TestColourBrokenProfile(t *testing.T) {
	src := patchImage(8, 8, color.NRGBA{200, 30, 30, 255}, color.NRGBA{30, 30, 200, 255})
	good, _ := os.ReadFile(colordDir + "AdobeRGB1998.icc")
	cases := map[string][]byte{
		"garbage":     bytes.Repeat([]byte("not a profile "), 20),
		"short":       []byte("ICC"),
		"wrong space": iccWithSpace(good, "Lab "),
	}
	if good != nil {
		cases["truncated"] = good[:len(good)/2]
		bad := bytes.Clone(good)
		for i := 132; i < len(bad); i++ {
			bad[i] = 0xFF // tag table and data destroyed
		}
		cases["mangled tags"] = bad
	}
	for name, icc := range cases {
		t.Run(name, func(t *testing.T) {
			if icc == nil {
				t.Skip("no colord-data")
			}
			img := decodeBytes(t, withICC(t, PNG, src, icc))
			if img.Colour.Converted || img.Colour.Tagged() {
				t.Errorf("colour %+v: a broken profile must not be used", img.Colour)
			}
			if len(img.Warnings) != 1 || !strings.Contains(img.Warnings[0], "colour profile ignored, colours read as sRGB") {
				t.Errorf("warnings %q: want one saying the profile was ignored", img.Warnings)
			}
			if !bytes.Equal(img.Pixels.Pix, src.Pix) {
				t.Error("pixels changed: want them read as sRGB")
			}
		})
	}
	// A JPEG whose ICC_PROFILE segments are incomplete.
	jpg := withICC(t, JPEG, src, bytes.Repeat([]byte{1}, 70000))
	i := bytes.Index(jpg, []byte("ICC_PROFILE\x00\x02\x02"))
	jpg[i+len("ICC_PROFILE\x00")] = 3 // segment 2 of 2 becomes 3 of 2
	img := decodeBytes(t, jpg)
	if len(img.Warnings) != 1 || !strings.Contains(img.Warnings[0], "misnumbered") {
		t.Errorf("warnings %q: want the misnumbered segments named", img.Warnings)
	}
}

func iccWithSpace(icc []byte, space string) []byte {
	if len(icc) < 132 {
		return nil
	}
	b := bytes.Clone(icc)
	copy(b[16:20], space)
	return b
}

// greyProfile is a minimal ICC v2 grey profile whose tone curve is linear
// (gamma 1.0): a stored 128 is half the light, sRGB 188.
func greyProfile() []byte {
	trc := []byte("curv\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00") // one entry: gamma 1.0 (u8Fixed8)
	return iccProfile("mntr", "GRAY", []string{"desc", "wtpt", "kTRC"},
		[][]byte{iccDesc("grey 1.0"), iccXYZ(0.9642, 1, 0.8249), trc})
}

// A grey photo with a grey profile: linear grey 128 is sRGB 188.
func TestColourGreyProfile(t *testing.T) {
	needLCMS(t)
	g := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range g.Pix {
		g.Pix[i] = 128
	}
	b := insertPNGChunk(pngBytes(t, g), "iCCP", append([]byte("grey\x00\x00"), zlibBytes(greyProfile())...))
	img := decodeBytes(t, b)
	got := img.Pixels.NRGBAAt(4, 4)
	want := color.NRGBA{srgbEncode(128.0 / 255), srgbEncode(128.0 / 255), srgbEncode(128.0 / 255), 255}
	if !img.Colour.Converted || img.Colour.Space != SpaceGrey || !near(got, want, 2) {
		t.Errorf("grey 128 with a linear grey profile: got %v (colour %+v, warnings %q), want %v", got, img.Colour, img.Warnings, want)
	}
	// The same profile on colour pixels does not fit them: a warning.
	rgb := insertPNGChunk(pngBytes(t, patchImage(8, 8, color.NRGBA{200, 10, 10, 255}, color.NRGBA{10, 10, 200, 255})), "iCCP",
		append([]byte("grey\x00\x00"), zlibBytes(greyProfile())...))
	if img := decodeBytes(t, rgb); img.Colour.Converted || len(img.Warnings) != 1 {
		t.Errorf("grey profile on colour pixels: colour %+v warnings %q, want ignored with a warning", img.Colour, img.Warnings)
	}
}

func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

// Profiles written into outputs come back byte for byte, in every format,
// including one too big for a single JPEG segment.
func TestICCWritersRoundTrip(t *testing.T) {
	big := make([]byte, 150000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	img := patchImage(8, 8, color.NRGBA{1, 2, 3, 255}, color.NRGBA{4, 5, 6, 255})
	formats := []Format{JPEG, PNG}
	if CanWrite(WebP) {
		formats = append(formats, WebP)
	}
	for _, f := range formats {
		for _, icc := range [][]byte{big, []byte("tiny profile!")} {
			b := withICC(t, f, img, icc)
			rc := &recorder{r: bytes.NewReader(b)}
			rc.readWhole(1 << 30)
			ps := readProfile(f, rc)
			if ps.err != nil || !bytes.Equal(ps.icc, icc) {
				t.Errorf("%s: %d-byte profile read back as %d bytes (err %v)", f, len(icc), len(ps.icc), ps.err)
			}
			if _, err := Decode(bytes.NewReader(b), DecodeOptions{}); err != nil {
				t.Errorf("%s with a profile does not decode: %v", f, err)
			}
		}
	}
}

// --color input: a result converted back into the photo's profile and
// read through it again is the sRGB result, within rounding.
func TestFromSRGBRoundTrip(t *testing.T) {
	needLCMS(t)
	icc := colordProfile(t, "AdobeRGB1998.icc")
	src := patchImage(8, 8, color.NRGBA{180, 90, 60, 255}, color.NRGBA{40, 160, 200, 128})
	out := image.NewNRGBA(src.Rect)
	copy(out.Pix, src.Pix)
	if err := FromSRGB(out, icc); err != nil {
		t.Fatal(err)
	}
	if near(out.NRGBAAt(6, 6), src.NRGBAAt(6, 6), 3) {
		t.Errorf("FromSRGB left %v unchanged", src.NRGBAAt(6, 6))
	}
	if out.NRGBAAt(0, 0).A != 128 {
		t.Errorf("alpha changed to %d", out.NRGBAAt(0, 0).A)
	}
	back := decodeBytes(t, withICC(t, PNG, out, icc))
	for _, p := range []image.Point{{0, 0}, {6, 6}} {
		// lcms2's 8-bit transforms interpolate in tables: a few levels.
		if got, want := back.Pixels.NRGBAAt(p.X, p.Y), src.NRGBAAt(p.X, p.Y); !near(got, want, 3) {
			t.Errorf("round trip at %v: %v, want %v", p, got, want)
		}
	}
	if err := FromSRGB(out, greyProfile()); err == nil {
		t.Error("FromSRGB into a grey profile: want an error")
	}
}

func TestParseICCErrors(t *testing.T) {
	for name, b := range map[string][]byte{"empty": nil, "short": make([]byte, 100), "no acsp": make([]byte, 200)} {
		if _, err := parseICC(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := parseICC(greyProfile()); err != nil {
		t.Errorf("grey profile: %v", err)
	}
}

// cmykProfile is a minimal ICC v2 CMYK printer profile whose A2B0 table
// (lut16, a 2-point grid: only the corners of the CMYK cube) maps each
// corner to the naive CMYK colour, except pure cyan ink, which it says
// prints green. A photo read through it shows the profile was used.
func cmykProfile() []byte {
	be := binary.BigEndian
	// sRGB (linear, 0 or 1 at the corners) to the PCS, XYZ D50.
	toXYZ := func(r, g, b float64) [3]float64 {
		return [3]float64{
			0.4361*r + 0.3851*g + 0.1431*b,
			0.2225*r + 0.7169*g + 0.0606*b,
			0.0139*r + 0.0971*g + 0.7141*b,
		}
	}
	lut := []byte("mft2\x00\x00\x00\x00")
	lut = append(lut, 4, 3, 2, 0)
	for i := 0; i < 9; i++ { // identity matrix (s15Fixed16)
		v := uint32(0)
		if i%4 == 0 {
			v = 0x10000
		}
		lut = be.AppendUint32(lut, v)
	}
	lut = be.AppendUint16(lut, 2)
	lut = be.AppendUint16(lut, 2)
	for i := 0; i < 4; i++ {
		lut = be.AppendUint16(lut, 0)
		lut = be.AppendUint16(lut, 0xFFFF)
	}
	for n := 0; n < 16; n++ { // c slowest, then m, y, k
		c, m, y, k := float64(n>>3&1), float64(n>>2&1), float64(n>>1&1), float64(n&1)
		r, g, b := (1-c)*(1-k), (1-m)*(1-k), (1-y)*(1-k)
		if c == 1 && m == 0 && y == 0 && k == 0 {
			r, g, b = 0, 1, 0
		}
		for _, v := range toXYZ(r, g, b) {
			lut = be.AppendUint16(lut, uint16(math.Round(v*32768)))
		}
	}
	for i := 0; i < 3; i++ {
		lut = be.AppendUint16(lut, 0)
		lut = be.AppendUint16(lut, 0xFFFF)
	}
	return iccProfile("prtr", "CMYK", []string{"desc", "wtpt", "A2B0"},
		[][]byte{iccDesc("cyan prints green"), iccXYZ(0.9642, 1, 0.8249), lut})
}

func iccDesc(s string) []byte {
	b := append([]byte("desc\x00\x00\x00\x00"), binary.BigEndian.AppendUint32(nil, uint32(len(s)+1))...)
	b = append(b, s...)
	return append(b, make([]byte, 1+4+4+2+1+67)...)
}

func iccXYZ(x, y, z float64) []byte {
	b := []byte("XYZ \x00\x00\x00\x00")
	for _, v := range []float64{x, y, z} {
		b = binary.BigEndian.AppendUint32(b, uint32(int32(math.Round(v*65536))))
	}
	return b
}

// iccProfile assembles an ICC v2.1 profile with a D50 illuminant and an
// XYZ PCS from its tags.
func iccProfile(class, space string, sigs []string, bodies [][]byte) []byte {
	be := binary.BigEndian
	hdr := make([]byte, 128)
	copy(hdr[4:], "lcms")
	be.PutUint32(hdr[8:], 0x02100000)
	copy(hdr[12:], class)
	copy(hdr[16:], space)
	copy(hdr[20:], "XYZ ")
	copy(hdr[36:], "acsp")
	be.PutUint32(hdr[68:], 63190) // D50
	be.PutUint32(hdr[72:], 65536)
	be.PutUint32(hdr[76:], 54061)
	out := append(hdr, be.AppendUint32(nil, uint32(len(sigs)))...)
	off := 128 + 4 + 12*len(sigs)
	var data []byte
	for i, s := range sigs {
		out = append(out, s...)
		out = be.AppendUint32(out, uint32(off+len(data)))
		out = be.AppendUint32(out, uint32(len(bodies[i])))
		data = append(data, bodies[i]...)
		for len(data)%4 != 0 {
			data = append(data, 0)
		}
	}
	out = append(out, data...)
	be.PutUint32(out[0:], uint32(len(out)))
	return out
}

// A CMYK JPEG (Adobe's inverted storage, undone by the decoder) with a
// CMYK profile is read through the profile, not the naive formula.
func TestColourCMYKProfile(t *testing.T) {
	needLCMS(t)
	blocks := func(bx, by int) [4]uint8 {
		if bx == 0 {
			return [4]uint8{255, 0, 0, 0} // cyan ink
		}
		return [4]uint8{0, 0, 0, 0} // paper
	}
	plain := cmykJPEG(2, 1, blocks)
	tagged := append(append(bytes.Clone(plain[:2]), jpegICCSegments(cmykProfile())...), plain[2:]...)
	if got := decodeBytes(t, plain).Pixels.NRGBAAt(4, 4); !near(got, color.NRGBA{0, 255, 255, 255}, 2) {
		t.Fatalf("untagged cyan ink: %v, want the naive cyan", got)
	}
	img := decodeBytes(t, tagged)
	if !img.Colour.Converted || img.Colour.Space != SpaceCMYK {
		t.Fatalf("colour %+v, warnings %q: want converted from CMYK", img.Colour, img.Warnings)
	}
	if got := img.Pixels.NRGBAAt(4, 4); !near(got, color.NRGBA{0, 255, 0, 255}, 3) {
		t.Errorf("cyan ink under a profile printing it green: %v", got)
	}
	if got := img.Pixels.NRGBAAt(12, 4); !near(got, color.NRGBA{255, 255, 255, 255}, 3) {
		t.Errorf("paper: %v, want white", got)
	}
	// Orientation is applied after the CMYK conversion.
	rotated := decodeBytes(t, withEXIF(tagged, 6, false))
	if b := rotated.Pixels.Bounds(); b.Dx() != 8 || b.Dy() != 16 {
		t.Fatalf("rotated: %v", b)
	}
	if got := rotated.Pixels.NRGBAAt(4, 4); !near(got, color.NRGBA{0, 255, 0, 255}, 3) {
		t.Errorf("rotated: cyan block at the top: %v, want green", got)
	}
}

// BenchmarkColourToSRGB12MP converts a 4000x3000 image from Adobe RGB to
// sRGB in place, as Decode does for a tagged photo (the fast path skips
// this for sRGB profiles).
func BenchmarkColourToSRGB12MP(b *testing.B) {
	if !ColourAvailable {
		b.Skip("built without lcms2")
	}
	icc, err := os.ReadFile(colordDir + "AdobeRGB1998.icc")
	if err != nil {
		b.Skip("colord-data not installed")
	}
	img := noisyImage(4000, 3000, 4)
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		if err := transformToSRGB(img, icc, SpaceRGB); err != nil {
			b.Fatal(err)
		}
	}
}
