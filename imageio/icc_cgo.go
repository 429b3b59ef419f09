//go:build cgo && !nolcms

package imageio

/*
#cgo LDFLAGS: -llcms2
#include <stdlib.h>
#include <lcms2.h>

// A grey pixel read out of an NRGBA: the grey value in R, then G, B and
// alpha left alone (for a grey photo R = G = B).
#define ANIMEGAN_GREY_IN (COLORSPACE_SH(PT_GRAY)|CHANNELS_SH(1)|BYTES_SH(1)|EXTRA_SH(3))

// animegan_xform makes the transform between a photo's profile (icc, n
// bytes: kind 0 RGB, 1 grey, 2 CMYK) and sRGB, into sRGB or (from_srgb,
// RGB only) out of it, 8-bit RGBA on the sRGB side. Alpha is never
// touched (no cmsFLAGS_COPY_ALPHA): an in-place transform keeps it. With
// cmsFLAGS_NOCACHE the transform keeps no state between calls, so bands
// of one image can be transformed in parallel. NULL when lcms2 refuses
// the profile.
static cmsHTRANSFORM animegan_xform(const void *icc, cmsUInt32Number n, int kind, int from_srgb) {
	cmsHPROFILE p = cmsOpenProfileFromMem(icc, n);
	if (p == NULL) {
		return NULL;
	}
	cmsHPROFILE s = cmsCreate_sRGBProfile();
	cmsHTRANSFORM x = NULL;
	cmsUInt32Number flags = cmsFLAGS_NOCACHE | cmsFLAGS_BLACKPOINTCOMPENSATION;
	if (s != NULL) {
		if (from_srgb) {
			x = cmsCreateTransform(s, TYPE_RGBA_8, p, TYPE_RGBA_8, INTENT_RELATIVE_COLORIMETRIC, flags);
		} else if (kind == 0) {
			x = cmsCreateTransform(p, TYPE_RGBA_8, s, TYPE_RGBA_8, INTENT_RELATIVE_COLORIMETRIC, flags);
		} else if (kind == 1) {
			x = cmsCreateTransform(p, ANIMEGAN_GREY_IN, s, TYPE_RGBA_8, INTENT_RELATIVE_COLORIMETRIC, flags);
		} else {
			// Printer profiles are LUTs made for the perceptual intent.
			x = cmsCreateTransform(p, TYPE_CMYK_8, s, TYPE_RGBA_8, INTENT_PERCEPTUAL, flags);
		}
		cmsCloseProfile(s);
	}
	cmsCloseProfile(p);
	return x;
}

// animegan_save writes a profile into a malloc'd buffer (*out, *n bytes)
// and closes it. 0 on success.
static int animegan_save(cmsHPROFILE p, void **out, cmsUInt32Number *n) {
	*out = NULL;
	if (p == NULL) {
		return 1;
	}
	if (!cmsMD5computeID(p) || !cmsSaveProfileToMem(p, NULL, n) || *n == 0) {
		cmsCloseProfile(p);
		return 1;
	}
	*out = malloc(*n);
	if (*out == NULL || !cmsSaveProfileToMem(p, *out, n)) {
		free(*out);
		*out = NULL;
		cmsCloseProfile(p);
		return 1;
	}
	cmsCloseProfile(p);
	return 0;
}

static int animegan_srgb_profile(void **out, cmsUInt32Number *n) {
	return animegan_save(cmsCreate_sRGBProfile(), out, n);
}

// animegan_rgb_profile makes a matrix/TRC profile from chromaticities
// (white, red, green, blue: x, y) and a parametric tone curve (lcms2's
// type and parameters), named desc.
static int animegan_rgb_profile(const double *xy, int curve_type, const double *params, const char *desc,
		void **out, cmsUInt32Number *n) {
	cmsCIExyY white = {xy[0], xy[1], 1.0};
	cmsCIExyYTRIPLE prim = {{xy[2], xy[3], 1.0}, {xy[4], xy[5], 1.0}, {xy[6], xy[7], 1.0}};
	cmsToneCurve *c = cmsBuildParametricToneCurve(NULL, curve_type, params);
	if (c == NULL) {
		return 1;
	}
	cmsToneCurve *curves[3] = {c, c, c};
	cmsHPROFILE p = cmsCreateRGBProfile(&white, &prim, curves);
	cmsFreeToneCurve(c);
	if (p == NULL) {
		return 1;
	}
	cmsMLU *mlu = cmsMLUalloc(NULL, 1);
	if (mlu != NULL) {
		cmsMLUsetASCII(mlu, "en", "US", desc);
		cmsWriteTag(p, cmsSigProfileDescriptionTag, mlu);
		cmsMLUfree(mlu);
	}
	return animegan_save(p, out, n);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"unsafe"
)

const lcmsAvailable = true

// lcmsVersion is the linked library's version ("2.14").
func lcmsVersion() string {
	v := int(C.cmsGetEncodedCMMversion())
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}

func spaceKind(s ColourSpace) C.int {
	switch s {
	case SpaceGrey:
		return 1
	case SpaceCMYK:
		return 2
	}
	return 0
}

// newTransform opens icc with lcms2 and makes the transform to or from
// sRGB; free it with C.cmsDeleteTransform.
func newTransform(icc []byte, s ColourSpace, fromSRGB bool) (C.cmsHTRANSFORM, error) {
	if len(icc) == 0 {
		return nil, errors.New("empty profile")
	}
	p := C.CBytes(icc)
	defer C.free(p)
	from := C.int(0)
	if fromSRGB {
		from = 1
	}
	x := C.animegan_xform(p, C.cmsUInt32Number(len(icc)), spaceKind(s), from)
	if x == nil {
		return nil, errors.New("lcms2 cannot use the profile")
	}
	return x, nil
}

// transformRows runs x over rows y0..y1 of pixels 4 bytes each, from src
// to dst (which may be the same image), several bands in parallel.
func transformRows(x C.cmsHTRANSFORM, src []byte, srcStride int, dst *image.NRGBA) {
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	parallelRows(h, w, func(y0, y1 int) uint8 {
		if srcStride == 4*w && dst.Stride == 4*w {
			// Whole bands at once: one call, no per-row overhead.
			C.cmsDoTransform(x, unsafe.Pointer(&src[y0*srcStride]), unsafe.Pointer(&dst.Pix[y0*dst.Stride]), C.cmsUInt32Number((y1-y0)*w))
			return 255
		}
		for y := y0; y < y1; y++ {
			C.cmsDoTransform(x, unsafe.Pointer(&src[y*srcStride]), unsafe.Pointer(&dst.Pix[y*dst.Stride]), C.cmsUInt32Number(w))
		}
		return 255
	})
}

// transformToSRGB converts px (RGB, or grey with R = G = B) from icc to
// sRGB in place; alpha is kept.
func transformToSRGB(px *image.NRGBA, icc []byte, s ColourSpace) error {
	if px.Rect.Empty() {
		return nil
	}
	x, err := newTransform(icc, s, false)
	if err != nil {
		return err
	}
	defer C.cmsDeleteTransform(x)
	transformRows(x, px.Pix, px.Stride, px)
	return nil
}

// transformFromSRGB converts px from sRGB into the RGB profile icc in place.
func transformFromSRGB(px *image.NRGBA, icc []byte) error {
	if px.Rect.Empty() {
		return nil
	}
	x, err := newTransform(icc, SpaceRGB, true)
	if err != nil {
		return err
	}
	defer C.cmsDeleteTransform(x)
	transformRows(x, px.Pix, px.Stride, px)
	return nil
}

// cmykToSRGB converts a CMYK image (0 = no ink, as image/jpeg gives it,
// Adobe's inverted storage already undone) through its profile into a new
// opaque sRGB NRGBA.
func cmykToSRGB(m *image.CMYK, icc []byte) (*image.NRGBA, error) {
	x, err := newTransform(icc, SpaceCMYK, false)
	if err != nil {
		return nil, err
	}
	defer C.cmsDeleteTransform(x)
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(dst.Pix); i += 4 {
		dst.Pix[i] = 255 // the transform leaves alpha alone
	}
	if w > 0 && h > 0 {
		transformRows(x, m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, dst)
	}
	return dst, nil
}

// goBytes copies a malloc'd buffer into Go memory and frees it.
func goBytes(p unsafe.Pointer, n C.cmsUInt32Number) []byte {
	defer C.free(p)
	return C.GoBytes(p, C.int(n))
}

var srgbProfile = sync.OnceValue(func() []byte {
	var p unsafe.Pointer
	var n C.cmsUInt32Number
	if C.animegan_srgb_profile(&p, &n) != 0 {
		return nil
	}
	return goBytes(p, n)
})

// parametricCurve is a tone curve in lcms2's parametric form (ICC
// parametricCurveType: type 1 is Y = X^g, type 4 is IEC 61966-2.1's
// shape: Y = (aX+b)^g above d, cX below).
type parametricCurve struct {
	typ    int
	params []float64
}

// rgbProfile makes an ICC profile from chromaticities (white, red, green,
// blue as x, y pairs) and a tone curve: what a HEIF nclx box describes.
func rgbProfile(xy [8]float64, curve parametricCurve, desc string) ([]byte, error) {
	var cxy [8]C.double
	for i, v := range xy {
		cxy[i] = C.double(v)
	}
	var params [10]C.double
	for i, v := range curve.params {
		params[i] = C.double(v)
	}
	cdesc := C.CString(desc)
	defer C.free(unsafe.Pointer(cdesc))
	var p unsafe.Pointer
	var n C.cmsUInt32Number
	if C.animegan_rgb_profile(&cxy[0], C.int(curve.typ), &params[0], cdesc, &p, &n) != 0 {
		return nil, errors.New("lcms2 could not make the profile")
	}
	return goBytes(p, n), nil
}
