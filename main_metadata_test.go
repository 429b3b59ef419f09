package main

import (
	"bytes"
	byteorder "encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"animegan/imageio"
	"animegan/internal/ortest"
)

// phonePhoto writes a 96x64 (stored) JPEG with a phone's EXIF, made with
// imageio's own EXIF writer: Make, Model, DateTimeOriginal, a GPS position
// and Orientation 6 (so it shows 64x96).
func phonePhoto(t *testing.T, path string) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 96, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	bo := byteorder.BigEndian
	ascii := func(tag uint16, s string) imageio.ExifEntry {
		return imageio.ExifEntry{Tag: tag, Type: 2, Count: uint32(len(s) + 1), Value: append([]byte(s), 0)}
	}
	rational := func(tag uint16, v ...uint32) imageio.ExifEntry {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			bo.PutUint32(b[4*i:], x)
		}
		return imageio.ExifEntry{Tag: tag, Type: 5, Count: uint32(len(v) / 2), Value: b}
	}
	e := &imageio.EXIF{Order: bo}
	e.Set(imageio.IFD0, ascii(imageio.TagMake, "Pixel"))
	e.Set(imageio.IFD0, ascii(imageio.TagModel, "Pixel 8"))
	e.SetShort(imageio.IFD0, imageio.TagOrientation, 6)
	e.Set(imageio.ExifIFD, ascii(imageio.TagDateTimeOrig, "2023:12:24 18:30:00"))
	e.Set(imageio.GPSIFD, ascii(imageio.TagGPSLatitudeRef, "S"))
	e.Set(imageio.GPSIFD, rational(imageio.TagGPSLatitude, 33, 1, 51, 1, 3540, 100))
	e.Set(imageio.GPSIFD, ascii(imageio.TagGPSLongitudeRef, "E"))
	e.Set(imageio.GPSIFD, rational(imageio.TagGPSLongitude, 151, 1, 12, 1, 3060, 100))
	body := append([]byte("Exif\x00\x00"), e.Bytes()...)
	seg := append([]byte{0xFF, 0xE1, byte((len(body) + 2) >> 8), byte(len(body) + 2)}, body...)
	jpg := buf.Bytes()
	out := append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readMeta decodes an output with its metadata.
func readMeta(t *testing.T, path string) *imageio.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := imageio.Decode(f, imageio.DecodeOptions{Metadata: true})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// TestConvertMetadata runs the binary on a phone photo: with the default
// (keep) every output format carries its date, camera and position, with
// Orientation 1 and the output's size; with --metadata strip none of it;
// switching the mode redoes the outputs (it is in the resume fingerprint).
func TestConvertMetadata(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	phonePhoto(t, filepath.Join(in, "IMG_0001.jpg"))
	formats := []string{"jpg", "png"}
	if imageio.CanWrite(imageio.WebP) {
		formats = append(formats, "webp")
	}
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			out := t.TempDir()
			r := animegan(t, nil, "convert", in, "-o", out, "--format", format, "--max-size", "48", "--json")
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if s := parseJSON[struct{ Settings map[string]any }](t, r.stdout); s.Settings["metadata"] != "keep" {
				t.Errorf("settings %v", s.Settings)
			}
			path := filepath.Join(out, "IMG_0001."+format)
			img := readMeta(t, path)
			b := img.Pixels.Bounds()
			if b.Dx() >= b.Dy() || img.Orientation != 1 {
				t.Fatalf("output %v orientation %d: not upright portrait", b, img.Orientation)
			}
			m := img.Metadata
			if m == nil || m.EXIF == nil {
				t.Fatal("no EXIF in the output")
			}
			e := m.EXIF
			for tag, want := range map[uint16]string{imageio.TagMake: "Pixel", imageio.TagModel: "Pixel 8"} {
				if got, _ := e.String(imageio.IFD0, tag); got != want {
					t.Errorf("tag 0x%04X = %q, want %q", tag, got, want)
				}
			}
			if got, _ := e.String(imageio.ExifIFD, imageio.TagDateTimeOrig); got != "2023:12:24 18:30:00" {
				t.Errorf("DateTimeOriginal %q", got)
			}
			lat, _ := e.Rationals(imageio.GPSIFD, imageio.TagGPSLatitude)
			lon, _ := e.Rationals(imageio.GPSIFD, imageio.TagGPSLongitude)
			ref, _ := e.String(imageio.GPSIFD, imageio.TagGPSLatitudeRef)
			if fmt.Sprintf("%v %v %s", lat, lon, ref) != "[[33 1] [51 1] [3540 100]] [[151 1] [12 1] [3060 100]] S" {
				t.Errorf("GPS %v %v %s", lat, lon, ref)
			}
			o, _ := e.Uint(imageio.IFD0, imageio.TagOrientation)
			pw, _ := e.Uint(imageio.ExifIFD, imageio.TagPixelXDimension)
			ph, _ := e.Uint(imageio.ExifIFD, imageio.TagPixelYDimension)
			if o != 1 || int(pw) != b.Dx() || int(ph) != b.Dy() {
				t.Errorf("Orientation %d, PixelX/YDimension %dx%d, want 1 and %dx%d", o, pw, ph, b.Dx(), b.Dy())
			}
			if tool, err := exec.LookPath("exiftool"); err == nil {
				raw, err := exec.Command(tool, "-j", "-n", "-GPSLatitude", "-GPSLongitude", "-DateTimeOriginal", path).Output()
				var got []struct {
					GPSLatitude, GPSLongitude float64
					DateTimeOriginal          string
				}
				if err != nil || json.Unmarshal(raw, &got) != nil || len(got) != 1 ||
					fmt.Sprintf("%.4f %.4f %s", got[0].GPSLatitude, got[0].GPSLongitude, got[0].DateTimeOriginal) != "-33.8598 151.2085 2023:12:24 18:30:00" {
					t.Errorf("exiftool: %v %s", err, raw)
				}
			}

			// strip: a different output, so not skipped; none of it left.
			r = animegan(t, nil, "convert", in, "-o", out, "--format", format, "--max-size", "48", "--metadata", "strip", "--json")
			if s := parseSummary(t, r.stdout); r.code != 0 || s.Converted != 1 || s.Skipped != 0 {
				t.Fatalf("strip re-run: exit %d, %+v\n%s", r.code, s, r.stderr)
			}
			if img := readMeta(t, path); img.Metadata != nil {
				t.Errorf("strip left metadata: %+v", img.Metadata)
			}
			data, _ := os.ReadFile(path)
			for _, s := range []string{"Pixel 8", "2023:12:24", "Exif"} {
				if bytes.Contains(data, []byte(s)) {
					t.Errorf("strip: output contains %q", s)
				}
			}
		})
	}
}

// TestWebPFormat: --format webp writes .webp files with alpha kept, and
// `version` lists what this binary reads and writes.
func TestWebPFormat(t *testing.T) {
	ortest.Init(t)
	r := animegan(t, nil, "version")
	if !strings.Contains(r.stdout, "formats: read jpeg png gif bmp tiff webp") {
		t.Errorf("version:\n%s", r.stdout)
	}
	if !imageio.CanWrite(imageio.WebP) {
		if !strings.Contains(r.stdout, "; write jpeg png\n") {
			t.Errorf("version without libwebp:\n%s", r.stdout)
		}
		in := t.TempDir()
		pngFile(t, filepath.Join(in, "a.png"), 8, 8)
		r := animegan(t, nil, "convert", in, "-o", t.TempDir(), "--format", "webp")
		if r.code != 2 || !strings.Contains(r.stderr, "built without libwebp") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		return
	}
	if !strings.Contains(r.stdout, "; write jpeg png webp\n") || !strings.Contains(r.stdout, "features: ") || !strings.Contains(r.stdout, "libwebp") {
		t.Errorf("version:\n%s", r.stdout)
	}
	in := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 40, 24))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+3] = uint8(i), 255
	}
	for y := range 24 {
		for x := range 12 { // the left half-width transparent
			img.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 0})
		}
	}
	writePNG(t, filepath.Join(in, "a.png"), img)
	out := t.TempDir()
	for _, q := range []string{"80", "100"} {
		r = animegan(t, nil, "convert", in, "-o", out, "--format", "webp", "--quality", q, "--max-size", "32")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		got := readMeta(t, filepath.Join(out, "a.webp"))
		if got.Format != imageio.WebP || !got.HasAlpha || got.Pixels.NRGBAAt(0, 0).A != 0 {
			t.Errorf("quality %s: %s, alpha %t", q, got.Format, got.HasAlpha)
		}
	}
}

// TestBrokenEXIFWarns: a photo whose EXIF cannot be read converts (exit 0)
// with a WARN line naming it; its output has no EXIF.
func TestBrokenEXIFWarns(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	path := filepath.Join(in, "bad-exif.jpg")
	phonePhoto(t, path)
	data, _ := os.ReadFile(path)
	// Point IFD0 past the end of the block: "Exif\0\0" then the header.
	at := bytes.Index(data, []byte("Exif\x00\x00")) + 6 + 4
	copy(data[at:], []byte{0x7F, 0xFF, 0xFF, 0xFF})
	os.WriteFile(path, data, 0o644)
	out := t.TempDir()
	r := animegan(t, nil, "convert", in, "-o", out, "--max-size", "32", "--json")
	if r.code != 0 || !strings.Contains(r.stderr, "WARN "+path+": EXIF dropped: malformed EXIF") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	sum := parseJSON[struct {
		Converted int
		Warnings  []struct{ Input, Warning string }
	}](t, r.stdout)
	if sum.Converted != 1 || len(sum.Warnings) != 1 || sum.Warnings[0].Input != path || !strings.HasPrefix(sum.Warnings[0].Warning, "EXIF dropped: ") {
		t.Errorf("JSON summary: %+v", sum)
	}
	if img := readMeta(t, filepath.Join(out, "bad-exif.jpg")); img.Metadata != nil {
		t.Errorf("metadata %+v", img.Metadata)
	}
}

// TestBuiltWithoutLibwebp builds animegan as the Makefile does on a machine
// without libwebp's header: it still converts, `version` does not list
// WebP output, and --format webp is a usage error that says why.
func TestBuiltWithoutLibwebp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary")
	}
	if slices.Contains(buildTags, "nolibwebp") {
		t.Skip("TestWebPFormat checks this binary")
	}
	ortest.Init(t)
	bin := filepath.Join(t.TempDir(), "animegan-nowebp")
	tags := strings.Join(append(slices.Clone(buildTags), "nolibwebp"), ",")
	build := exec.Command("go", "build", "-tags", tags, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
	}
	run := func(args ...string) result {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "ONNXRUNTIME_LIB="+ortest.LibraryPath())
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{code, out.String(), errb.String()}
	}
	if r := run("version"); !strings.Contains(r.stdout, "; write jpeg png\n") || strings.Contains(r.stdout, "libwebp") {
		t.Errorf("version:\n%s", r.stdout)
	}
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 8, 8)
	out := t.TempDir()
	if r := run("convert", in, "-o", out, "--format", "webp"); r.code != 2 || !strings.Contains(r.stderr, "built without libwebp") {
		t.Fatalf("--format webp: exit %d\n%s", r.code, r.stderr)
	}
	if r := run("convert", in, "-o", out, "--max-size", "16"); r.code != 0 {
		t.Fatalf("convert: exit %d\n%s", r.code, r.stderr)
	}
}
