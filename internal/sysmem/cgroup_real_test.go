package sysmem_test

import (
	"encoding/json"
	"os"
	"testing"

	"animegan/internal/cgtest"
	"animegan/internal/sysmem"
)

// reportEnv makes the test binary, re-executed, print the limit it reads
// as JSON and exit: a process whose cgroup the test chose.
const reportEnv = "ANIMEGAN_SYSMEM_REPORT_LIMIT"

func TestMain(m *testing.M) {
	if os.Getenv(reportEnv) != "" {
		json.NewEncoder(os.Stdout).Encode(sysmem.ReadLimit())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLimitInRealV1Cgroup runs a process in real cgroup v1 memory cgroups,
// as Slurm's task/cgroup makes them for --mem: the limit it reads is its
// own cgroup's, and an ancestor's when that is smaller.
func TestLimitInRealV1Cgroup(t *testing.T) {
	const gib = int64(1 << 30)
	readIn := func(t *testing.T, g *cgtest.Group) sysmem.Limit {
		t.Helper()
		cmd := g.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), reportEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child in %s: %v", g.Dir, err)
		}
		var l sysmem.Limit
		if err := json.Unmarshal(out, &l); err != nil {
			t.Fatalf("child's report %q: %v", out, err)
		}
		return l
	}
	t.Run("own cgroup 3 GiB", func(t *testing.T) {
		g := cgtest.V1Memory(t, nil, "limit", 3*gib)
		l := readIn(t, g)
		if want := "cgroup v1 " + g.Path + " memory.limit_in_bytes"; l.Hard != 3*gib || l.Source != want {
			t.Errorf("limit %d from %q, want %d from %q", l.Hard, l.Source, 3*gib, want)
		}
	})
	t.Run("parent 2 GiB, own cgroup 3 GiB", func(t *testing.T) {
		parent := cgtest.V1Memory(t, nil, "parent", 2*gib)
		child := cgtest.V1Memory(t, parent, "child", 3*gib)
		l := readIn(t, child)
		if want := "cgroup v1 " + parent.Path + " memory.limit_in_bytes"; l.Hard != 2*gib || l.Source != want {
			t.Errorf("limit %d from %q, want %d from %q", l.Hard, l.Source, 2*gib, want)
		}
	})
}
