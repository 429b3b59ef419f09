package convert

import (
	"fmt"
	"image"
	"strings"

	"animegan/imageio"
)

// ColourMode says what colour space the output of a photo with a colour
// profile is written in. Photos are always converted to sRGB for the
// model; photos without a profile are sRGB and stay untagged.
type ColourMode string

const (
	// ColourSRGB writes sRGB, tagged with an sRGB profile: what every
	// viewer, browser and photo service shows right, colour-managed or not.
	ColourSRGB ColourMode = "srgb"
	// ColourInput converts the result back into the photo's own RGB profile
	// (Adobe RGB, Display P3, ...) and embeds that profile, for workflows
	// that keep one working space. Grey and CMYK photos still come out sRGB.
	ColourInput ColourMode = "input"
)

// ParseColourMode reads a --color value.
func ParseColourMode(s string) (ColourMode, error) {
	switch m := ColourMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ColourSRGB, nil
	case ColourSRGB, ColourInput:
		return m, nil
	}
	return "", fmt.Errorf("--color %q: want srgb or input", s)
}

// outputProfile puts img into the colour space its output is written in
// and returns the profile to tag the file with (nil: untagged). c is how
// the photo's colours were read. A problem is a warning: the result is
// then written as sRGB.
func outputProfile(img *image.NRGBA, c imageio.Colour, input bool, warnf func(string, ...any)) []byte {
	if !c.Tagged() {
		return nil
	}
	if input && c.Converted {
		if c.Space != imageio.SpaceRGB {
			warnf("written as sRGB: a %s profile cannot hold the model's colours (--color input)", c.Space)
		} else if err := imageio.FromSRGB(img, c.Profile); err != nil {
			warnf("written as sRGB: %v", err)
		} else {
			return c.Profile
		}
	}
	if !c.Converted {
		return c.Profile // an sRGB profile already
	}
	return imageio.SRGBProfile()
}
