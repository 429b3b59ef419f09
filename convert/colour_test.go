package convert_test

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"animegan/convert"
	"animegan/imageio"
	"animegan/modelgen"
)

func readImage(t *testing.T, path string) *imageio.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageio.Decode(bytes.NewReader(b), imageio.DecodeOptions{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func within(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

// A photo with an Adobe RGB profile reaches the model in sRGB; its result
// is sRGB tagged so (--color srgb, the default) or converted back into
// Adobe RGB and tagged with it (--color input); changing --color redoes
// the outputs on a re-run.
func TestColourModes(t *testing.T) {
	if !imageio.ColourAvailable {
		t.Skip("built without lcms2")
	}
	icc, err := os.ReadFile("/usr/share/color/icc/colord/AdobeRGB1998.icc")
	if err != nil {
		t.Skip("colord-data not installed")
	}
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	var buf bytes.Buffer
	if err := imageio.EncodeWith(&buf, flat(32, 32, color.NRGBA{200, 100, 80, 255}), imageio.PNG, imageio.EncodeOptions{ICC: icc}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(in, "adobe.png")
	writeFile(t, src, buf.Bytes())
	decoded := readImage(t, src)
	if !decoded.Colour.Converted {
		t.Fatalf("input not converted: %+v %q", decoded.Colour, decoded.Warnings)
	}
	want := swapInverted(decoded.Pixels.NRGBAAt(5, 5))

	o := options(t, swapInvert(t, modelgen.NHWC), out, in)
	sum, _ := run(t, o)
	if sum.Converted != 1 {
		t.Fatalf("converted %d", sum.Converted)
	}
	res := readImage(t, filepath.Join(out, "adobe.png"))
	if !res.Colour.Tagged() || res.Colour.Converted || res.Colour.Space != imageio.SpaceRGB {
		t.Errorf("--color srgb output: colour %+v, want tagged sRGB", res.Colour)
	}
	if got := res.Pixels.NRGBAAt(5, 5); got != want {
		t.Errorf("--color srgb output %v, want %v", got, want)
	}

	o.Colour = convert.ColourInput
	sum, _ = run(t, o)
	if sum.Converted != 1 {
		t.Errorf("--color input after srgb: converted %d, want the output redone", sum.Converted)
	}
	res = readImage(t, filepath.Join(out, "adobe.png"))
	if !bytes.Equal(res.Colour.Profile, icc) || !res.Colour.Converted {
		t.Errorf("--color input output: colour %+v, want the input's Adobe RGB profile", res.Colour.Description)
	}
	// Read through its profile, the result shows the colours of the sRGB one.
	if got := res.Pixels.NRGBAAt(5, 5); !within(got, want, 3) {
		t.Errorf("--color input output shows %v, want %v", got, want)
	}
	raw, err := os.ReadFile(filepath.Join(out, "adobe.png"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("sRGB")) {
		t.Error("--color input output mentions sRGB")
	}

	// An untagged photo stays untagged.
	plain := filepath.Join(in, "plain.png")
	writeFile(t, plain, encode(t, "png", flat(16, 16, color.NRGBA{10, 20, 30, 255})))
	run(t, o)
	if res := readImage(t, filepath.Join(out, "plain.png")); res.Colour.Tagged() {
		t.Errorf("untagged input gave a tagged output: %+v", res.Colour)
	}
}

// HEIC and AVIF photos convert, to JPEG by default, upright and in colour.
func TestConvertHEIF(t *testing.T) {
	if !imageio.CanRead(imageio.HEIC) || !imageio.CanRead(imageio.AVIF) {
		t.Skip("built without libheif")
	}
	if _, err := exec.LookPath("heif-enc"); err != nil {
		t.Skip("heif-enc not installed")
	}
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	photo := flat(48, 32, color.NRGBA{40, 160, 60, 255})
	for y := 0; y < 12; y++ {
		for x := 0; x < 12; x++ {
			photo.SetNRGBA(x, y, color.NRGBA{240, 240, 240, 255})
		}
	}
	pngPath := filepath.Join(t.TempDir(), "src.png")
	writeFile(t, pngPath, encode(t, "png", photo))
	for _, name := range []string{"iphone.heic", "android.avif"} {
		if b, err := exec.Command("heif-enc", "-q", "95", "-o", filepath.Join(in, name), pngPath).CombinedOutput(); err != nil {
			t.Fatalf("heif-enc: %v\n%s", err, b)
		}
	}
	sum, _ := run(t, options(t, swapInvert(t, modelgen.NHWC), out, in))
	if sum.Converted != 2 || sum.Failed != 0 {
		t.Fatalf("converted %d failed %d: %v", sum.Converted, sum.Failed, sum.Failures)
	}
	for _, name := range []string{"iphone.jpg", "android.jpg"} {
		res := readImage(t, filepath.Join(out, name))
		if res.Format != imageio.JPEG || res.Pixels.Bounds() != image.Rect(0, 0, 48, 32) {
			t.Fatalf("%s: %s %v", name, res.Format, res.Pixels.Bounds())
		}
		// SwapInvert: the light corner turns dark, green turns magenta.
		if c := res.Pixels.NRGBAAt(3, 3); c.R > 50 || c.G > 50 || c.B > 50 {
			t.Errorf("%s: corner %v, want dark", name, c)
		}
		if c := res.Pixels.NRGBAAt(40, 25); !within(c, swapInverted(color.NRGBA{40, 160, 60, 255}), 16) {
			t.Errorf("%s: body %v, want %v", name, c, swapInverted(color.NRGBA{40, 160, 60, 255}))
		}
	}
}

func TestParseColourMode(t *testing.T) {
	for in, want := range map[string]convert.ColourMode{"": convert.ColourSRGB, "sRGB": convert.ColourSRGB, " input ": convert.ColourInput} {
		if got, err := convert.ParseColourMode(in); err != nil || got != want {
			t.Errorf("ParseColourMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := convert.ParseColourMode("p3"); err == nil {
		t.Error("ParseColourMode(p3): want an error")
	}
	o := convert.Options{Inputs: []string{"x"}, ModelData: []byte{1}, Colour: "p3"}
	o.ApplyDefaults()
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--color") {
		t.Errorf("Validate with --color p3: %v", err)
	}
}
