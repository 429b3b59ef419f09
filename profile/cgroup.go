package profile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Cgroup is a memory cgroup a child runs in (or the parent's own, read
// for its limit). Only cgroup v2 cgroups are ever created; v1 ones are
// read, never written.
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

// Limit is the cgroup's memory limit, 0 when it has none.
func (c *Cgroup) Limit() uint64 {
	name := "memory.limit_in_bytes"
	if c.V2 {
		name = "memory.max"
	}
	v := readUint(filepath.Join(c.Dir, name))
	if v >= 1<<62 { // v1 says "no limit" with a huge page-rounded number
		return 0
	}
	return v
}

// Remove deletes a cgroup this package created; its processes must have
// exited.
func (c *Cgroup) Remove() error {
	if c == nil || !c.created {
		return nil
	}
	return os.Remove(c.Dir)
}

// OwnCgroup finds the memory cgroup this process is in: the v2 one when
// the unified hierarchy has the memory controller, else the v1 memory
// one. nil when neither is found.
func OwnCgroup() *Cgroup {
	if dir, ok := ownV2(); ok {
		if hasController(dir, "memory") {
			return &Cgroup{Dir: dir, V2: true}
		}
	}
	paths := procCgroups("/proc/self/cgroup")
	if p, ok := paths["memory"]; ok {
		for _, m := range mounts("cgroup") {
			if _, err := os.Stat(filepath.Join(m, "memory.limit_in_bytes")); err == nil {
				dir := filepath.Join(m, p)
				if _, err := os.Stat(dir); err == nil {
					return &Cgroup{Dir: dir}
				}
			}
		}
	}
	return nil
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

// ownV2 is this process's cgroup v2 directory.
func ownV2() (string, bool) {
	p, ok := procCgroups("/proc/self/cgroup")[""]
	if !ok {
		return "", false
	}
	for _, m := range mounts("cgroup2") {
		dir := filepath.Join(m, p)
		if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
			return dir, true
		}
	}
	return "", false
}

func hasController(dir, name string) bool {
	return slices.Contains(words(filepath.Join(dir, "cgroup.controllers")), name)
}

// procCgroups reads /proc/PID/cgroup into controller → path; the v2 entry
// ("0::/path") is under "".
func procCgroups(path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// mounts lists the mount points of a filesystem type from mountinfo.
func mounts(fstype string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) >= 5 && len(qf) >= 1 && qf[0] == fstype {
			out = append(out, pf[4])
		}
	}
	return out
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
