package profile

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"animegan/convert"
	"animegan/internal/cgtest"
)

const (
	// enforceEnv ("LIMIT_MIB,ALLOC_MIB") makes the test binary, re-executed
	// inside a cgroup the test made, run one level under a cgroup of
	// NewLimitedCgroup: its child allocates ALLOC_MIB once it has read its
	// configuration. It prints what superviseLevel reported as JSON.
	enforceEnv = "ANIMEGAN_PROFILE_TEST_ENFORCE"
	// allocAfterStdinEnv makes the test binary a level's child that reads
	// its stdin, then touches this many MiB and exits 0.
	allocAfterStdinEnv = "ANIMEGAN_PROFILE_TEST_ALLOC_AFTER_STDIN_MIB"
)

type enforceReport struct {
	Describe, Dir, Status, Error, Err string
	OOMKills                          uint64
	Removed                           bool
}

func enforceChild(spec string) {
	var limit, alloc uint64
	fmt.Sscanf(spec, "%d,%d", &limit, &alloc)
	os.Unsetenv(enforceEnv) // the level's child is this binary too
	var rep enforceReport
	defer func() { json.NewEncoder(os.Stdout).Encode(rep) }()
	cg, err := NewLimitedCgroup("animegan-profile-test-"+strconv.Itoa(os.Getpid()), limit<<20)
	if err != nil {
		rep.Err = err.Error()
		return
	}
	rep.Describe, rep.Dir = cg.Describe, cg.Dir
	o := Options{Child: []string{os.Args[0], "-test.run=^$"}, Env: []string{allocAfterStdinEnv + "=" + strconv.FormatUint(alloc, 10)},
		Interval: 50 * time.Millisecond, Convert: convert.Options{Cores: 1}, Thresholds: DefaultThresholds}
	// No memory limit for the guard: only the cgroup can stop the child.
	l := superviseLevel(context.Background(), o, LevelConfig{Limit: time.Minute}, cg, Memory{})
	rep.Status, rep.Error, rep.OOMKills = l.Status, l.Error, l.OOMKills
	cg.Remove()
	_, err = os.Stat(cg.Dir)
	rep.Removed = os.IsNotExist(err)
}

// TestLimitedCgroupV1 runs a level under --mem-limit's cgroup on a cgroup v1
// host, as `profile` does here: a child that touches 2 GiB under a
// 256 MiB limit is OOM-killed by the kernel and reported so; one that
// touches 64 MiB under 1 GiB is not (the race detector's shadow memory
// takes several times what the test binary touches). The sweep's own process runs in a
// cgroup the test made, so the levels' cgroups are made below it.
func TestLimitedCgroupV1(t *testing.T) {
	g := cgtest.V1Memory(t, nil, "profile", 3<<30)
	run := func(limit, alloc int) enforceReport {
		t.Helper()
		cmd := g.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", enforceEnv, limit, alloc))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var rep enforceReport
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if rep.Err != "" {
			t.Fatalf("NewLimitedCgroup in %s: %s", g.Dir, rep.Err)
		}
		if !strings.HasPrefix(rep.Dir, g.Dir+"/") || !strings.HasPrefix(rep.Describe, "enforced: each level runs in its own cgroup v1 below "+g.Dir) || !rep.Removed {
			t.Errorf("level cgroup %s (%s), removed %v: want one below %s, removed", rep.Dir, rep.Describe, rep.Removed, g.Dir)
		}
		return rep
	}
	if rep := run(256, 2048); rep.Status != StatusOOMKilled || rep.OOMKills == 0 {
		t.Errorf("2 GiB under a 256 MiB limit: status %q (%s), %d OOM kills; want oom-killed", rep.Status, rep.Error, rep.OOMKills)
	}
	if rep := run(1024, 64); rep.Status == StatusOOMKilled || rep.OOMKills != 0 {
		t.Errorf("64 MiB under a 1 GiB limit: status %q (%s), %d OOM kills; want no kill", rep.Status, rep.Error, rep.OOMKills)
	}
}
