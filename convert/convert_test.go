package convert_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"animegan/convert"
	"animegan/internal/ortest"
	"animegan/modelgen"
	"animegan/synth"
)

// recorder is a Reporter that keeps what it heard.
type recorder struct {
	mu        sync.Mutex
	converted []string
	copied    []string
	failed    []convert.Failure
	todo      int
	skipped   int
}

func (r *recorder) Begin(todo, skipped int, _ convert.Settings) { r.todo, r.skipped = todo, skipped }
func (r *recorder) Skipped(convert.Target, string)              {}
func (r *recorder) Converted(t convert.Target, copied bool, _ convert.Timings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if copied {
		r.copied = append(r.copied, t.OutRel)
	}
	r.converted = append(r.converted, t.OutRel)
}
func (r *recorder) Failed(f convert.Failure)    { r.failed = append(r.failed, f) }
func (r *recorder) Logf(string, ...any)         {}
func (r *recorder) Planned([]convert.PlanEntry) {}
func (r *recorder) End(*convert.Summary)        {}

// swapInvert is the fixture model whose output tests can predict exactly.
func swapInvert(t testing.TB, layout modelgen.Layout) []byte {
	t.Helper()
	data, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.SwapInvert, Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func options(t testing.TB, modelData []byte, out string, inputs ...string) convert.Options {
	t.Helper()
	ortest.Init(t)
	return convert.Options{
		Inputs: inputs, OutDir: out, ModelName: "fixture", ModelData: modelData,
		ORTLib: ortest.LibraryPath(), MaxSide: 64, Jobs: convert.Jobs{Decode: 2, Infer: 2, Encode: 2}, Cores: 2,
	}
}

func run(t testing.TB, o convert.Options) (*convert.Summary, *recorder) {
	t.Helper()
	rec := &recorder{}
	sum, err := convert.Run(context.Background(), o, rec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum, rec
}

// flat is a uniform image with a distinct top-left corner, so orientation
// and layout mistakes show.
func flat(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "jpg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	case "png":
		err = png.Encode(&b, img)
	case "gif":
		err = gif.Encode(&b, img, nil)
	case "bmp":
		err = bmp.Encode(&b, img)
	case "tif":
		err = tiff.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodeFile(t testing.TB, path string) (image.Image, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img, format
}

func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(files)
	return files
}

// TestConvertTree converts a nested folder of every writable format and
// checks names, formats, sizes and pixels of the results.
func TestConvertTree(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	red := color.NRGBA{200, 40, 10, 255}
	writeFile(t, filepath.Join(in, "a.jpg"), encode(t, "jpg", flat(80, 40, red)))
	writeFile(t, filepath.Join(in, "sub/b.png"), encode(t, "png", flat(30, 50, red)))
	writeFile(t, filepath.Join(in, "sub/deeper/c.gif"), encode(t, "gif", flat(16, 16, red)))
	writeFile(t, filepath.Join(in, "d.bmp"), encode(t, "bmp", flat(20, 20, red)))
	writeFile(t, filepath.Join(in, "e.TIF"), encode(t, "tif", flat(20, 20, red)))
	writeFile(t, filepath.Join(in, "notes.txt"), []byte("not a photo"))
	writeFile(t, filepath.Join(in, ".hidden.jpg"), encode(t, "jpg", flat(8, 8, red)))
	writeFile(t, filepath.Join(in, "._a.jpg"), []byte("resource fork"))
	writeFile(t, filepath.Join(in, "desktop.ini"), []byte("[junk]"))

	sum, rec := run(t, options(t, swapInvert(t, modelgen.NHWC), out, in))
	if sum.Converted != 5 || sum.Failed != 0 || sum.Ignored != 1 || rec.todo != 5 {
		t.Fatalf("summary %+v failures %v", sum, rec.failed)
	}
	want := []string{convert.ManifestName, "a.jpg", "d.png", "e.png", "sub/b.png", "sub/deeper/c.png"}
	if got := listFiles(t, out); !slices.Equal(got, want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	cases := []struct {
		file, format string
		w, h         int
		paletted     bool // GIF's palette shifts the colour
	}{
		{"a.jpg", "jpeg", 64, 32, false},    // 80x40 at --max-size 64
		{"sub/b.png", "png", 24, 48, false}, // 30x50 floored to multiples of 8
		{"sub/deeper/c.png", "png", 16, 16, true},
		{"d.png", "png", 16, 16, false},
		{"e.png", "png", 16, 16, false},
	}
	for _, c := range cases {
		img, format := decodeFile(t, filepath.Join(out, c.file))
		if format != c.format || img.Bounds().Dx() != c.w || img.Bounds().Dy() != c.h {
			t.Errorf("%s: %s %v, want %s %dx%d", c.file, format, img.Bounds(), c.format, c.w, c.h)
		}
		if c.paletted {
			continue
		}
		// swap-invert of (200,40,10) is (245,215,55).
		r, g, b, _ := img.At(c.w/2, c.h/2).RGBA()
		if d := absDiff(r>>8, 245) + absDiff(g>>8, 215) + absDiff(b>>8, 55); d > 12 {
			t.Errorf("%s: centre colour (%d,%d,%d), want about (245,215,55)", c.file, r>>8, g>>8, b>>8)
		}
	}
}

func absDiff(a uint32, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestKeepSizeAndAlpha checks --keep-size and that transparency survives.
func TestKeepSizeAndAlpha(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	img := flat(100, 60, color.NRGBA{0, 0, 255, 255})
	for y := range 60 {
		for x := range 50 { // left half transparent
			img.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 0})
		}
	}
	writeFile(t, filepath.Join(in, "alpha.png"), encode(t, "png", img))
	o := options(t, swapInvert(t, modelgen.NCHW), out, in)
	o.KeepSize = true
	sum, _ := run(t, o)
	if sum.Converted != 1 {
		t.Fatalf("summary %+v", sum)
	}
	res, _ := decodeFile(t, filepath.Join(out, "alpha.png"))
	if res.Bounds().Dx() != 100 || res.Bounds().Dy() != 60 {
		t.Fatalf("--keep-size gave %v, want 100x60", res.Bounds())
	}
	if _, _, _, a := res.At(10, 30).RGBA(); a != 0 {
		t.Errorf("transparent side has alpha %d", a>>8)
	}
	// Blue (0,0,255) swapped is (255,0,0), inverted (0,255,255).
	if r, g, b, a := res.At(90, 30).RGBA(); a>>8 != 255 || r>>8 > 50 || g>>8 < 200 || b>>8 < 200 {
		t.Errorf("opaque side: (%d,%d,%d,%d), want (0,255,255,255)", r>>8, g>>8, b>>8, a>>8)
	}
}

// TestCollisions: inputs that map to one output name all keep a result.
func TestCollisions(t *testing.T) {
	a, b, out := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "out")
	for i, p := range []string{filepath.Join(a, "photo.png"), filepath.Join(a, "photo.gif"), filepath.Join(a, "photo.bmp"), filepath.Join(b, "photo.png")} {
		// Different content each, so none is converted as a duplicate.
		writeFile(t, p, encode(t, strings.TrimPrefix(filepath.Ext(p), "."), flat(16, 16, color.NRGBA{uint8(40 * i), 0, 0, 255})))
	}
	sum, _ := run(t, options(t, swapInvert(t, modelgen.NHWC), out, a, b))
	if sum.Converted != 4 || sum.Duplicates != 0 {
		t.Fatalf("summary %+v", sum)
	}
	want := []string{convert.ManifestName, "photo.bmp.png", "photo.gif.png", "photo.png", "photo~2.png"}
	if got := listFiles(t, out); !slices.Equal(got, want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
}

// TestResume: a re-run does only what changed.
func TestResume(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	for i := range 4 {
		writeFile(t, filepath.Join(in, fmt.Sprintf("p%d.png", i)), encode(t, "png", flat(16, 16, color.NRGBA{uint8(50 * i), 9, 9, 255})))
	}
	o := options(t, swapInvert(t, modelgen.NHWC), out, in)
	if sum, _ := run(t, o); sum.Converted != 4 {
		t.Fatalf("first run %+v", sum)
	}
	if sum, _ := run(t, o); sum.Converted != 0 || sum.Skipped != 4 {
		t.Fatalf("unchanged re-run %+v", sum)
	}

	// A changed input, a deleted output, and a touched-but-same input.
	writeFile(t, filepath.Join(in, "p0.png"), encode(t, "png", flat(16, 16, color.NRGBA{1, 2, 3, 255})))
	os.Remove(filepath.Join(out, "p1.png"))
	data, _ := os.ReadFile(filepath.Join(in, "p2.png"))
	writeFile(t, filepath.Join(in, "p2.png"), data)
	sum, rec := run(t, o)
	slices.Sort(rec.converted)
	if sum.Converted != 2 || sum.Skipped != 2 || !slices.Equal(rec.converted, []string{"p0.png", "p1.png"}) {
		t.Fatalf("after changes: %+v converted %v", sum, rec.converted)
	}

	// Other settings redo everything; other -j does not.
	o.Jobs = convert.Jobs{Decode: 1, Infer: 1, Encode: 1}
	if sum, _ := run(t, o); sum.Skipped != 4 {
		t.Fatalf("another -j must resume: %+v", sum)
	}
	o.MaxSide = 8
	if sum, _ := run(t, o); sum.Converted != 4 {
		t.Fatalf("another --max-size must redo: %+v", sum)
	}
	o.Overwrite = true
	if sum, _ := run(t, o); sum.Converted != 4 {
		t.Fatalf("--overwrite must redo: %+v", sum)
	}
}

// TestDuplicates: identical inputs are inferred once and copied.
func TestDuplicates(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	data := encode(t, "png", flat(16, 16, color.NRGBA{7, 8, 9, 255}))
	for _, name := range []string{"x.png", "y.png", "sub/z.png"} {
		writeFile(t, filepath.Join(in, name), data)
	}
	o := options(t, swapInvert(t, modelgen.NHWC), out, in)
	sum, rec := run(t, o)
	if sum.Converted != 3 || sum.Duplicates != 2 || len(rec.copied) != 2 {
		t.Fatalf("summary %+v copied %v", sum, rec.copied)
	}
	x, _ := os.ReadFile(filepath.Join(out, "x.png"))
	z, _ := os.ReadFile(filepath.Join(out, "sub/z.png"))
	if !bytes.Equal(x, z) {
		t.Fatal("copies differ from the converted output")
	}
	// A new identical file later is copied from the finished output.
	writeFile(t, filepath.Join(in, "w.png"), data)
	sum, _ = run(t, o)
	if sum.Converted != 1 || sum.Duplicates != 1 || sum.Skipped != 3 {
		t.Fatalf("second run %+v", sum)
	}
}

// TestBadInputs: each bad input fails with its name and reason, nothing is
// written for it, and the good ones are converted.
func TestBadInputs(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	good := encode(t, "jpg", flat(32, 32, color.NRGBA{90, 90, 90, 255}))
	writeFile(t, filepath.Join(in, "good.jpg"), good)
	writeFile(t, filepath.Join(in, "empty.jpg"), nil)
	writeFile(t, filepath.Join(in, "truncated.jpg"), good[:len(good)/2])
	writeFile(t, filepath.Join(in, "text.jpg"), []byte("hello, I am not a JPEG\n"))
	writeFile(t, filepath.Join(in, "photo.heic"), append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...))
	if err := os.MkdirAll(filepath.Join(in, "folder.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := options(t, swapInvert(t, modelgen.NHWC), out, in, filepath.Join(in, "missing.png"))
	sum, rec := run(t, o)
	if sum.Converted != 1 || sum.Failed != 5 || len(rec.failed) != 5 {
		t.Fatalf("summary %+v failures %v", sum, rec.failed)
	}
	reasons := map[string]string{
		"empty.jpg": "empty", "truncated.jpg": "truncated", "text.jpg": "unknown format",
		"photo.heic": "HEIC", "missing.png": "no such file",
	}
	for _, f := range rec.failed {
		want, ok := reasons[filepath.Base(f.Input)]
		if !ok || !strings.Contains(f.Err.Error(), want) {
			t.Errorf("%s: %v, want a reason containing %q", f.Input, f.Err, want)
		}
	}
	if got := listFiles(t, out); !slices.Equal(got, []string{convert.ManifestName, "good.jpg"}) {
		t.Fatalf("outputs %v: bad inputs must leave nothing behind", got)
	}
}

// TestFailingInference: a model that fails for some sizes fails those
// images only; --fail-fast stops at the first.
func TestFailingInference(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	data, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.Multiple16, Layout: modelgen.NHWC})
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{32, 24, 48, 40, 16} { // 24 and 40 are not multiples of 16
		writeFile(t, filepath.Join(in, fmt.Sprintf("%d-%d.png", i, size)), encode(t, "png", flat(size, size, color.NRGBA{uint8(i), 0, 0, 255})))
	}
	o := options(t, data, out, in)
	sum, rec := run(t, o)
	if sum.Converted != 3 || sum.Failed != 2 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range rec.failed {
		if !strings.Contains(f.Err.Error(), "--multiple 16") {
			t.Errorf("%s: %v, want advice to use --multiple 16", f.Input, f.Err)
		}
	}
	o.Overrides.Multiple = 16
	if sum, _ := run(t, o); sum.Failed != 0 || sum.Converted != 5 {
		t.Fatalf("with --multiple 16: %+v", sum)
	}

	o.Overrides.Multiple, o.FailFast, o.Overwrite = 0, true, true
	o.Jobs = convert.Jobs{Decode: 1, Infer: 1, Encode: 1}
	sum, _ = run(t, o)
	// Images already in flight still finish (and may fail too); the rest
	// are never started.
	if sum.Failed < 1 || sum.NotStarted < 1 || sum.Converted+sum.Failed+sum.NotStarted != 5 {
		t.Fatalf("--fail-fast: %+v", sum)
	}
}

func TestSetupErrors(t *testing.T) {
	in := t.TempDir()
	writeFile(t, filepath.Join(in, "a.png"), encode(t, "png", flat(8, 8, color.NRGBA{1, 1, 1, 255})))
	bad, err := modelgen.Fixture(modelgen.FixtureSpec{Kind: modelgen.TwoInputs})
	if err != nil {
		t.Fatal(err)
	}
	// A file that reads as a model but names an operator ONNX Runtime does
	// not have: only loading it into a session finds out.
	unknownOp := bytes.ReplaceAll(swapInvert(t, modelgen.NHWC), []byte("\x22\x03Neg"), []byte("\x22\x03Ngx"))
	cases := []struct {
		name   string
		mutate func(*convert.Options)
		want   string
	}{
		{"output is the input", func(o *convert.Options) { o.OutDir = in }, "is the input folder"},
		{"invalid model", func(o *convert.Options) { o.ModelData = bad }, "exactly one image input"},
		{"model ONNX Runtime rejects", func(o *convert.Options) { o.ModelData = unknownOp }, "model fixture: creating session"},
		{"bad quality", func(o *convert.Options) { o.Quality = 101 }, "--quality"},
		{"missing runtime", func(o *convert.Options) { o.ORTLib = "/nonexistent/libonnxruntime.so" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := options(t, swapInvert(t, modelgen.NHWC), filepath.Join(t.TempDir(), "out"), in)
			tc.mutate(&o)
			_, err := convert.Run(context.Background(), o, &recorder{})
			var se *convert.SetupError
			if !errors.As(err, &se) {
				if tc.name == "missing runtime" && err == nil {
					// The runtime is process-wide: once loaded, --ort-lib
					// cannot unload it. The CLI test checks this case in
					// a fresh process.
					return
				}
				t.Fatalf("got %v, want a setup error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
			if _, err := os.Stat(o.OutDir); o.OutDir != in && err == nil {
				t.Fatalf("the output folder was created before the setup error")
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	for i := range 6 {
		writeFile(t, filepath.Join(in, fmt.Sprintf("%d.png", i)), encode(t, "png", flat(16, 16, color.NRGBA{uint8(i), 0, 0, 255})))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, err := convert.Run(ctx, options(t, swapInvert(t, modelgen.NHWC), out, in), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.Converted+sum.NotStarted != 6 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range listFiles(t, out) {
		if strings.Contains(f, "tmp") {
			t.Fatalf("temp file left behind: %s", f)
		}
	}
}

// TestOrientation: every EXIF orientation comes out upright.
func TestOrientation(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	// Upright: 32x16, a red top-left quarter on grey.
	upright := flat(32, 16, color.NRGBA{128, 128, 128, 255})
	for y := range 8 {
		for x := range 16 {
			upright.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
		}
	}
	for o := 1; o <= 8; o++ {
		data, err := synth.EncodeJPEG(upright, 95, o)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(in, fmt.Sprintf("o%d.jpg", o)), data)
	}
	// A stale temp file from a killed run is cleaned up.
	writeFile(t, filepath.Join(out, ".o1.jpg.animegan-tmp-0123456789abcdef"), []byte("partial"))
	sum, _ := run(t, options(t, swapInvert(t, modelgen.NHWC), out, in))
	if sum.Converted != 8 {
		t.Fatalf("summary %+v", sum)
	}
	for o := 1; o <= 8; o++ {
		img, _ := decodeFile(t, filepath.Join(out, fmt.Sprintf("o%d.jpg", o)))
		if img.Bounds().Dx() != 32 || img.Bounds().Dy() != 16 {
			t.Fatalf("orientation %d: result %v, want upright 32x16", o, img.Bounds())
		}
		// Red swapped and inverted is (255,255,0): yellow top-left.
		r, g, b, _ := img.At(4, 4).RGBA()
		if r>>8 < 200 || g>>8 < 200 || b>>8 > 60 {
			t.Errorf("orientation %d: top-left (%d,%d,%d), want yellow", o, r>>8, g>>8, b>>8)
		}
		r, g, b, _ = img.At(28, 12).RGBA()
		if absDiff(r>>8, 127)+absDiff(g>>8, 127)+absDiff(b>>8, 127) > 30 {
			t.Errorf("orientation %d: bottom-right (%d,%d,%d), want grey", o, r>>8, g>>8, b>>8)
		}
	}
	if got := listFiles(t, out); len(got) != 9 {
		t.Fatalf("outputs %v: want 8 images and the manifest, no temp file", got)
	}
}

// TestMemoryBudget: a budget that holds one inference admits one at a
// time however many workers there are, and says so in the summary.
func TestMemoryBudget(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	for i := range 8 {
		writeFile(t, filepath.Join(in, fmt.Sprintf("%d.png", i)), encode(t, "png", flat(48, 48, color.NRGBA{uint8(20 * i), 0, 0, 255})))
	}
	o := options(t, swapInvert(t, modelgen.NHWC), out, in)
	o.Jobs = convert.Jobs{Decode: 2, Infer: 4, Encode: 2}
	o.MemBudget = 1 // smaller than any inference: each is refused, none started
	sum, _ := run(t, o)
	if sum.Converted != 0 || sum.Failed != 8 || sum.Budget == nil || sum.Budget.PeakConcurrency != 0 {
		t.Fatalf("summary %+v: want every image refused", sum)
	}
	for _, f := range sum.Failures {
		var tl *convert.TooLargeError
		if !errors.As(f.Err, &tl) || !strings.Contains(f.Err.Error(), "raise --mem-budget") {
			t.Fatalf("failure %v: want the budget's refusal", f)
		}
	}
	if got := listFiles(t, out); len(got) != 1 {
		t.Fatalf("outputs %v: want only the manifest", got)
	}
	b := sum.Budget
	if b.Limit != 1 || b.CostSource != "calibrated" || b.CostBase <= 0 {
		t.Fatalf("budget %+v: want a measured cost", b)
	}

	// Room for one inference, not two: one at a time, all converted.
	one := b.CostBase + int64(b.CostPerPixel*48*48)
	o.MemBudget = one * 3 / 2
	sum, _ = run(t, o)
	if sum.Converted != 8 || sum.Budget == nil {
		t.Fatalf("summary %+v", sum)
	}
	if b := sum.Budget; b.PeakConcurrency != 1 || b.CostSource != "calibrated" {
		t.Fatalf("budget %+v: want one inference at a time and a measured cost", b)
	}

	o.MemBudget, o.Overwrite = 1<<40, true // room for all
	sum, _ = run(t, o)
	if sum.Budget.PeakConcurrency < 1 || sum.Budget.PeakConcurrency > 4 {
		t.Fatalf("budget %+v", sum.Budget)
	}
	o.MemBudget = -1
	if sum, _ = run(t, o); sum.Budget != nil {
		t.Fatalf("--mem-budget off still reports a budget: %+v", sum.Budget)
	}
}
