package profile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"animegan/internal/sysmem"
)

// Cgroup is a memory cgroup a level's child runs in, made by
// NewLimitedCgroup. This process's own limit is read by sysmem.ReadLimit.
type Cgroup struct {
	Dir      string
	V2       bool
	Describe string // how it enforces the limit, for the report
	created  bool
}

// Usage reads the cgroup's memory in use and its OOM-kill count.
func (c *Cgroup) Usage() (current, oomKills uint64) {
	if c.V2 {
		current = readUint(filepath.Join(c.Dir, "memory.current"))
		oomKills = readKey(filepath.Join(c.Dir, "memory.events"), "oom_kill")
		return
	}
	current = readUint(filepath.Join(c.Dir, "memory.usage_in_bytes"))
	oomKills = readKey(filepath.Join(c.Dir, "memory.oom_control"), "oom_kill")
	return
}

// Remove deletes a cgroup this package created; its processes must have
// exited.
func (c *Cgroup) Remove() error {
	if c == nil || !c.created {
		return nil
	}
	return os.Remove(c.Dir)
}

// NewLimitedCgroup creates a child of this process's memory cgroup that
// holds a level's process to limit bytes, without swap. Under cgroup v2
// (when the unified hierarchy has the memory controller) it sets
// memory.max; the process is started in it (clone3's CLONE_INTO_CGROUP).
// Under cgroup v1 (hybrid and legacy hosts, Slurm nodes among them) it sets
// memory.limit_in_bytes and, where swap is accounted,
// memory.memsw.limit_in_bytes to the same; Enter moves the process in. The
// error says why neither can be done here: no hierarchy with the memory
// controller, not delegated, or not writable.
func NewLimitedCgroup(name string, limit uint64) (*Cgroup, error) {
	var v1, v2 string
	for _, cg := range (sysmem.Reader{}).Cgroups() {
		if cg.Version == 2 {
			v2 = cg.Dir
		} else {
			v1 = cg.Dir
		}
	}
	var why []string
	if v2 == "" {
		why = append(why, "no cgroup v2 hierarchy mounted")
	} else if c, err := newV2Cgroup(v2, name, limit); err == nil {
		return c, nil
	} else {
		why = append(why, err.Error())
	}
	if v1 == "" {
		why = append(why, "no cgroup v1 memory controller mounted")
	} else if c, err := newV1Cgroup(v1, name, limit); err == nil {
		return c, nil
	} else {
		why = append(why, err.Error())
	}
	return nil, errors.New(strings.Join(why, "; "))
}

// newV2Cgroup is NewLimitedCgroup under cgroup v2. Not tested on a real
// cgroup v2 host: this project's machines have the memory controller on
// cgroup v1.
func newV2Cgroup(parent, name string, limit uint64) (*Cgroup, error) {
	if !hasController(parent, "memory") {
		return nil, fmt.Errorf("the memory controller is not available in cgroup v2 at %s (it is bound to cgroup v1 or not delegated)", parent)
	}
	sub := filepath.Join(parent, "cgroup.subtree_control")
	if !slices.Contains(words(sub), "memory") {
		// Fails with EBUSY when the parent holds processes itself (cgroup
		// v2's no-internal-processes rule), which is the common case.
		if err := os.WriteFile(sub, []byte("+memory"), 0); err != nil {
			return nil, fmt.Errorf("cannot enable the memory controller below %s: %w", parent, err)
		}
	}
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cannot create cgroup %s: %w", dir, err)
	}
	c := &Cgroup{Dir: dir, V2: true, created: true}
	if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatUint(limit, 10)), 0); err != nil {
		c.Remove()
		return nil, fmt.Errorf("cannot set memory.max in %s: %w", dir, err)
	}
	// Best effort: without swap a level over the limit is OOM-killed at
	// once instead of slowing the machine; as one group, the whole child.
	os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0)
	os.WriteFile(filepath.Join(dir, "memory.oom.group"), []byte("1"), 0)
	c.Describe = fmt.Sprintf("enforced: each level runs in its own cgroup v2 below %s with memory.max = %s", parent, Bytes(limit))
	return c, nil
}

// newV1Cgroup is NewLimitedCgroup under cgroup v1. Being below this
// process's own cgroup, the level stays within every limit on it too.
func newV1Cgroup(parent, name string, limit uint64) (*Cgroup, error) {
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cannot create cgroup v1 %s: %w", dir, err)
	}
	c := &Cgroup{Dir: dir, created: true}
	n := []byte(strconv.FormatUint(limit, 10))
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), n, 0); err != nil {
		c.Remove()
		return nil, fmt.Errorf("cannot set memory.limit_in_bytes in %s: %w", dir, err)
	}
	c.Describe = fmt.Sprintf("enforced: each level runs in its own cgroup v1 below %s with memory.limit_in_bytes = %s", parent, Bytes(limit))
	// memsw (memory + swap) may not be below memory.limit_in_bytes, so it
	// is set second; equal to it, the level cannot swap. Absent when the
	// kernel does not account swap (then there may be swap to use).
	if err := os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), n, 0); err == nil {
		c.Describe += " and no swap (memory.memsw.limit_in_bytes)"
	}
	return c, nil
}

// Enter moves process pid into a cgroup v1 (under v2 the process is
// started in it instead).
func (c *Cgroup) Enter(pid int) error {
	if err := os.WriteFile(filepath.Join(c.Dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("moving the level's process into cgroup %s: %w", c.Dir, err)
	}
	return nil
}

func hasController(dir, name string) bool {
	return slices.Contains(words(filepath.Join(dir, "cgroup.controllers")), name)
}

func words(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// readKey reads "key value" from a flat-keyed cgroup file.
func readKey(path, key string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
