package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// peakRSSEnv makes the test binary a runner (TestMain): it runs its
// arguments as a command and writes the command's peak RSS into the file
// the variable names.
//
// Why a runner: Go starts a child with vfork (CLONE_VM), and on exec the
// kernel folds the high-water RSS of the memory the child shared until
// then, the parent's, into the child's ru_maxrss. A child of the test
// process so reports at least the test process's own peak (500 MB and
// more under the race detector, after a few tests), whatever it used
// itself. The runner is a fresh process whose own peak is a few tens of
// MB, so its child's ru_maxrss is the child's.
const peakRSSEnv = "ANIMEGAN_TEST_PEAK_RSS_FILE"

// runMeasured is the runner: it exits with the command's status.
func runMeasured(file string, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, peakRSSEnv+"=") })
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		os.Stderr.WriteString("peak RSS runner: " + err.Error() + "\n")
		return 125
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return 125
	}
	if err := os.WriteFile(file, []byte(strconv.FormatInt(ru.Maxrss<<10, 10)), 0o644); err != nil { // KiB on Linux
		return 125
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// measurePeak makes cmd run under the runner (peakRSSEnv); after cmd has
// run, peak returns the peak RSS of the command itself, in bytes.
func measurePeak(t *testing.T, cmd *exec.Cmd) (peak func() int64) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "peak-rss")
	cmd.Args = append([]string{os.Args[0], cmd.Path}, cmd.Args[1:]...)
	cmd.Path = os.Args[0]
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, peakRSSEnv+"="+file)
	return func() int64 {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("the peak RSS runner wrote nothing: %v", err)
		}
		n, err := strconv.ParseInt(string(data), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}
