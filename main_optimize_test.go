package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"animegan/internal/cgtest"
	"animegan/internal/ortest"
	"animegan/modelgen"
	"animegan/synth"
)

// TestOptimizeCLI runs `animegan optimize` as a user does: the int8 model
// lands beside the input with exit 0 and a PSNR/speed report, inspect
// calls it int8 (QDQ), convert -m runs it; --min-psnr 99 exits 1 leaving
// nothing; bad input exits 2 naming the problem.
func TestOptimizeCLI(t *testing.T) {
	dir := t.TempDir()
	data, err := modelgen.AnimeGANv2(modelgen.NHWC, 3)
	if err != nil {
		t.Fatal(err)
	}
	mdl := filepath.Join(dir, "v2.onnx")
	if err := os.WriteFile(mdl, data, 0o644); err != nil {
		t.Fatal(err)
	}
	photos := filepath.Join(dir, "photos")
	os.Mkdir(photos, 0o755)
	for i := range 3 {
		b, err := synth.EncodeJPEG(synth.Scene(int64(10+i), 80, 60), 90, 0)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(photos, string(rune('a'+i))+".jpg"), b, 0o644)
	}
	os.WriteFile(filepath.Join(photos, "broken.jpg"), []byte("no"), 0o644)
	int8Path := filepath.Join(dir, "v2.int8.onnx")

	r := animegan(t, nil, "optimize", mdl, "--calibrate", photos, "--samples", "2", "--max-size", "64", "--min-psnr", "99")
	if r.code != 1 || !strings.Contains(r.stderr, "below --min-psnr 99") || !strings.Contains(r.stdout, "PSNR from fp32") {
		t.Fatalf("--min-psnr 99: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(int8Path); !os.IsNotExist(err) {
		t.Fatalf("refused model written: %v", err)
	}

	r = animegan(t, nil, "optimize", mdl, "--calibrate", photos, "--samples", "2", "--max-size", "64")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+int8Path) || !strings.Contains(r.stdout, "the speed of fp32") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "broken.jpg") {
		t.Errorf("the unreadable photo is not named: %s", r.stderr)
	}
	r = animegan(t, nil, "inspect", int8Path)
	if r.code != 0 || !strings.Contains(r.stdout, "int8 (QDQ)") || !strings.Contains(r.stdout, "animegan.calibration.method = percentile") {
		t.Errorf("inspect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(dir, "anime")
	r = animegan(t, nil, "convert", "-m", int8Path, photos, "-o", out, "--max-size", "64")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "converted 3") {
		t.Errorf("convert -m int8 (3 photos and a broken one): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"already quantised", []string{"optimize", int8Path, "--calibrate", photos}, "already quantised"},
		{"-o is the input", []string{"optimize", mdl, "--calibrate", photos, "-o", mdl}, "is the input model"},
		{"not ONNX", []string{"optimize", filepath.Join(photos, "a.jpg"), "--calibrate", photos, "-o", filepath.Join(dir, "x.onnx")}, "cannot read it as an ONNX model"},
		{"no photos", []string{"optimize", mdl}, "--calibrate needs photos"},
		{"unknown method", []string{"optimize", mdl, "--calibrate", photos, "--method", "median"}, "want minmax, percentile or entropy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadDir(dir)
			r := animegan(t, nil, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", r.code, r.stderr, tc.want)
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Errorf("%d entries, %d before", len(after), len(before))
			}
		})
	}
}

// TestOptimizeSIGINT: Ctrl-C while optimize calibrates exits 130 and
// leaves nothing beside the model (no output, no temporary file).
func TestOptimizeSIGINT(t *testing.T) {
	dir := t.TempDir()
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	mdl := filepath.Join(dir, "v2.onnx")
	os.WriteFile(mdl, data, 0o644)
	photos := filepath.Join(dir, "photos")
	os.Mkdir(photos, 0o755)
	for i := range 8 {
		b, err := synth.EncodeJPEG(synth.Scene(int64(20+i), 640, 480), 90, 0)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(photos, string(rune('a'+i))+".jpg"), b, 0o644)
	}
	cmd := exec.Command(binary, "optimize", mdl, "--calibrate", photos, "--samples", "6", "--max-size", "256")
	cmd.Env = append(os.Environ(), "ONNXRUNTIME_LIB="+ortest.LibraryPath())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal once calibration has begun (its first line names it).
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "calibrating") {
		n, err := stderr.Read(buf)
		if err != nil {
			t.Fatalf("optimize ended before calibrating: %v\n%s", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130", err)
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 2 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("left behind: %v", names)
	}
}

// TestOptimizeInV1Cgroup: optimize at --max-size 512 in a cgroup v1 of
// 2 GiB (as a Slurm task with --mem=2G) finishes with no OOM kill: its
// default budget, 75% of that limit, makes it read the activations in
// several passes. The control, the same run with --mem-budget off, holds
// them all at once (about 3 GB for this architecture at 512 px) and is
// OOM-killed: without the budget, the first run would be too.
func TestOptimizeInV1Cgroup(t *testing.T) {
	ortest.Init(t)
	const gib = int64(1 << 30)
	dir := t.TempDir()
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		t.Fatal(err)
	}
	mdl := filepath.Join(dir, "v2.onnx")
	os.WriteFile(mdl, data, 0o644)
	photos := filepath.Join(dir, "photos")
	os.Mkdir(photos, 0o755)
	for i := range 2 { // one calibrated on, one held back
		b, err := synth.EncodeJPEG(synth.Scene(int64(30+i), 512, 512), 90, 0)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(photos, string(rune('a'+i))+".jpg"), b, 0o644)
	}
	run := func(name string, extra ...string) (*exec.ExitError, string, uint64) {
		g := cgtest.V1Memory(t, nil, name, 2*gib)
		cmd := g.Command(binary, append([]string{"optimize", mdl, "--calibrate", photos, "--samples", "1",
			"--max-size", "512", "--min-psnr", "0", "-o", filepath.Join(dir, name+".onnx")}, extra...)...)
		cmd.Env = append(cmd.Environ(), "ONNXRUNTIME_LIB="+ortest.LibraryPath())
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		oc, _ := os.ReadFile(filepath.Join(g.Dir, "memory.oom_control"))
		var kills uint64
		for _, line := range strings.Split(string(oc), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				kills, _ = strconv.ParseUint(v, 10, 64)
			}
		}
		return ee, string(out), kills
	}
	ee, out, kills := run("budget")
	if ee != nil || kills != 0 || !regexp.MustCompile(`calibrating in [2-9] passes`).MatchString(out) {
		t.Fatalf("in 2 GiB: %v, %d OOM kills, want success in several passes\n%s", ee, kills, out)
	}
	ee, out, kills = run("nobudget", "--mem-budget", "off")
	if ee == nil || kills == 0 {
		t.Errorf("control (--mem-budget off) in 2 GiB: %v, %d OOM kills: want it OOM-killed, else this test proves nothing\n%s", ee, kills, out)
	}
}
