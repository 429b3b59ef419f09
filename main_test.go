package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"animegan/internal/ortest"
	"animegan/modelgen"
)

// binary is the animegan executable built once for these tests: exit codes,
// argument parsing and library lookup are checked on a real process.
var binary string

func TestMain(m *testing.M) {
	if f := os.Getenv(peakRSSEnv); f != "" {
		os.Exit(runMeasured(f, os.Args[1:])) // a child's peak RSS (measurePeak)
	}
	if os.Getenv("ANIMEGAN_HARD_EXIT_DIR") != "" {
		os.Exit(m.Run()) // re-run as TestHardExit's converter: no binary needed
	}
	dir, err := os.MkdirTemp("", "animegan-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "animegan")
	build := exec.Command("go", "build", "-tags", strings.Join(buildTags, ","), "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building animegan: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// animegan runs the binary with the test library location in its
// environment (as `make` arranges for users via lib/).
func animegan(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir() // no ./lib there: only the environment finds the library
	// A cache folder of its own: profile saves there, convert -j auto
	// reads there, never the developer's ~/.cache (env may name another).
	cmd.Env = append(cleanEnv(), "ONNXRUNTIME_LIB="+ortest.LibraryPath(), "XDG_CACHE_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
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

func pngFile(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	writePNG(t, path, img)
}

// writePNG encodes img into path, making its folder.
func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExitCodesAndJSON covers the statuses scripts rely on and the --json
// summary, with flags after the folder as users type them.
func TestExitCodesAndJSON(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	pngFile(t, filepath.Join(in, "sub", "b.png"), 24, 24)
	out := filepath.Join(t.TempDir(), "out")

	r := animegan(t, nil, "convert", in, "-o", out, "-j", "1:1:1", "--json", "--max-size", "32")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var sum struct {
		Converted, Skipped, Failed int
		Failures                   []struct{ Input, Error string }
		Seconds                    float64
		ImagesPerSecond            float64 `json:"images_per_second"`
		Settings                   map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	if sum.Converted != 2 || sum.Failed != 0 || sum.Seconds <= 0 || sum.Settings["max_size"] != float64(32) {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(r.stderr, "converted 2, skipped 0, failed 0") {
		t.Errorf("stderr lacks the text summary:\n%s", r.stderr)
	}

	// Unchanged: all skipped, still 0. One broken input: 1, and named.
	if r := animegan(t, nil, "convert", in, "-o", out, "-q", "--max-size", "32"); r.code != 0 || !strings.Contains(r.stderr, "skipped 2") {
		t.Fatalf("re-run: exit %d\n%s", r.code, r.stderr)
	}
	bad := filepath.Join(in, "broken.png")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	r = animegan(t, nil, "convert", in, "-o", out, "--json", "--max-size", "32")
	if r.code != 1 || !strings.Contains(r.stderr, "FAIL "+bad+":") {
		t.Fatalf("broken input: exit %d\n%s", r.code, r.stderr)
	}
	json.Unmarshal([]byte(r.stdout), &sum)
	if sum.Failed != 1 || len(sum.Failures) != 1 || sum.Failures[0].Input != bad || sum.Failures[0].Error == "" {
		t.Fatalf("failures in JSON: %+v", sum.Failures)
	}
	if _, err := os.Stat(filepath.Join(out, "broken.png")); !os.IsNotExist(err) {
		t.Fatal("a failed input left an output")
	}
}

func TestUsageErrors(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 8, 8)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no inputs", []string{"convert"}, "name at least one photo"},
		{"bad jobs", []string{"convert", in, "-j", "0"}, "worker count"},
		{"bad jobs form", []string{"convert", in, "-j", "1:2"}, "L:I:E"},
		{"bad format", []string{"convert", in, "--format", "gif"}, "want jpg, png or webp"},
		{"bad metadata", []string{"convert", in, "--metadata", "some"}, "--metadata \"some\": want keep or strip"},
		{"unknown flag", []string{"convert", in, "--frobnicate"}, "frobnicate"},
		{"missing model", []string{"convert", in, "-m", "/nonexistent.onnx"}, "/nonexistent.onnx"},
		{"output is input", []string{"convert", in, "-o", in}, "is the input folder"},
		{"bad range", []string{"inspect", "--range", "0,255"}, "range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := animegan(t, nil, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 2 saying %q; stderr:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(in); len(entries) != 1 {
		t.Fatalf("usage errors wrote into the input folder: %v", entries)
	}
}

// TestMissingRuntime: without a loadable library, exit 2 naming every place
// tried and the one command that fixes it.
func TestMissingRuntime(t *testing.T) {
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 8, 8)
	r := animegan(t, []string{"ONNXRUNTIME_LIB=/nowhere/libonnxruntime.so.1"}, "convert", in, "-o", filepath.Join(t.TempDir(), "o"))
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"/nowhere/libonnxruntime.so.1", "$ONNXRUNTIME_LIB", "./scripts/install-onnxruntime.sh"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = animegan(t, nil, "version", "--ort-lib", "/nowhere/x.so")
	if r.code != 2 || !strings.Contains(r.stdout, "animegan ") {
		t.Fatalf("version without runtime: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestInspect(t *testing.T) {
	ortest.Init(t)
	dir := t.TempDir()
	write := func(name string, spec modelgen.FixtureSpec) string {
		t.Helper()
		data, err := modelgen.Fixture(spec)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fixed := write("fixed.onnx", modelgen.FixtureSpec{Layout: modelgen.NCHW, Height: 512, Width: 512, Input: "input_image"})
	twoIn := write("two.onnx", modelgen.FixtureSpec{Kind: modelgen.TwoInputs})
	v2data, err := modelgen.AnimeGANv2(modelgen.NHWC, 1)
	if err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(dir, "v2.onnx")
	if err := os.WriteFile(v2, v2data, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"built-in", []string{"inspect"}, 0, []string{"input_image float32 [?,?,?,3]", "NHWC", "dynamic", "[-1,1] (metadata)", "intra-op threads",
			"exact: no operation looks at the whole image, so tiles need no rewrite", "receptive field 6 px on each side (traced); default tile overlap 8 px"}},
		{"animeganv2 tiling", []string{"inspect", v2}, 0, []string{"thumbnail statistics: 24 normalisations over the whole image (24 GroupNorm(1) as InstanceNormalization)",
			"2 align_corners Resizes (", ") sample at the whole image's coordinates in tiles",
			"receptive field 48 px on each side (traced); default tile overlap 48 px"}},
		{"animeganv2 tiling json", []string{"inspect", "--json", v2}, 0, []string{`"Mode": "thumbnail"`, `"Pattern": "GroupNorm(1) as InstanceNormalization"`, `"Resamples": [`, `"Overlap": 48`}},
		{"fixed nchw", []string{"inspect", fixed, "-j", "2"}, 0, []string{"NCHW", "fixed 512x512", "intra-op threads 1", "decode:infer:encode"}},
		{"two inputs", []string{"inspect", twoIn}, 2, []string{twoIn, "exactly one image input, found 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := animegan(t, nil, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, r.stdout, r.stderr)
				}
			}
		})
	}
}

// TestSharedModels checks the project against the PyTorch exports of the
// AnimeGANv2 architecture when ../shared is beside the checkout (it is on
// the developers' machines, not on a user's).
func TestSharedModels(t *testing.T) {
	ortest.Init(t)
	shared := filepath.Join(ortest.ModuleRoot(), "..", "shared")
	for _, c := range []struct{ file, layout string }{{"animeganv2-arch-nchw.onnx", "NCHW"}, {"animeganv2-arch-nhwc.onnx", "NHWC"}} {
		path := filepath.Join(shared, "models", c.file)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("%s not present", path)
		}
		r := animegan(t, nil, "inspect", path)
		if r.code != 0 || !strings.Contains(r.stdout, c.layout) || !strings.Contains(r.stdout, "dynamic") {
			t.Fatalf("inspect %s: exit %d\n%s%s", c.file, r.code, r.stdout, r.stderr)
		}
	}
}

func TestInterspersedArgs(t *testing.T) {
	app := []string{"animegan", "convert", "photos", "-j", "4", "--keep-size", "more", "-o=out", "--", "-odd-name.jpg"}
	got := interspersed(commands(), app)
	want := []string{"animegan", "convert", "-j", "4", "--keep-size", "-o=out", "--", "photos", "more", "-odd-name.jpg"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
