package imageio

import "fmt"

// HEIF stills (HEIC: HEVC-coded, the iPhone's default; AVIF: AV1-coded)
// are decoded by libheif (heif_cgo.go) when the binary is built with it.
const (
	HEIC Format = "heic"
	AVIF Format = "avif"
)

// HEIFAvailable says whether this binary decodes HEIC and AVIF (libheif is
// linked in; AVIF also needs libheif's AV1 decoder, see CanRead).
const HEIFAvailable = heifAvailable

// CanRead says whether this binary decodes f.
func CanRead(f Format) bool {
	switch f {
	case HEIC, AVIF:
		return heifAvailable && heifHasDecoder(f)
	}
	for _, g := range Formats {
		if g == f {
			return true
		}
	}
	return false
}

// sniffHEIF recognises a HEIF still by its ftyp brands (ISO/IEC 23008-12),
// or returns "".
func sniffHEIF(b []byte) Format {
	switch describeUnsupported(b) {
	case "HEIC":
		return HEIC
	case "AVIF":
		return AVIF
	}
	return ""
}

// noHEIF is the error for a HEIF file this binary cannot decode.
func noHEIF(f Format) error {
	if !heifAvailable {
		return &formatError{msg: fmt.Sprintf("unsupported format %s (this binary was built without libheif)", f.displayName())}
	}
	return &formatError{msg: fmt.Sprintf("unsupported format %s (libheif %s has no decoder for it)", f.displayName(), heifVersion())}
}

// maxHEIFFile bounds how much of a HEIF file is read into memory: libheif
// parses from memory, and a phone photo is a few MB (a 100 MP one well
// under this).
const maxHEIFFile = 256 << 20

// readWhole reads the rest of the stream into rc.buf; false when it is
// over limit bytes or a read failed.
func (rc *recorder) readWhole(limit int) bool {
	for !rc.eof && rc.err == nil && len(rc.buf) <= limit {
		rc.ensure(len(rc.buf) + 1<<20)
	}
	return rc.eof && rc.err == nil && len(rc.buf) <= limit
}

// nclxCurve is the tone curve of an H.273 transfer characteristic, as an
// ICC parametric curve; ok is false for those that cannot be one (PQ, HLG).
func nclxCurve(tc int) (parametricCurve, bool) {
	switch tc {
	case 2, 13: // unspecified (read as sRGB), IEC 61966-2-1
		return parametricCurve{4, []float64{2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045}}, true
	case 1, 6, 14, 15: // BT.709, BT.601, BT.2020: the inverse of their OETF
		return parametricCurve{4, []float64{1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081}}, true
	case 4:
		return parametricCurve{1, []float64{2.2}}, true
	case 5:
		return parametricCurve{1, []float64{2.8}}, true
	case 8:
		return parametricCurve{1, []float64{1}}, true
	}
	return parametricCurve{}, false
}

// nclx is a HEIF colour description (H.273 code points) with libheif's
// chromaticities for the primaries.
type nclx struct {
	primaries, transfer int
	xy                  [8]float64 // white, red, green, blue (x, y)
}

// profile turns an nclx description into a profile: none for sRGB (BT.709
// primaries with the sRGB curve, or unspecified), else an ICC profile
// made with lcms2.
func (n nclx) profile() profileSource {
	if (n.primaries == 1 || n.primaries == 2) && (n.transfer == 13 || n.transfer == 2) {
		return profileSource{}
	}
	curve, ok := nclxCurve(n.transfer)
	if !ok {
		return profileSource{err: fmt.Errorf("nclx transfer characteristic %d (HDR) is not supported", n.transfer)}
	}
	if n.xy[0] == 0 || n.xy[2] == 0 {
		return profileSource{err: fmt.Errorf("nclx colour primaries %d are not known", n.primaries)}
	}
	if !lcmsAvailable {
		return profileSource{err: errNoLCMSProfile}
	}
	icc, err := rgbProfile(n.xy, curve, fmt.Sprintf("HEIF nclx primaries %d transfer %d", n.primaries, n.transfer))
	if err != nil {
		return profileSource{err: err}
	}
	return profileSource{icc: icc}
}

var errNoLCMSProfile = fmt.Errorf("built without lcms2")
