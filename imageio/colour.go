package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"strings"
)

// Colour management: a photo with an embedded colour profile (ICC, or a
// HEIF nclx description) is converted to sRGB when it is decoded, because
// models are trained on sRGB photos and everything after decoding assumes
// sRGB. Conversions use Little CMS 2 (icc_cgo.go); a binary built without
// it reads every photo as sRGB and says so in a warning.

// ColourSpace is the colour space of an ICC profile's data.
type ColourSpace string

// The spaces a photo's profile may describe.
const (
	SpaceRGB  ColourSpace = "RGB"
	SpaceGrey ColourSpace = "GRAY"
	SpaceCMYK ColourSpace = "CMYK"
)

// Colour says how a decoded photo's colours were read.
type Colour struct {
	// Profile is the photo's own ICC profile as embedded (for HEIF with an
	// nclx description, one made from it), nil when it has none or the
	// profile was unusable.
	Profile []byte
	// Space is the profile's colour space ("" without a profile).
	Space ColourSpace
	// Description is the profile's name ("Adobe RGB (1998)"), when it has one.
	Description string
	// Converted is true when the pixels were converted from Profile to
	// sRGB. It is false for a profile that is sRGB already (nothing to
	// do), without a profile, and in a binary built without lcms2.
	Converted bool
}

// Tagged says whether the photo came with a usable profile.
func (c Colour) Tagged() bool { return c.Profile != nil }

// ColourAvailable says whether this binary converts colour profiles
// (Little CMS 2 is linked in).
const ColourAvailable = lcmsAvailable

// iccInfo is what the header and tag table of an ICC profile say.
type iccInfo struct {
	space ColourSpace
	class string // "mntr", "scnr", "prtr", ...
	desc  string
	srgb  bool // colorants and name of sRGB: no conversion needed
}

// parseICC checks an ICC profile's header and tag table (ICC.1:2010 §7)
// and reads what colour management needs from it. A profile lcms2 would
// reject later is caught here when the damage is in its structure.
func parseICC(b []byte) (iccInfo, error) {
	if len(b) < 132 {
		return iccInfo{}, errors.New("shorter than an ICC header")
	}
	if string(b[36:40]) != "acsp" {
		return iccInfo{}, errors.New("no ICC signature")
	}
	if n := binary.BigEndian.Uint32(b[0:4]); int64(n) > int64(len(b)) {
		return iccInfo{}, fmt.Errorf("header says %d bytes, %d present", n, len(b))
	}
	var in iccInfo
	switch sp := string(b[16:20]); sp {
	case "RGB ":
		in.space = SpaceRGB
	case "GRAY":
		in.space = SpaceGrey
	case "CMYK":
		in.space = SpaceCMYK
	default:
		return iccInfo{}, fmt.Errorf("colour space %q is not RGB, grey or CMYK", strings.TrimSpace(sp))
	}
	in.class = string(b[12:16])
	n := int(binary.BigEndian.Uint32(b[128:132]))
	if n > (len(b)-132)/12 {
		return iccInfo{}, fmt.Errorf("tag table of %d entries overruns the profile", n)
	}
	tags := make(map[string][]byte, n)
	for i := 0; i < n; i++ {
		e := b[132+12*i:]
		off, size := int64(binary.BigEndian.Uint32(e[4:8])), int64(binary.BigEndian.Uint32(e[8:12]))
		if off+size > int64(len(b)) || size < 8 {
			return iccInfo{}, fmt.Errorf("tag %q overruns the profile", string(e[0:4]))
		}
		tags[string(e[0:4])] = b[off : off+size]
	}
	in.desc = iccText(tags["desc"])
	in.srgb = in.space == SpaceRGB && hasSRGBColorants(tags) &&
		strings.Contains(strings.ToLower(in.desc), "srgb")
	return in, nil
}

// iccText reads a textDescriptionType (ICC v2) or the first record of a
// multiLocalizedUnicodeType (v4).
func iccText(t []byte) string {
	switch {
	case len(t) >= 12 && string(t[:4]) == "desc":
		n := int(binary.BigEndian.Uint32(t[8:12]))
		if n > 0 && 12+n <= len(t) {
			return strings.TrimRight(string(t[12:12+n]), "\x00")
		}
	case len(t) >= 28 && string(t[:4]) == "mluc":
		size, off := int(binary.BigEndian.Uint32(t[20:24])), int(binary.BigEndian.Uint32(t[24:28]))
		if off+size <= len(t) {
			u := t[off : off+size]
			r := make([]rune, 0, len(u)/2)
			for i := 0; i+1 < len(u); i += 2 {
				r = append(r, rune(binary.BigEndian.Uint16(u[i:])))
			}
			return strings.TrimRight(string(r), "\x00")
		}
	}
	return ""
}

// srgbColorants are sRGB's primaries adapted to the ICC's D50 white, as
// every sRGB profile stores them in rXYZ, gXYZ and bXYZ.
var srgbColorants = map[string][3]float64{
	"rXYZ": {0.4361, 0.2225, 0.0139},
	"gXYZ": {0.3851, 0.7169, 0.0971},
	"bXYZ": {0.1431, 0.0606, 0.7141},
}

func hasSRGBColorants(tags map[string][]byte) bool {
	for sig, want := range srgbColorants {
		t := tags[sig]
		if len(t) < 20 || string(t[:4]) != "XYZ " {
			return false
		}
		for i := 0; i < 3; i++ {
			v := float64(int32(binary.BigEndian.Uint32(t[8+4*i:]))) / 65536
			if math.Abs(v-want[i]) > 0.003 {
				return false
			}
		}
	}
	return true
}

// profileSource is where a photo's profile came from, for warnings.
type profileSource struct {
	icc []byte
	err error // a profile was there but could not be read
}

var iccPrefix = []byte("ICC_PROFILE\x00")

// jpegICC reassembles the ICC profile a JPEG carries in APP2 segments
// ("ICC_PROFILE\0", sequence number, count, data), which all precede the
// frame header. b is the prefix Probe read.
func jpegICC(b []byte) profileSource {
	var chunks [][]byte
	count := 0
	for seg, err := range jpegSegments(b) {
		if err != nil || seg.Marker == markerSOS || isFrameHeader(seg.Marker) {
			break // no APP2 can follow a frame header
		}
		if p := seg.Payload; seg.Marker == 0xE2 && bytes.HasPrefix(p, iccPrefix) && len(p) >= len(iccPrefix)+2 {
			seq, cnt := int(p[len(iccPrefix)]), int(p[len(iccPrefix)+1])
			if cnt == 0 || seq == 0 || seq > cnt || (count != 0 && cnt != count) {
				return profileSource{err: errors.New("ICC_PROFILE segments are misnumbered")}
			}
			if chunks == nil {
				count = cnt
				chunks = make([][]byte, cnt)
			}
			chunks[seq-1] = p[len(iccPrefix)+2:]
		}
	}
	if chunks == nil {
		return profileSource{}
	}
	var icc []byte
	for i, c := range chunks {
		if c == nil {
			return profileSource{err: fmt.Errorf("ICC_PROFILE segment %d of %d is missing", i+1, count)}
		}
		icc = append(icc, c...)
	}
	return profileSource{icc: icc}
}

const maxInt = int64(^uint(0) >> 1)

// maxProfile bounds an embedded profile (inflated): real ones are a few
// hundred bytes (matrix/TRC) to a few MB (printer LUTs).
const maxProfile = 16 << 20

// scanPNGICC reads the iCCP chunk (name, 0, method 0, zlib data), which
// precedes PLTE and IDAT, reading more of the stream as needed.
func scanPNGICC(rc *recorder) profileSource {
	for i := 8; rc.ensure(i + 8); {
		n := int64(binary.BigEndian.Uint32(rc.buf[i:]))
		typ := string(rc.buf[i+4 : i+8])
		if typ == "IDAT" || typ == "IEND" || typ == "PLTE" || n > maxProfile {
			return profileSource{}
		}
		if typ == "iCCP" {
			if !rc.ensure(i + 12 + int(n)) {
				return profileSource{err: errors.New("iCCP chunk is cut short")}
			}
			body := rc.buf[i+8 : i+8+int(n)]
			z := bytes.IndexByte(body, 0)
			if z < 0 || z+2 > len(body) || body[z+1] != 0 {
				return profileSource{err: errors.New("iCCP chunk is malformed")}
			}
			icc, err := inflateLimit(body[z+2:], maxProfile)
			if err != nil {
				return profileSource{err: fmt.Errorf("iCCP chunk: %w", err)}
			}
			return profileSource{icc: icc}
		}
		i += 12 + int(n)
	}
	return profileSource{}
}

// scanWebPICC reads the ICCP chunk of an extended WebP; it comes right
// after VP8X, before the image data.
func scanWebPICC(rc *recorder) profileSource {
	if !rc.ensure(21) || string(rc.buf[12:16]) != "VP8X" || rc.buf[20]&vp8xICC == 0 {
		return profileSource{}
	}
	for i := 12; rc.ensure(i + 8); {
		n := int64(binary.LittleEndian.Uint32(rc.buf[i+4:]))
		if n > maxProfile {
			break
		}
		if string(rc.buf[i:i+4]) == "ICCP" {
			if !rc.ensure(i + 8 + int(n)) {
				return profileSource{err: errors.New("ICCP chunk is cut short")}
			}
			return profileSource{icc: bytes.Clone(rc.buf[i+8 : i+8+int(n)])}
		}
		i += 8 + int(n) + int(n&1)
	}
	return profileSource{}
}

// tagICCProfile is TIFF's InterColorProfile tag.
const tagICCProfile = 34675

// tiffICC reads tag 34675 of a TIFF's first IFD, reading up to its data
// (which may follow the pixels).
func tiffICC(rc *recorder) profileSource {
	t := rc.buf
	if len(t) < 8 {
		return profileSource{}
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return profileSource{}
	}
	ifd := int64(bo.Uint32(t[4:8]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return profileSource{}
	}
	n := int64(bo.Uint16(t[ifd:]))
	for i := int64(0); i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(t)) {
			break
		}
		if bo.Uint16(t[e:]) != tagICCProfile {
			continue
		}
		typ, count, off := bo.Uint16(t[e+2:]), int64(bo.Uint32(t[e+4:])), int64(bo.Uint32(t[e+8:]))
		if (typ != 7 && typ != 1) || count <= 4 || count > maxProfile || off+count > maxInt || !rc.ensure(int(off+count)) {
			return profileSource{err: errors.New("InterColorProfile tag is malformed")}
		}
		return profileSource{icc: bytes.Clone(rc.buf[off : off+count])}
	}
	return profileSource{}
}

// readProfile finds the embedded profile of a probed image. It runs
// before the stream is replayed for decoding, as it may read further.
func readProfile(f Format, rc *recorder) profileSource {
	switch f {
	case JPEG:
		return jpegICC(rc.buf)
	case PNG:
		return scanPNGICC(rc)
	case WebP:
		return scanWebPICC(rc)
	case TIFF:
		return tiffICC(rc)
	}
	return profileSource{}
}

// usableProfile checks a profile against the decoded pixels: it must be
// readable, and describe the space the decoder produced. On any problem
// the photo is read as sRGB, with a warning.
func usableProfile(ps profileSource, decoded ColourSpace) (iccInfo, string) {
	if ps.err != nil {
		return iccInfo{}, fmt.Sprintf("colour profile ignored, colours read as sRGB: %v", ps.err)
	}
	if ps.icc == nil {
		return iccInfo{}, ""
	}
	in, err := parseICC(ps.icc)
	if err != nil {
		return iccInfo{}, fmt.Sprintf("colour profile ignored, colours read as sRGB: broken ICC profile: %v", err)
	}
	if in.space != decoded && !(in.space == SpaceGrey && decoded == SpaceRGB) {
		return iccInfo{}, fmt.Sprintf("colour profile ignored, colours read as sRGB: a %s profile on %s pixels", in.space, decoded)
	}
	return in, ""
}

// decodedSpace is the colour space of the decoder's output.
func decodedSpace(m image.Image) ColourSpace {
	switch m.(type) {
	case *image.Gray, *image.Gray16:
		return SpaceGrey
	case *image.CMYK:
		return SpaceCMYK
	}
	return SpaceRGB
}

// isGrey reports whether every pixel of img has R = G = B.
func isGrey(img *image.NRGBA) bool {
	w := img.Rect.Dx()
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for i := 0; i < len(row); i += 4 {
			if row[i] != row[i+1] || row[i+1] != row[i+2] {
				return false
			}
		}
	}
	return true
}

// cmykProfiled says whether m is CMYK with a CMYK profile lcms2 can
// convert from: Decode then leaves the conversion to manageColour instead
// of making RGB out of the CMYK values naively.
func cmykProfiled(m image.Image, ps profileSource) bool {
	if _, ok := m.(*image.CMYK); !ok || ps.icc == nil || !lcmsAvailable {
		return false
	}
	in, err := parseICC(ps.icc)
	return err == nil && in.space == SpaceCMYK
}

// manageColour converts px, decoded from m (upright, 8 bits per channel),
// from the photo's profile to sRGB in place. For a CMYK image with a CMYK
// profile px is nil (cmykProfiled) and is made from m. It returns the
// image to use, what was done, and a warning.
func manageColour(ps profileSource, m image.Image, px *image.NRGBA, orientation int) (*image.NRGBA, Colour, string) {
	px, c, warn := applyProfile(ps, m, px, orientation)
	if px == nil {
		// The CMYK profile failed in lcms2: the naive conversion.
		px, _ = toNRGBA(m, orientation)
	}
	return px, c, warn
}

func applyProfile(ps profileSource, m image.Image, px *image.NRGBA, orientation int) (*image.NRGBA, Colour, string) {
	space := decodedSpace(m)
	in, warn := usableProfile(ps, space)
	if warn != "" || ps.icc == nil {
		return px, Colour{}, warn
	}
	c := Colour{Profile: ps.icc, Space: in.space, Description: in.desc}
	if in.srgb {
		return px, c, ""
	}
	if !lcmsAvailable {
		return px, Colour{}, fmt.Sprintf("colour profile %q ignored, colours read as sRGB: this binary was built without lcms2", in.desc)
	}
	var err error
	switch {
	case in.space == SpaceCMYK:
		var out *image.NRGBA
		if out, err = cmykToSRGB(m.(*image.CMYK), ps.icc); err == nil {
			if orientation > 1 {
				out = Orient(out, orientation)
			}
			px = out
		}
	case in.space == SpaceGrey && space == SpaceRGB && !isGrey(px):
		return px, Colour{}, "colour profile ignored, colours read as sRGB: a GRAY profile on colour pixels"
	default:
		err = transformToSRGB(px, ps.icc, in.space)
	}
	if err != nil {
		return px, Colour{}, fmt.Sprintf("colour profile %q ignored, colours read as sRGB: %v", in.desc, err)
	}
	c.Converted = true
	return px, c, ""
}

// SRGBProfile is an ICC profile of sRGB (made by lcms2), for tagging
// outputs; nil in a binary built without lcms2.
func SRGBProfile() []byte { return srgbProfile() }

// FromSRGB converts img, sRGB, into the RGB profile icc, in place: for
// outputs that keep their input's colour space (convert --color input).
// Grey and CMYK profiles are refused: results stay RGB.
func FromSRGB(img *image.NRGBA, icc []byte) error {
	in, err := parseICC(icc)
	if err != nil {
		return fmt.Errorf("colour profile: %w", err)
	}
	if in.space != SpaceRGB {
		return fmt.Errorf("colour profile %q is %s: the result stays sRGB", in.desc, in.space)
	}
	if in.srgb {
		return nil
	}
	if !lcmsAvailable {
		return errors.New("built without lcms2")
	}
	return transformFromSRGB(img, icc)
}

// inflateLimit inflates zlib data, refusing more than limit bytes.
func inflateLimit(b []byte, limit int64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("inflates to over %d bytes", limit)
	}
	return out, nil
}
