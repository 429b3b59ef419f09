package main

import (
	"bytes"
	"crypto/sha256"
	be "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"animegan/atomicfile"
	"animegan/internal/ortest"
	"animegan/modelgen"
)

// These tests run the real binary on real files under real faults: signals,
// SIGKILL, a full disk, an unprivileged user, hostile file names.

// syncBuffer is a bytes.Buffer a test may read while the child writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// child prepares the binary as a process; the caller starts it.
func child(t *testing.T, dir string, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "ONNXRUNTIME_LIB="+ortest.LibraryPath())
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

// waitFor polls until cond holds or the child exits (false). It is a wait,
// not a timing assertion: the deadline only stops a hung test.
func waitFor(cond func() bool, exited <-chan struct{}) bool {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		select {
		case <-exited:
			return cond()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return false
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// jsonSummary is the part of --json the tests read.
type jsonSummary struct {
	Converted, Skipped, Failed int
	NotStarted                 int `json:"not_started"`
	Interrupted                bool
	Failures                   []struct{ Input, Error string }
}

func parseSummary(t *testing.T, stdout string) jsonSummary {
	t.Helper()
	return parseJSON[jsonSummary](t, stdout)
}

// parseJSON decodes a --json summary into the fields a test reads.
func parseJSON[T any](t *testing.T, stdout string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout)
	}
	return v
}

func writeModel(t *testing.T, dir string, spec modelgen.FixtureSpec) string {
	t.Helper()
	data, err := modelgen.Fixture(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, spec.Kind.String()+".onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// noisePNG writes a w x h PNG of pseudo-random pixels (seeded by seed), so
// that outputs neither compress away nor repeat.
func noisePNG(t *testing.T, path string, w, h int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	writePNG(t, path, img)
}

// treeHashes maps every file below dir (hidden ones included) to its
// SHA-256, to compare folders byte for byte.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	hashes := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hashes[filepath.ToSlash(rel)] = fmt.Sprintf("%x", sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hashes
}

// checkOutputs fails on any temporary file below dir and on any image
// output that does not decode completely; it returns the image outputs.
func checkOutputs(t *testing.T, dir string) []string {
	t.Helper()
	var images []string
	for rel := range treeHashes(t, dir) {
		base := filepath.Base(rel)
		switch {
		case atomicfile.IsTemp(base):
			t.Errorf("partial file left: %s", rel)
		case base == ".animegan-manifest.jsonl":
		default:
			f, err := os.Open(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = image.Decode(f)
			f.Close()
			if err != nil {
				t.Errorf("output %s does not decode: %v", rel, err)
			}
			images = append(images, rel)
		}
	}
	slices.Sort(images)
	return images
}

// slowBatch writes n small noise PNGs and the Slow fixture model (about
// 10-30 ms an image here), for kills and signals to land mid-batch.
func slowBatch(t *testing.T, n int) (in, model string) {
	t.Helper()
	in = t.TempDir()
	for i := range n {
		noisePNG(t, filepath.Join(in, fmt.Sprintf("img%03d.png", i)), 40, 32, uint64(i))
	}
	model = writeModel(t, t.TempDir(), modelgen.FixtureSpec{Kind: modelgen.Slow, Layout: modelgen.NHWC, SlowLayers: 48})
	return in, model
}

// waitForOutput waits until dir holds at least one finished .png.
func waitForOutput(t *testing.T, dir string, exited <-chan struct{}) {
	t.Helper()
	if !waitFor(func() bool {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		return len(matches) > 0
	}, exited) {
		t.Fatal("the child wrote no output")
	}
}

// TestSignals: SIGINT and SIGTERM mid-batch stop the run with 130 and
// 143, the summary printed, finished outputs whole, no partial file, and
// a re-run does the rest. A second signal, sent once the first has been
// handled, either quits at once or finds the run already stopping; either
// way no partial file stays (TestHardExit checks the quit-at-once path
// deterministically).
func TestSignals(t *testing.T) {
	ortest.Init(t)
	const n = 30
	in, model := slowBatch(t, n)
	cases := []struct {
		name  string
		sigs  []syscall.Signal
		code  int
		whole bool // the summary is printed
	}{
		{"SIGINT", []syscall.Signal{syscall.SIGINT}, 130, true},
		{"SIGTERM", []syscall.Signal{syscall.SIGTERM}, 143, true},
		{"SIGINT twice", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, 130, false},
		{"SIGTERM twice", []syscall.Signal{syscall.SIGTERM, syscall.SIGTERM}, 143, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			cmd, stdout, stderr := child(t, t.TempDir(), "convert", in, "-o", out, "-m", model, "-j", "1:2:1", "--json")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait(); close(exited) }()
			waitForOutput(t, out, exited)
			for i, s := range c.sigs {
				if i > 0 {
					// Signals of one kind sent together merge in the
					// kernel: send the next once the first was handled.
					waitFor(func() bool { return strings.Contains(stderr.String(), "stopping") }, exited)
				}
				cmd.Process.Signal(s)
			}
			code := exitCodeOf(t, <-waited)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s", code, c.code, stderr)
			}
			images := checkOutputs(t, out)
			if c.whole {
				sum := parseSummary(t, stdout.String())
				if !sum.Interrupted || sum.Converted != len(images) || sum.Failed != 0 || sum.Converted+sum.NotStarted != n {
					t.Fatalf("summary %+v with %d outputs", sum, len(images))
				}
				if !strings.Contains(stderr.String(), "interrupted: finished outputs are kept") {
					t.Errorf("stderr lacks the interrupted summary:\n%s", stderr)
				}
			} else {
				t.Logf("second signal quit at once: %v", strings.Contains(stderr.String(), "quitting now"))
			}
			// The re-run finishes the batch and redoes nothing finished
			// and recorded.
			cmd, stdout, stderr = child(t, t.TempDir(), "convert", in, "-o", out, "-m", model, "-j", "1:2:1", "--json")
			if err := cmd.Run(); err != nil {
				t.Fatalf("re-run: %v\n%s", err, stderr)
			}
			sum := parseSummary(t, stdout.String())
			if sum.Converted+sum.Skipped != n || sum.Skipped > len(images) || (c.whole && sum.Skipped != len(images)) {
				t.Fatalf("re-run %+v after %d outputs", sum, len(images))
			}
			if got := checkOutputs(t, out); len(got) != n {
				t.Fatalf("%d outputs after the re-run, want %d", len(got), n)
			}
		})
	}
}

// validRecords counts the manifest lines whose output is there at the
// recorded size: what a re-run may skip.
func validRecords(t *testing.T, out string) int {
	data, err := os.ReadFile(filepath.Join(out, ".animegan-manifest.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		var r struct {
			Output     string `json:"output"`
			OutputSize int64  `json:"output_size"`
		}
		if json.Unmarshal([]byte(line), &r) != nil || r.Output == "" {
			continue // torn by the kill
		}
		info, err := os.Stat(filepath.Join(out, r.Output))
		valid[r.Output] = err == nil && info.Size() == r.OutputSize
	}
	n := 0
	for _, ok := range valid {
		if ok {
			n++
		}
	}
	return n
}

// TestKillResume SIGKILLs the converter at random moments, over and over,
// then lets it finish: the output folder ends byte for byte like a clean
// run's, and the last run converts only what no killed run finished.
func TestKillResume(t *testing.T) {
	ortest.Init(t)
	const n, kills = 40, 12
	in, model := slowBatch(t, n)
	args := func(out string) []string {
		return []string{"convert", in, "-o", out, "-m", model, "-j", "1:2:1", "--json", "-q"}
	}

	clean := filepath.Join(t.TempDir(), "clean")
	cmd, _, stderr := child(t, t.TempDir(), args(clean)...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, stderr)
	}
	whole := time.Since(start)

	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 1))
	t.Logf("clean run %s; kill delays drawn with seed %d", whole.Round(time.Millisecond), seed)
	out := filepath.Join(t.TempDir(), "out")
	killed, landed := 0, 0
	for range kills {
		before := validRecords(t, out)
		cmd, _, stderr := child(t, t.TempDir(), args(out)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if code := exitCodeOf(t, err); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			t.Logf("a run finished before its kill")
		case <-time.After(time.Duration(r.Int64N(int64(whole)))):
			cmd.Process.Kill()
			<-exited
			killed++
			if after := validRecords(t, out); after > before && after < n {
				landed++ // killed with some, not all, of the work done
			}
			continue
		}
		break
	}
	t.Logf("%d kills, %d of them mid-batch after some progress", killed, landed)

	done := validRecords(t, out)
	cmd, stdout, stderr := child(t, t.TempDir(), args(out)...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("final run: %v\n%s", err, stderr)
	}
	sum := parseSummary(t, stdout.String())
	if sum.Skipped != done || sum.Converted != n-done || sum.Failed != 0 {
		t.Fatalf("final run %+v: want %d skipped (finished by killed runs) and %d converted", sum, done, n-done)
	}
	checkOutputs(t, out)
	want, got := treeHashes(t, clean), treeHashes(t, out)
	delete(want, ".animegan-manifest.jsonl")
	delete(got, ".animegan-manifest.jsonl")
	if len(got) != n || !mapsEqual(got, want) {
		t.Fatalf("after kills and a re-run the outputs differ from a clean run's:\n got %v\nwant %v", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDiskFull fills a small tmpfs: the images that do not fit fail with
// "no space left on device", nothing partial stays, the exit status is 1,
// and the inputs are untouched.
func TestDiskFull(t *testing.T) {
	ortest.Init(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs (atomicfile's TestInjectedErrors covers ENOSPC without it)")
	}
	out := t.TempDir()
	if msg, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", out).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, msg)
	}
	t.Cleanup(func() { exec.Command("umount", out).Run() })
	in := t.TempDir()
	for i := range 24 {
		noisePNG(t, filepath.Join(in, fmt.Sprintf("n%02d.png", i)), 64, 64, uint64(100+i))
	}
	inputs := treeHashes(t, in)
	model := writeModel(t, t.TempDir(), modelgen.FixtureSpec{Kind: modelgen.SwapInvert, Layout: modelgen.NHWC})
	cmd, stdout, stderr := child(t, t.TempDir(), "convert", in, "-o", out, "-m", model, "--json")
	code := exitCodeOf(t, cmd.Run())
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	sum := parseSummary(t, stdout.String())
	images := checkOutputs(t, out)
	if sum.Failed == 0 || sum.Converted+sum.Failed != 24 || len(images) < sum.Converted {
		t.Fatalf("summary %+v with %d outputs on the disk", sum, len(images))
	}
	for _, f := range sum.Failures {
		if !strings.Contains(f.Error, "no space left on device") {
			t.Errorf("%s: %q, want it to say the disk is full", f.Input, f.Error)
		}
	}
	if !strings.Contains(stderr.String(), "no space left on device") {
		t.Errorf("stderr does not name the cause:\n%s", stderr)
	}
	if !mapsEqual(treeHashes(t, in), inputs) {
		t.Fatal("the inputs changed")
	}
}

// TestBombRSS: a PNG whose header claims 60000x60000 pixels (14.4 GB
// decoded) is rejected from its header: the process's peak RSS stays far
// below one row band of it.
func TestBombRSS(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	bomb := filepath.Join(in, "bomb.png")
	if err := os.WriteFile(bomb, pngBomb(60000, 60000), 0o644); err != nil {
		t.Fatal(err)
	}
	pngFile(t, filepath.Join(in, "fine.png"), 32, 32)
	cmd, stdout, stderr := child(t, t.TempDir(), "convert", in, "-o", filepath.Join(t.TempDir(), "out"), "--json")
	peakOf := measurePeak(t, cmd) // the child's own peak, not the test process's
	if code := exitCodeOf(t, cmd.Run()); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	sum := parseSummary(t, stdout.String())
	if sum.Converted != 1 || sum.Failed != 1 || !strings.Contains(stderr.String(), "FAIL "+bomb+": image too large: PNG is 60000x60000") {
		t.Fatalf("summary %+v\n%s", sum, stderr)
	}
	peak := peakOf()
	t.Logf("peak RSS %d MB", peak>>20)
	if peak > 512<<20 {
		t.Fatalf("peak RSS %d MB: the bomb's pixels were allocated", peak>>20)
	}
}

// pngBomb is a PNG with a real header claiming w x h and a little data.
func pngBomb(w, h uint32) []byte {
	chunk := func(out []byte, typ string, data []byte) []byte {
		out = be.BigEndian.AppendUint32(out, uint32(len(data)))
		start := len(out)
		out = append(out, typ...)
		out = append(out, data...)
		return be.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	ihdr := be.BigEndian.AppendUint32(nil, w)
	ihdr = be.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := chunk([]byte("\x89PNG\r\n\x1a\n"), "IHDR", ihdr)
	out = chunk(out, "IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	return chunk(out, "IEND", nil)
}

// TestAwkwardNames: spaces, unicode, newlines and leading dashes in file
// names. A leading-dash name needs "--" before it or a ./ prefix; without
// either it is read as a flag (exit 2).
func TestAwkwardNames(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	names := []string{"my photo.png", "фото 写真.png", "new\nline.png", "-dash.png", "--double.png"}
	for _, name := range names {
		pngFile(t, filepath.Join(in, name), 16, 16)
	}
	broken := filepath.Join(in, "bro\nken.png")
	if err := os.WriteFile(broken, []byte("\x89PNG\r\n\x1a\ncut"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "walked")
	cmd, _, stderr := child(t, t.TempDir(), "convert", in, "-o", out)
	if code := exitCodeOf(t, cmd.Run()); code != 1 {
		t.Fatalf("exit %d, want 1 (one broken input)\n%s", code, stderr)
	}
	if got := checkOutputs(t, out); !slices.Equal(got, []string{"--double.png", "-dash.png", "my photo.png", "new\nline.png", "фото 写真.png"}) {
		t.Fatalf("outputs %q", got)
	}
	wantLine := fmt.Sprintf("FAIL %q: corrupt or truncated PNG", broken)
	if !slices.ContainsFunc(strings.Split(stderr.String(), "\n"), func(l string) bool { return strings.HasPrefix(l, wantLine) }) {
		t.Errorf("no one-line failure %q in:\n%s", wantLine, stderr)
	}

	// Named one by one from inside the folder.
	for _, c := range []struct {
		name    string
		args    []string
		code    int
		outputs int
	}{
		{"after --", []string{"convert", "-o", "o1", "--", "-dash.png", "--double.png", "my photo.png", "new\nline.png"}, 0, 4},
		{"./ prefix", []string{"convert", "./-dash.png", "./--double.png", "-o", "o2"}, 0, 2},
		{"bare dash name", []string{"convert", "-dash.png", "-o", "o3"}, 2, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, _, stderr := child(t, in, c.args...)
			if code := exitCodeOf(t, cmd.Run()); code != c.code {
				t.Fatalf("exit %d, want %d\n%s", code, c.code, stderr)
			}
			if c.code != 0 {
				if !strings.Contains(stderr.String(), "-dash.png") {
					t.Errorf("the usage error does not name the argument:\n%s", stderr)
				}
				return
			}
			dir := filepath.Join(in, c.args[2])
			if c.name == "./ prefix" {
				dir = filepath.Join(in, "o2")
			}
			got := checkOutputs(t, dir)
			if len(got) != c.outputs || !slices.Contains(got, "-dash.png") || !slices.Contains(got, "--double.png") {
				t.Fatalf("outputs %q", got)
			}
			os.RemoveAll(dir)
		})
	}
}

// TestUnprivileged runs the binary as nobody (uid 65534), since root reads
// through any permission bits: unreadable files and folders fail by name,
// an unwritable output folder is a setup error, an unwritable output
// subfolder fails its images only.
func TestUnprivileged(t *testing.T) {
	ortest.Init(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	root, err := os.MkdirTemp("", "animegan-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	// nobody must reach the binary, the library and the folders.
	for _, d := range []string{root, filepath.Dir(binary)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	asNobody := func(dir string, args ...string) (int, string, string) {
		cmd, stdout, stderr := child(t, dir, args...)
		cmd.Env = append(cmd.Env, "HOME="+root)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return exitCodeOf(t, cmd.Run()), stdout.String(), stderr.String()
	}
	if code, out, errs := asNobody(root, "version"); code != 0 {
		t.Skipf("the binary or ONNX Runtime cannot run as nobody here (exit %d): %s%s", code, out, errs)
	}

	in := filepath.Join(root, "in")
	pngFile(t, filepath.Join(in, "ok.png"), 16, 16)
	pngFile(t, filepath.Join(in, "secret.png"), 16, 16)
	pngFile(t, filepath.Join(in, "locked", "hidden.png"), 16, 16)
	pngFile(t, filepath.Join(in, "sub", "s.png"), 24, 16)
	must(t, os.Chmod(filepath.Join(in, "secret.png"), 0o600))
	must(t, os.Chmod(filepath.Join(in, "locked"), 0o700))
	inputs := treeHashes(t, in)

	out := filepath.Join(root, "out")
	must(t, os.MkdirAll(filepath.Join(out, "sub"), 0o755))
	must(t, os.Chown(out, 65534, 65534)) // out/sub stays root's: unwritable
	code, stdout, stderr := asNobody(root, "convert", in, "-o", out, "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	sum := parseSummary(t, stdout)
	if sum.Converted != 1 || sum.Failed != 3 {
		t.Fatalf("summary %+v\n%s", sum, stderr)
	}
	for _, want := range []string{
		"FAIL " + filepath.Join(in, "secret.png") + ": permission denied",
		"FAIL " + filepath.Join(in, "locked") + ": permission denied",
		"FAIL " + filepath.Join(in, "sub", "s.png") + ": writing " + filepath.Join(out, "sub", "s.png"),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := checkOutputs(t, out); !slices.Equal(got, []string{"ok.png"}) {
		t.Errorf("outputs %q, want only ok.png", got)
	}

	// An output folder nobody may write to: exit 2 before any work.
	ro := filepath.Join(root, "readonly")
	must(t, os.Mkdir(ro, 0o755))
	code, _, stderr = asNobody(root, "convert", in, "-o", ro)
	if code != 2 || !strings.Contains(stderr, "not writable") {
		t.Fatalf("read-only output: exit %d\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 0 {
		t.Errorf("the read-only output folder got %v", entries)
	}
	if !mapsEqual(treeHashes(t, in), inputs) {
		t.Fatal("the inputs changed")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHardExit: the second signal makes the process exit at once with
// 130, and an output being written at that moment leaves no temporary file.
// The test binary itself plays the converter (hardExitHelper), so the
// write is certainly in flight when the second signal lands.
func TestHardExit(t *testing.T) {
	if dir := os.Getenv("ANIMEGAN_HARD_EXIT_DIR"); dir != "" {
		hardExitHelper(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHardExit$")
	cmd.Env = append(os.Environ(), "ANIMEGAN_HARD_EXIT_DIR="+dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); close(exited) }()
	has := func(s string) func() bool { return func() bool { return strings.Contains(stderr.String(), s) } }
	if !waitFor(has("filling"), exited) {
		t.Fatalf("helper never started writing:\n%s", stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || !atomicfile.IsTemp(entries[0].Name()) {
		t.Fatalf("during the write the folder holds %v, want one temp file", entries)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if !waitFor(has("stopping"), exited) {
		t.Fatalf("first signal not handled:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCodeOf(t, <-waited); code != exitSIGINT {
		t.Fatalf("exit %d, want %d\n%s", code, exitSIGINT, stderr.String())
	}
	if !strings.Contains(stderr.String(), "quitting now") {
		t.Errorf("no hard-exit notice:\n%s", stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("after the hard exit the folder holds %v", entries)
	}
}

// hardExitHelper installs the real signal handling and starts an output
// whose content never finishes, as a stuck encoder would.
func hardExitHelper(dir string) {
	_, stop, _ := signalContext(os.Stderr)
	defer stop()
	atomicfile.Write(filepath.Join(dir, "out.png"), 0o644, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 1<<20))
		fmt.Fprintln(os.Stderr, "filling")
		select {} // until the second signal ends the process
	})
}
