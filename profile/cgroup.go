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
	Dir     string
	V2      bool
	created bool
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

// NewLimitedCgroup creates a cgroup v2 child of this process's cgroup with
// memory.max = limit (and no swap), for a child process to be started in.
// The error says why it cannot be done on this machine: no unified
// hierarchy, memory controller bound to cgroup v1, not delegated, or not
// writable.
func NewLimitedCgroup(name string, limit uint64) (*Cgroup, error) {
	parent, ok := ownV2()
	if !ok {
		return nil, errors.New("no cgroup v2 hierarchy mounted")
	}
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
	return c, nil
}

// ownV2 is this process's cgroup v2 directory, as sysmem finds it.
func ownV2() (string, bool) {
	for _, cg := range (sysmem.Reader{}).Cgroups() {
		if cg.Version == 2 {
			return cg.Dir, true
		}
	}
	return "", false
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
