package sysmem

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/mem"
)

// Limit is the memory this process may use, each figure with where it
// came from, so that a report can name it ("cgroup v1 /slurm/uid_0/job_5
// memory.limit_in_bytes").
type Limit struct {
	// Hard is the smallest hard limit found (0: none) and Source where it
	// is: a cgroup's memory.max (v2), memory.limit_in_bytes or
	// memory.memsw.limit_in_bytes (v1) on the path from this process's own
	// cgroup up to the root of the hierarchy it can see, or the address
	// space left under RLIMIT_AS. Passing a cgroup's limit gets the process
	// OOM-killed; passing RLIMIT_AS makes allocations fail.
	Hard   int64
	Source string
	// High is the smallest cgroup v2 memory.high on the same path (0:
	// none), HighSource where. Above it the kernel throttles the cgroup
	// and reclaims hard: a job there is slow, not killed.
	High       int64
	HighSource string
	// Available (MemAvailable) and Total (MemTotal) are the machine's, as
	// read at the same time; 0 when unknown.
	Available, Total int64
}

// Bound is the limit a memory budget should stay within: the smaller of
// Hard and High (a budget that runs into memory.high would make every
// inference crawl), with its source; 0 and "" when there is neither.
func (l Limit) Bound() (int64, string) {
	switch {
	case l.High > 0 && (l.Hard == 0 || l.High < l.Hard):
		return l.High, l.HighSource
	case l.Hard > 0:
		return l.Hard, l.Source
	}
	return 0, ""
}

// ReadLimit reads this process's memory limit from the live system.
func ReadLimit() Limit { return Reader{}.Limit() }

// Reader reads memory limits under a filesystem root, so that tests can
// hand it a fake /proc and /sys tree. The zero Reader reads "/".
type Reader struct {
	Root string
}

// unlimitedV1 is where cgroup v1's "no limit" starts: the kernel reports
// it as the largest page-aligned counter (9223372036854771712 with 4 KiB
// pages), and no real limit comes near 2^62 bytes.
const unlimitedV1 = 1 << 62

// Limit finds every limit that applies to this process and keeps the
// smallest. Nothing here fails: an unreadable or malformed file is a limit
// not found, and the caller falls back to the machine's memory.
func (r Reader) Limit() Limit {
	var l Limit
	hard := func(n int64, source string) {
		if n > 0 && (l.Hard == 0 || n < l.Hard) {
			l.Hard, l.Source = n, source
		}
	}
	for _, cg := range r.Cgroups() {
		for _, dir := range cg.ancestry() {
			name := cg.pathOf(dir)
			if cg.Version == 1 {
				for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
					if n, ok := r.readLimit(path.Join(dir, f)); ok && n < unlimitedV1 {
						hard(n, fmt.Sprintf("cgroup v1 %s %s", name, f))
					}
				}
				continue
			}
			if n, ok := r.readLimit(path.Join(dir, "memory.max")); ok {
				hard(n, fmt.Sprintf("cgroup v2 %s memory.max", name))
			}
			if n, ok := r.readLimit(path.Join(dir, "memory.high")); ok && (l.High == 0 || n < l.High) {
				l.High, l.HighSource = n, fmt.Sprintf("cgroup v2 %s memory.high", name)
			}
		}
	}
	// RLIMIT_AS bounds virtual memory, not resident memory. What is
	// already mapped (the Go runtime's reservations, ONNX Runtime's
	// library and its sessions' arenas) is never given back, so only what
	// is left of it under the limit can hold new inferences. Each new
	// allocation takes at least as much address space as it will take
	// resident memory, so counting the rest as if it were RAM is the
	// most it could hold, never more.
	if as, ok := r.rlimitAS(); ok {
		data, _ := r.read("proc/self/status")
		vm := field(data, "VmSize:")
		hard(max(as-vm, 1), fmt.Sprintf("RLIMIT_AS (ulimit -v) %s less %s already mapped", FormatBytes(as), FormatBytes(vm)))
	}
	l.Available, l.Total = r.meminfo()
	return l
}

// meminfo is MemAvailable and MemTotal from the root's /proc/meminfo, as
// gopsutil reads them (0 when unknown).
func (r Reader) meminfo() (avail, total int64) {
	ctx := context.WithValue(context.Background(), common.EnvKey,
		common.EnvMap{common.HostProcEnvKey: r.abs("proc")})
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return 0, 0
	}
	return int64(vm.Available), int64(vm.Total)
}

// Cgroup is one of this process's memory cgroups: the v1 memory
// controller's, or the v2 unified one.
type Cgroup struct {
	Version int
	Dir     string // its directory, absolute, as this process sees the filesystem
	Path    string // its path in the hierarchy, for messages
	Mount   string // the hierarchy's mount point: Dir or an ancestor of it
	root    string // the mount's root within the hierarchy
}

// ancestry is Dir and each of its parents up to the mount point.
func (c Cgroup) ancestry() []string {
	var out []string
	for dir := c.Dir; ; dir = path.Dir(dir) {
		out = append(out, dir)
		if dir == c.Mount || dir == "/" || dir == "." {
			return out
		}
	}
}

// pathOf names dir (Dir or an ancestor) by its path in the hierarchy.
func (c Cgroup) pathOf(dir string) string {
	return path.Join(c.root, strings.TrimPrefix(dir, c.Mount))
}

// Cgroups finds this process's memory cgroups: the v1 memory controller's
// when it is mounted, and the v2 one when a cgroup2 hierarchy is (in a
// hybrid layout both; the v2 one then has no memory files, which is the
// same as no limit). Each is the mount point of its hierarchy joined with
// this process's path from /proc/self/cgroup, made relative to the mount's
// root: a container's /sys/fs/cgroup may be mounted from a sub-tree
// (mountinfo's root field), and inside a cgroup namespace
// /proc/self/cgroup says "/" for the namespace's root, which is then the
// mount point itself.
func (r Reader) Cgroups() []Cgroup {
	data, err := r.read("proc/self/cgroup")
	if err != nil {
		return nil
	}
	v1, v2, hasV2 := parseProcCgroup(data)
	info, err := r.read("proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []Cgroup
	mounts := parseMountinfo(info)
	if p, ok := v1["memory"]; ok {
		for _, m := range mounts {
			if m.fstype == "cgroup" && hasWord(m.super, "memory") {
				if cg, ok := r.locate(1, m, p); ok {
					out = append(out, cg)
					break
				}
			}
		}
	}
	if hasV2 {
		for _, m := range mounts {
			if m.fstype == "cgroup2" {
				if cg, ok := r.locate(2, m, v2); ok {
					out = append(out, cg)
					break
				}
			}
		}
	}
	return out
}

// locate joins mount m with this process's cgroup path p.
func (r Reader) locate(version int, m mount, p string) (Cgroup, bool) {
	cg := Cgroup{Version: version, Mount: m.point, root: m.root}
	var tries []string
	if rel, ok := within(p, m.root); ok {
		tries = append(tries, path.Join(m.point, rel))
	}
	// A path outside the mount's root: inside a cgroup namespace whose root
	// is not the mount's, the kernel shows paths relative to the namespace.
	// Best guesses: the path under the mount, then the mount itself.
	tries = append(tries, path.Join(m.point, p), m.point)
	for _, dir := range tries {
		if _, ok := within(dir, m.point); !ok {
			continue // "/../x": a cgroup outside this process's namespace
		}
		if st, err := os.Stat(r.abs(dir)); err == nil && st.IsDir() {
			cg.Dir = dir
			cg.Path = cg.pathOf(dir)
			return cg, true
		}
	}
	return Cgroup{}, false
}

// within reports whether p is root or below it, and p relative to root.
func within(p, root string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// parseProcCgroup reads /proc/PID/cgroup: v1 lines
// ("4:memory:/path", "3:cpu,cpuacct:/path") into controller → path, and
// the v2 line ("0::/path"). Malformed lines are skipped.
func parseProcCgroup(data []byte) (v1 map[string]string, v2 string, hasV2 bool) {
	v1 = map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, hasV2 = parts[2], true
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c != "" {
				v1[c] = parts[2]
			}
		}
	}
	return v1, v2, hasV2
}

type mount struct {
	root, point, fstype string
	super               string // the filesystem's options: for cgroup v1, its controllers
}

// parseMountinfo reads /proc/PID/mountinfo lines:
// "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
// (root and mount point are fields 4 and 5; after " - ", the type, the
// source and the filesystem's options). Malformed lines are skipped.
func parseMountinfo(data []byte) []mount {
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 1 || !strings.HasPrefix(pf[3], "/") || !strings.HasPrefix(pf[4], "/") {
			continue
		}
		m := mount{root: unescape(pf[3]), point: unescape(pf[4]), fstype: qf[0]}
		if len(qf) >= 3 {
			m.super = qf[2]
		}
		out = append(out, m)
	}
	return out
}

// unescape undoes mountinfo's octal escapes (a space is "\040").
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasWord(list, w string) bool {
	for x := range strings.SplitSeq(list, ",") {
		if x == w {
			return true
		}
	}
	return false
}

// readLimit reads a cgroup limit file: a byte count, or "max" (none).
func (r Reader) readLimit(name string) (int64, bool) {
	data, err := r.read(name)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || n <= 0 { // "max", malformed, or a nonsensical 0
		return 0, false
	}
	return n, true
}

// rlimitAS is the soft RLIMIT_AS, from /proc/self/limits
// ("Max address space   unlimited   unlimited   bytes").
func (r Reader) rlimitAS() (int64, bool) {
	data, err := r.read("proc/self/limits")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "Max address space")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		return n, err == nil && n > 0
	}
	return 0, false
}

func (r Reader) abs(name string) string {
	root := r.Root
	if root == "" {
		root = "/"
	}
	return path.Join(root, name)
}

func (r Reader) read(name string) ([]byte, error) { return os.ReadFile(r.abs(name)) }

// FormatBytes prints a size in binary units, as reports show it.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
