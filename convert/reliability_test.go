package convert_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"animegan/convert"
	"animegan/model/builtin"
	"animegan/modelgen"
	"animegan/pipeline"
)

// swapInverted is what the SwapInvert fixture makes of a colour.
func swapInverted(c color.NRGBA) color.NRGBA {
	return color.NRGBA{255 - c.B, 255 - c.G, 255 - c.R, c.A}
}

// bombPNG is a valid PNG header claiming w x h pixels, followed by a few
// bytes of image data: a decompression bomb as far as its header goes.
func bombPNG(w, h uint32) []byte {
	chunk := func(out []byte, typ string, data []byte) []byte {
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		start := len(out)
		out = append(out, typ...)
		out = append(out, data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 64<<10))
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = chunk(out, "IHDR", ihdr)
	out = chunk(out, "IDAT", z.Bytes())
	return chunk(out, "IEND", nil)
}

// TestBadInputsMore extends TestBadInputs: a truncated PNG, AVIF, a
// decompression bomb, --max-pixels, symlink loops and a dangling link each
// fail alone with their reason; a directory named like a photo is a folder.
func TestBadInputsMore(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	goodPNG := encode(t, "png", flat(32, 32, color.NRGBA{90, 90, 90, 255}))
	writeFile(t, filepath.Join(in, "good.png"), goodPNG)
	writeFile(t, filepath.Join(in, "truncated.png"), goodPNG[:len(goodPNG)-30])
	writeFile(t, filepath.Join(in, "photo.avif"), append([]byte{0, 0, 0, 28}, []byte("ftypavif\x00\x00\x00\x00avifmif1miaf")...))
	writeFile(t, filepath.Join(in, "avif-named.jpg"), append([]byte{0, 0, 0, 28}, []byte("ftypavif\x00\x00\x00\x00mif1avifmiaf")...))
	writeFile(t, filepath.Join(in, "bomb.png"), bombPNG(60000, 60000))
	writeFile(t, filepath.Join(in, "jxl.jxl"), []byte{0xFF, 0x0A, 0xFA, 0x7F, 0, 0, 0, 0})
	// A folder named like a photo, inside the walk: walked as a folder.
	writeFile(t, filepath.Join(in, "album.jpg", "inner.png"), encode(t, "png", flat(16, 16, color.NRGBA{1, 2, 3, 255})))
	// A link back to the folder itself, a link to itself, a dangling link.
	must(t, os.Symlink(".", filepath.Join(in, "loop")))
	must(t, os.Symlink("self.jpg", filepath.Join(in, "self.jpg")))
	must(t, os.Symlink("nowhere.png", filepath.Join(in, "dangling.png")))

	// A folder named like a photo given as an argument: walked too.
	named := filepath.Join(t.TempDir(), "given.jpg")
	writeFile(t, filepath.Join(named, "deep.png"), encode(t, "png", flat(16, 16, color.NRGBA{4, 5, 6, 255})))

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sum, rec := run(t, options(t, swapInvert(t, modelgen.NHWC), out, in, named))
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	reasons := map[string]string{
		"truncated.png":  "corrupt or truncated PNG",
		"photo.avif":     "AVIF", // a header alone: corrupt to libheif, else unsupported
		"avif-named.jpg": "AVIF",
		"bomb.png":       "60000x60000",
		"jxl.jxl":        "unsupported format",
		"loop":           "symlink loop",
		"self.jpg":       "too many levels of symbolic links",
		"dangling.png":   "no such file",
	}
	if sum.Converted != 3 || sum.Failed != len(reasons) || len(rec.failed) != len(reasons) {
		t.Fatalf("summary %+v failures %v", sum, rec.failed)
	}
	for _, f := range rec.failed {
		want, ok := reasons[filepath.Base(f.Input)]
		if !ok || !strings.Contains(f.Err.Error(), want) {
			t.Errorf("%s: %v, want a reason containing %q", f.Input, f.Err, want)
		}
		if line := f.String(); strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, "FAIL "+f.Input+": ") {
			t.Errorf("failure line %q: want one line naming the file", line)
		}
	}
	want := []string{convert.ManifestName, "album.jpg/inner.png", "deep.png", "good.png"}
	if got := listFiles(t, out); !slices.Equal(got, want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	// The bomb would need 14.4 GB of pixels; the whole run, sessions
	// included, allocates a small fraction of that on the Go heap.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Errorf("the run allocated %d MB: was the bomb decoded?", alloc>>20)
	}

	// --max-pixels applies to ordinary photos too.
	o := options(t, swapInvert(t, modelgen.NHWC), filepath.Join(t.TempDir(), "out"), filepath.Join(in, "good.png"))
	o.MaxPixels = 1000
	sum, rec = run(t, o)
	if sum.Failed != 1 || !strings.Contains(rec.failed[0].Err.Error(), "over the limit of 1000 pixels") {
		t.Fatalf("--max-pixels 1000 on a 32x32 image: %+v %v", sum, rec.failed)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestExtremeAspectRatios: strips and single pixels convert with the
// built-in model; a side below one multiple (8) is raised to it, and
// --keep-size gives back the exact input size.
func TestExtremeAspectRatios(t *testing.T) {
	in := t.TempDir()
	sizes := map[string][2]int{"wide.png": {4000, 3}, "tall.png": {3, 4000}, "dot.png": {1, 1}, "thin.png": {9, 1}}
	for name, s := range sizes {
		writeFile(t, filepath.Join(in, name), encode(t, "png", flat(s[0], s[1], color.NRGBA{30, 160, 90, 255})))
	}
	cases := []struct {
		keep bool
		want map[string][2]int
	}{
		// --max-size 64: 4000x3 scales to 64x1 (a side is never below 1),
		// then each side is floored to a multiple of 8, at least 8.
		{false, map[string][2]int{"wide.png": {64, 8}, "tall.png": {8, 64}, "dot.png": {8, 8}, "thin.png": {8, 8}}},
		{true, sizes},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), "out")
		o := options(t, builtin.Cartoon, out, in)
		o.KeepSize = c.keep
		sum, rec := run(t, o)
		if sum.Converted != len(sizes) || sum.Failed != 0 {
			t.Fatalf("keep-size %v: %+v %v", c.keep, sum, rec.failed)
		}
		for name, s := range c.want {
			img, _ := decodeFile(t, filepath.Join(out, name))
			if img.Bounds().Dx() != s[0] || img.Bounds().Dy() != s[1] {
				t.Errorf("keep-size %v: %s is %v, want %dx%d", c.keep, name, img.Bounds(), s[0], s[1])
			}
		}
	}
}

// TestUnusualEncodings: valid files in less common encodings convert to
// the right colours at the right places. The progressive and CMYK JPEGs
// come from dcJPEG, since Go's encoder writes neither.
func TestUnusualEncodings(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	// Three 8x8 blocks across, two down, each a different colour.
	blockColour := func(bx, by int) color.NRGBA {
		return color.NRGBA{uint8(40 + 70*bx), uint8(200 - 90*by), uint8(20 + 50*bx + 60*by), 255}
	}
	paint := func(set func(x, y int, c color.NRGBA)) {
		for y := range 16 {
			for x := range 24 {
				set(x, y, blockColour(x/8, y/8))
			}
		}
	}
	rect := image.Rect(0, 0, 24, 16)
	deep := image.NewNRGBA64(rect)
	paint(func(x, y int, c color.NRGBA) { deep.Set(x, y, c) })
	gray := image.NewGray(rect)
	paint(func(x, y int, c color.NRGBA) { gray.Set(x, y, c) })
	gray16 := image.NewGray16(rect)
	paint(func(x, y int, c color.NRGBA) { gray16.Set(x, y, c) })
	pal := color.Palette{}
	for by := range 2 {
		for bx := range 3 {
			pal = append(pal, blockColour(bx, by))
		}
	}
	paletted := image.NewPaletted(rect, pal)
	paint(func(x, y int, c color.NRGBA) { paletted.Set(x, y, c) })
	rgba := image.NewRGBA(rect) // premultiplied; the right column transparent
	paint(func(x, y int, c color.NRGBA) {
		if x >= 16 {
			c = color.NRGBA{}
		}
		rgba.Set(x, y, c)
	})
	writeFile(t, filepath.Join(in, "deep.png"), encode(t, "png", deep))
	writeFile(t, filepath.Join(in, "gray.png"), encode(t, "png", gray))
	writeFile(t, filepath.Join(in, "gray16.png"), encode(t, "png", gray16))
	writeFile(t, filepath.Join(in, "paletted.png"), encode(t, "png", paletted))
	writeFile(t, filepath.Join(in, "rgba.png"), encode(t, "png", rgba))
	jpegs := map[string]dcJPEG{
		"progressive-gray.jpg":  {Progressive: true, Components: 1},
		"progressive-ycbcr.jpg": {Progressive: true, Components: 3},
		"progressive-cmyk.jpg":  {Progressive: true, Components: 4},
		"cmyk.jpg":              {Components: 4},
	}
	for name, j := range jpegs {
		j.BW, j.BH = 3, 2
		j.Level = func(bx, by, c int) uint8 { return uint8(30 + 60*bx + 50*by + 25*c) }
		writeFile(t, filepath.Join(in, name), j.encode())
	}
	sum, rec := run(t, options(t, swapInvert(t, modelgen.NHWC), out, in))
	if sum.Converted != 9 || sum.Failed != 0 {
		t.Fatalf("summary %+v failures %v", sum, rec.failed)
	}
	for _, name := range listFiles(t, in) {
		src, _ := decodeFile(t, filepath.Join(in, name)) // the standard library's reading
		res, _ := decodeFile(t, filepath.Join(out, name))
		if res.Bounds() != rect {
			t.Errorf("%s: result %v, want %v", name, res.Bounds(), rect)
			continue
		}
		for by := range 2 {
			for bx := range 3 {
				x, y := 8*bx+4, 8*by+4
				want := swapInverted(color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA))
				got := color.NRGBAModel.Convert(res.At(x, y)).(color.NRGBA)
				if want.A == 0 {
					if got.A != 0 {
						t.Errorf("%s (%d,%d): alpha %d, want transparent", name, x, y, got.A)
					}
					continue
				}
				d := absDiff(uint32(got.R), uint32(want.R)) + absDiff(uint32(got.G), uint32(want.G)) + absDiff(uint32(got.B), uint32(want.B))
				if d > 15 || got.A != want.A {
					t.Errorf("%s (%d,%d): %v, want about %v", name, x, y, got, want)
				}
			}
		}
	}
	// The progressive files really are progressive (SOF2) and decode.
	data, _ := os.ReadFile(filepath.Join(in, "progressive-ycbcr.jpg"))
	if !bytes.Contains(data, []byte{0xFF, 0xC2}) {
		t.Fatal("dcJPEG wrote no SOF2 marker")
	}
	if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// TestSharedProgressivePhoto converts a real progressive JPEG from
// ../shared/photos when the checkout has it beside it (developers'
// machines); TestUnusualEncodings covers progressive files everywhere.
func TestSharedProgressivePhoto(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "photos")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("%s not present", dir)
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) || !hasSOF2(data) {
			continue
		}
		out := filepath.Join(t.TempDir(), "out")
		sum, rec := run(t, options(t, builtin.Cartoon, out, path))
		if sum.Converted != 1 {
			t.Fatalf("%s: %+v %v", path, sum, rec.failed)
		}
		t.Logf("converted the progressive %s", path)
		return
	}
	t.Skipf("no progressive JPEG in %s", dir)
}

// hasSOF2 walks the JPEG markers up to the first frame header.
func hasSOF2(b []byte) bool {
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		m := b[i+1]
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			return m == 0xC2
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return false
}

// TestTimeout: an inference stuck past --timeout fails that image with
// "timed out"; the others convert. The slow image needs tens of seconds,
// the small ones milliseconds, so the margin either way is wide.
func TestTimeout(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	slow, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.Slow, Layout: modelgen.NHWC, SlowLayers: 256})
	must(t, err)
	writeFile(t, filepath.Join(in, "big.png"), encode(t, "png", flat(512, 512, color.NRGBA{9, 9, 9, 255})))
	for i := range 3 {
		writeFile(t, filepath.Join(in, fmt.Sprintf("small%d.png", i)), encode(t, "png", flat(16, 16, color.NRGBA{uint8(i), 0, 0, 255})))
	}
	o := options(t, slow, out, in)
	o.MaxSide, o.Timeout = 512, 2e9
	sum, rec := run(t, o)
	if sum.Converted != 3 || sum.Failed != 1 {
		t.Fatalf("summary %+v failures %v", sum, rec.failed)
	}
	if f := rec.failed[0]; filepath.Base(f.Input) != "big.png" || !strings.Contains(f.Err.Error(), "timed out after 2s") {
		t.Fatalf("failure %v, want big.png timed out", f)
	}
	if got := listFiles(t, out); slices.Contains(got, "big.png") {
		t.Fatal("the timed-out image left an output")
	}
}

// TestPanicStackVerbose: a panic in a stage is the image's failure; the
// stack is printed under --verbose only.
func TestPanicStackVerbose(t *testing.T) {
	pe := &pipeline.PanicError{Value: "index out of range", Stack: debug.Stack()}
	f := convert.Failure{Input: "a.jpg", Err: fmt.Errorf("internal error in decode: %w", pe)}
	for _, v := range []convert.Verbosity{convert.Normal, convert.Verbose} {
		var buf bytes.Buffer
		p := &convert.Printer{W: &buf, Verbosity: v}
		p.Failed(f)
		text := buf.String()
		if !strings.HasPrefix(text, "FAIL a.jpg: internal error in decode: panic: index out of range\n") {
			t.Errorf("verbosity %d: %q", v, text)
		}
		if hasStack := strings.Contains(text, "TestPanicStackVerbose"); hasStack != (v == convert.Verbose) {
			t.Errorf("verbosity %d: stack shown %v:\n%s", v, hasStack, text)
		}
	}
}

// TestFailureLineQuoting: names with newlines or control characters stay on
// one line, quoted; ordinary names (spaces, unicode, dashes) are as is.
func TestFailureLineQuoting(t *testing.T) {
	cases := []struct{ name, want string }{
		{"photos/my photo.jpg", "FAIL photos/my photo.jpg: bad"},
		{"фото/写真 ✓.png", "FAIL фото/写真 ✓.png: bad"},
		{"-x.jpg", "FAIL -x.jpg: bad"},
		{"two\nlines.jpg", `FAIL "two\nlines.jpg": bad`},
		{"tab\t.jpg", `FAIL "tab\t.jpg": bad`},
		{" ", `FAIL " ": bad`},
	}
	for _, c := range cases {
		if got := (convert.Failure{Input: c.name, Err: fmt.Errorf("bad")}).String(); got != c.want {
			t.Errorf("%q: %q, want %q", c.name, got, c.want)
		}
	}
	got := convert.Failure{Input: "a", Err: fmt.Errorf("writing b\nc: no space")}.String()
	if got != `FAIL a: writing b\nc: no space` {
		t.Errorf("reason with a newline: %q", got)
	}
}

// cancelAfter is a recorder that cancels the run after n outputs.
type cancelAfter struct {
	recorder
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Converted(t convert.Target, copied bool, timings convert.Timings) {
	c.recorder.Converted(t, copied, timings)
	if len(c.recorder.converted) == c.n {
		c.cancel()
	}
}

// TestCancelMidBatch: cancelling in the middle keeps every finished output
// whole and recorded, leaves no temp file, and the next run does exactly
// the rest.
func TestCancelMidBatch(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	const n = 24
	for i := range n {
		writeFile(t, filepath.Join(in, fmt.Sprintf("%02d.png", i)), encode(t, "png", flat(32, 32, color.NRGBA{uint8(10 * i), 3, 3, 255})))
	}
	slow, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.Slow, Layout: modelgen.NHWC, SlowLayers: 32})
	must(t, err)
	o := options(t, slow, out, in)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &cancelAfter{n: 5, cancel: cancel}
	sum, err := convert.Run(ctx, o, rec)
	must(t, err)
	if !sum.Interrupted || sum.Converted < 5 || sum.Failed != 0 || sum.Converted+sum.NotStarted != n {
		t.Fatalf("interrupted run: %+v", sum)
	}
	files := listFiles(t, out)
	if len(files) != sum.Converted+1 {
		t.Fatalf("%d converted but the folder holds %v", sum.Converted, files)
	}
	for _, f := range files {
		if f != convert.ManifestName {
			decodeFile(t, filepath.Join(out, f)) // whole, or this fails
		}
	}
	again, _ := run(t, o)
	if again.Skipped != sum.Converted || again.Converted != n-sum.Converted || again.Failed != 0 {
		t.Fatalf("re-run %+v after %d converted", again, sum.Converted)
	}
}
