package model_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"animegan/internal/ortest"
	"animegan/model"
	"animegan/modelgen"
)

// telemetryChildEnv marks the child process of TestTelemetryOff.
const telemetryChildEnv = "ANIMEGAN_TELEMETRY_CHILD"

// TestTelemetryOff runs ONNX Runtime in a child process whose home, cache
// and temporary folders are empty, with no say from the user, and checks
// that nothing is written there. ORT reads its switch once per process, so
// only a fresh process can tell. With the switch left on, ORT 1.30 leaves
// a device id and an event database under the cache folder and a
// mat-debug-PID.log in the temporary folder.
func TestTelemetryOff(t *testing.T) {
	if os.Getenv(telemetryChildEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTelemetryChild$", "-test.v", "-test.count=1")
	cmd.Env = []string{telemetryChildEnv + "=1", "HOME=" + dir, "XDG_CACHE_HOME=" + filepath.Join(dir, "cache"), "TMPDIR=" + dir}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "HOME", "XDG_CACHE_HOME", "TMPDIR", model.TelemetryEnv,
			// ORT also keeps quiet on CI machines it recognises; the test
			// must not pass there for that reason alone.
			"CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, model.LibraryEnv+"="+ortest.LibraryPath())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "runtime: telemetry off") {
		t.Errorf("child did not report telemetry off:\n%s", out)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && path != dir {
			t.Errorf("ONNX Runtime wrote %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTelemetryChild is TestTelemetryOff's child: it loads ONNX Runtime,
// creates a session and runs it, as convert does.
func TestTelemetryChild(t *testing.T) {
	if os.Getenv(telemetryChildEnv) == "" {
		t.Skip("run by TestTelemetryOff")
	}
	rt := ortest.Init(t)
	t.Logf("runtime: %s", rt.TelemetryState())
	data := fixture(t, modelgen.FixtureSpec{Layout: modelgen.NCHW})
	spec, err := model.Inspect("fixture.onnx", data, model.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := model.NewSession(spec, data, model.DefaultSessionOptions(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(context.Background(), testImage(16, 16)); err != nil {
		t.Fatal(err)
	}
}
