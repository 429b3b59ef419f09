// Package cgtest makes real cgroup v1 memory cgroups for tests, the way
// Slurm's task/cgroup makes one per job (memory.limit_in_bytes = --mem),
// and starts processes inside them. Tests that need one skip, saying why,
// where the machine does not allow it (not root, no v1 memory controller,
// a read-only hierarchy).
package cgtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"animegan/internal/sysmem"
)

// Group is a cgroup a test made.
type Group struct {
	Dir  string // its directory under the v1 memory mount
	Path string // its path in the hierarchy, as /proc/PID/cgroup shows it
}

// V1Memory makes a memory cgroup with memory.limit_in_bytes = limit below
// parent (nil: the hierarchy's root), named animegan-test-PID-name. It is
// removed when the test ends, pass or fail, after every process still in
// it is killed; a child group made later is removed first.
func V1Memory(t testing.TB, parent *Group, name string, limit int64) *Group {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a cgroup needs root")
	}
	base, path := "", "/"
	if parent != nil {
		base, path = parent.Dir, parent.Path
	} else {
		for _, cg := range (sysmem.Reader{}).Cgroups() {
			if cg.Version == 1 {
				base = cg.Mount
			}
		}
		if base == "" {
			t.Skip("no cgroup v1 memory controller mounted here (cgroup v2 only, or no cgroups)")
		}
	}
	leaf := fmt.Sprintf("animegan-test-%d-%s", os.Getpid(), name)
	g := &Group{Dir: filepath.Join(base, leaf), Path: filepath.Join(path, leaf)}
	if err := os.Mkdir(g.Dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup v1 memory cgroup here: %v", err)
	}
	t.Cleanup(func() { g.remove(t) })
	if err := os.WriteFile(filepath.Join(g.Dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		t.Fatalf("setting %s's memory limit: %v", g.Dir, err)
	}
	return g
}

// Command is name with args, started inside g: a shell writes its own
// pid to g's cgroup.procs and then execs the program, so that nothing
// the program does runs outside the cgroup.
func (g *Group) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("sh", append([]string{"-c", `echo $$ >"$0" && exec "$@"`,
		filepath.Join(g.Dir, "cgroup.procs"), name}, args...)...)
}

// remove kills what is left in g and below it and deletes them all,
// deepest first (the code under test may have made cgroups inside g).
func (g *Group) remove(t testing.TB) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var dirs []string
		filepath.WalkDir(g.Dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		var pids []string
		for _, dir := range dirs {
			pids = append(pids, strings.Fields(read(filepath.Join(dir, "cgroup.procs")))...)
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		for i := len(dirs) - 1; i > 0; i-- {
			os.Remove(dirs[i])
		}
		err := os.Remove(g.Dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("removing cgroup %s: %v (processes %v)", g.Dir, err, pids)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func read(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}
