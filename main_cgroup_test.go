package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"animegan/internal/cgtest"
	"animegan/internal/ortest"
	"animegan/internal/sysmem"
)

type budgetSummary struct {
	Converted int `json:"converted"`
	Budget    *struct {
		Limit  int64  `json:"limit_bytes"`
		Source string `json:"source"`
	} `json:"memory_budget"`
}

// convertBudget runs cmd (a `convert --json` of one small photo, wrapped)
// and returns the memory budget its summary reports.
func convertBudget(t *testing.T, cmd *exec.Cmd) (int64, string) {
	t.Helper()
	cmd.Env = append(cmd.Environ(), "ONNXRUNTIME_LIB="+ortest.LibraryPath())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	s := parseJSON[budgetSummary](t, string(out))
	if s.Converted != 1 || s.Budget == nil {
		t.Fatalf("summary %s", out)
	}
	return s.Budget.Limit, s.Budget.Source
}

// TestConvertBudgetInV1Cgroup runs convert as a Slurm task with --mem=3G
// runs (in a cgroup v1 whose memory.limit_in_bytes is 3 GiB, entered
// before the program starts): its default budget is 75% of 3 GiB and
// names that cgroup. Under a parent of 2 GiB it is 75% of the parent's.
func TestConvertBudgetInV1Cgroup(t *testing.T) {
	ortest.Init(t)
	const gib = int64(1 << 30)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	convertIn := func(g *cgtest.Group) *exec.Cmd {
		return g.Command(binary, "convert", in, "-o", t.TempDir(), "--json", "--max-size", "32")
	}

	g := cgtest.V1Memory(t, nil, "convert", 3*gib)
	limit, source := convertBudget(t, convertIn(g))
	if want := "75% of cgroup v1 " + g.Path + " memory.limit_in_bytes (3.00 GiB)"; limit != 3*gib/4*3 || source != want {
		t.Errorf("budget %d (%s), want %d (%s)", limit, source, 3*gib/4*3, want)
	}

	parent := cgtest.V1Memory(t, nil, "parent", 2*gib)
	child := cgtest.V1Memory(t, parent, "child", 3*gib)
	limit, source = convertBudget(t, convertIn(child))
	if want := "75% of cgroup v1 " + parent.Path + " memory.limit_in_bytes (2.00 GiB)"; limit != 2*gib/4*3 || source != want {
		t.Errorf("nested: budget %d (%s), want %d (%s)", limit, source, 2*gib/4*3, want)
	}
}

// TestConvertBudgetUnderUlimitV: a `ulimit -v` smaller than every other
// limit sets the budget, counted as the address space it leaves.
func TestConvertBudgetUnderUlimitV(t *testing.T) {
	ortest.Init(t)
	const gib = int64(1 << 30)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	cmd := exec.Command("sh", "-c", `ulimit -v 8388608 && exec "$@"`, "sh",
		binary, "convert", in, "-o", t.TempDir(), "--json", "--max-size", "32")
	if l := sysmem.ReadLimit(); l.Available < 8*gib || (l.Hard > 0 && l.Hard < 8*gib) {
		t.Skipf("another bound is under 8 GiB here (%+v): RLIMIT_AS would not be the smallest", l)
	}
	limit, source := convertBudget(t, cmd)
	if !strings.HasPrefix(source, "75% of RLIMIT_AS (ulimit -v) 8.00 GiB less ") || limit <= 0 || limit >= 8*gib/4*3 {
		t.Errorf("budget %d (%s), want under 6 GiB from RLIMIT_AS", limit, source)
	}
}

// TestProfileLimitInV1Cgroup: profile, run in a 3 GiB cgroup v1 without
// --mem-limit, judges pressure against that limit and names it, and each
// level's convert budget is 75% of it. With --mem-limit 2GiB, each level
// runs in a cgroup v1 of its own below it, limited to 2 GiB.
func TestProfileLimitInV1Cgroup(t *testing.T) {
	ortest.Init(t)
	const gib = int64(1 << 30)
	in := t.TempDir()
	pngFile(t, filepath.Join(in, "a.png"), 40, 30)
	g := cgtest.V1Memory(t, nil, "profile", 3*gib)
	type report struct {
		Memory struct {
			Limit  int64  `json:"limit_bytes"`
			Source string `json:"limit_source"`
		} `json:"memory"`
		Cgroup string `json:"cgroup"`
		Levels []struct {
			Status string `json:"status"`
			Budget *struct {
				Limit int64 `json:"limit_bytes"`
			} `json:"memory_budget"`
		} `json:"levels"`
	}
	profile := func(extra ...string) report {
		js := filepath.Join(t.TempDir(), "p.json")
		cmd := g.Command(binary, append([]string{"profile", in, "--sweep", "1", "--max-size", "32", "--window", "100ms",
			"--max-windows", "3", "--json", js}, extra...)...)
		cmd.Env = append(cmd.Environ(), "ONNXRUNTIME_LIB="+ortest.LibraryPath())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		data, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		res := parseJSON[report](t, string(data))
		if len(res.Levels) != 1 || res.Levels[0].Budget == nil || (res.Levels[0].Status != "ok" && res.Levels[0].Status != "unstable") {
			t.Fatalf("levels %s", data)
		}
		return res
	}

	res := profile()
	if want := "cgroup v1 " + g.Path + " memory.limit_in_bytes"; res.Memory.Limit != 3*gib || res.Memory.Source != want {
		t.Errorf("memory limit %d (%s), want %d (%s)", res.Memory.Limit, res.Memory.Source, 3*gib, want)
	}
	if res.Levels[0].Budget.Limit != 3*gib/4*3 {
		t.Errorf("level's budget %d, want %d", res.Levels[0].Budget.Limit, 3*gib/4*3)
	}

	res = profile("--mem-limit", "2GiB")
	if want := "enforced: each level runs in its own cgroup v1 below " + g.Dir + " with memory.limit_in_bytes = 2.00 GiB"; res.Memory.Limit != 2*gib ||
		res.Memory.Source != "--mem-limit" || !strings.HasPrefix(res.Cgroup, want) {
		t.Errorf("memory limit %d (%s), cgroup %q; want 2 GiB from --mem-limit, %q", res.Memory.Limit, res.Memory.Source, res.Cgroup, want)
	}
	if res.Levels[0].Budget.Limit != 2*gib/4*3 {
		t.Errorf("level's budget under --mem-limit %d, want %d", res.Levels[0].Budget.Limit, 2*gib/4*3)
	}
}
