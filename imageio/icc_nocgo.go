//go:build !cgo || nolcms

package imageio

import (
	"errors"
	"image"
)

// Without Little CMS 2 (Debian liblcms2-dev) photos are read as sRGB,
// whatever their profile, and a warning says so.
const lcmsAvailable = false

var errNoLCMS = errors.New("built without lcms2")

func lcmsVersion() string { return "" }

func transformToSRGB(*image.NRGBA, []byte, ColourSpace) error { return errNoLCMS }

func transformFromSRGB(*image.NRGBA, []byte) error { return errNoLCMS }

func cmykToSRGB(*image.CMYK, []byte) (*image.NRGBA, error) { return nil, errNoLCMS }

func srgbProfile() []byte { return nil }

type parametricCurve struct {
	typ    int
	params []float64
}

func rgbProfile([8]float64, parametricCurve, string) ([]byte, error) { return nil, errNoLCMS }
