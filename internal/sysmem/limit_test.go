package sysmem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Mount tables as the kernel writes them: this machine's hybrid layout
// (v1 controllers, the unified v2 hierarchy beside them), a pure v2 host,
// and a Kubernetes container in its own cgroup namespace, whose
// /sys/fs/cgroup is mounted from the pod's sub-tree.
const (
	mountsHybrid = `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	mountsV2 = `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	mountsK8s = `1200 1100 0:60 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/a
1210 1200 0:26 /kubepods/burstable/pod1/ctr /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw
`
	// Docker on a v1 host without a cgroup namespace: the container sees
	// its full path in /proc/self/cgroup, and its memory hierarchy is
	// mounted from that sub-tree.
	mountsDockerV1 = `1300 1200 0:60 / / rw,relatime - overlay overlay rw
1310 1300 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
`
	unlimited = "9223372036854771712\n"
	gib       = int64(1 << 30)
)

// unreadable marks a file that cannot be read: a directory in its place
// (tests run as root, for whom permission bits stop nothing).
const unreadable = "<unreadable>"

// fakeRoot writes files (relative path → content) under a temporary root.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if content == unreadable {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestReaderLimit(t *testing.T) {
	const v1 = "sys/fs/cgroup/memory"
	const job = v1 + "/slurm/uid_0/job_5"
	hybridSlurm := func(extra map[string]string) map[string]string {
		m := map[string]string{
			"proc/self/cgroup":                                 "9:name=systemd:/\n4:memory:/slurm/uid_0/job_5/step_0/task_0\n1:cpu:/\n0::/\n",
			"proc/self/mountinfo":                              mountsHybrid,
			v1 + "/memory.limit_in_bytes":                      unlimited,
			v1 + "/slurm/memory.limit_in_bytes":                unlimited,
			v1 + "/slurm/uid_0/memory.limit_in_bytes":          unlimited,
			job + "/memory.limit_in_bytes":                     "3221225472\n",
			job + "/memory.memsw.limit_in_bytes":               "3221225472\n",
			job + "/step_0/memory.limit_in_bytes":              unlimited,
			job + "/step_0/task_0/memory.limit_in_bytes":       unlimited,
			job + "/step_0/task_0/memory.memsw.limit_in_bytes": unlimited,
			"sys/fs/cgroup/unified/cgroup.controllers":         "\n",
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name       string
		files      map[string]string
		hard       int64
		source     string
		high       int64
		highSource string
	}{
		{
			name:   "v1 hybrid: the job's limit, two levels above the task",
			files:  hybridSlurm(nil),
			hard:   3 * gib,
			source: "cgroup v1 /slurm/uid_0/job_5 memory.limit_in_bytes",
		},
		{
			name: "v1 nested: an ancestor smaller than the leaf",
			files: hybridSlurm(map[string]string{
				job + "/step_0/task_0/memory.limit_in_bytes": "4294967296",
				v1 + "/slurm/memory.limit_in_bytes":          "2147483648",
			}),
			hard:   2 * gib,
			source: "cgroup v1 /slurm memory.limit_in_bytes",
		},
		{
			name:   "v1 memsw smaller than the memory limit",
			files:  hybridSlurm(map[string]string{job + "/memory.memsw.limit_in_bytes": "2684354560"}),
			hard:   2684354560,
			source: "cgroup v1 /slurm/uid_0/job_5 memory.memsw.limit_in_bytes",
		},
		{
			name: "v1 unlimited everywhere",
			files: hybridSlurm(map[string]string{
				job + "/memory.limit_in_bytes": unlimited, job + "/memory.memsw.limit_in_bytes": unlimited,
			}),
		},
		{
			name: "v1 unreadable and malformed files are skipped, the rest still counts",
			files: hybridSlurm(map[string]string{
				job + "/memory.limit_in_bytes":               unreadable,
				job + "/memory.memsw.limit_in_bytes":         "lots\n",
				job + "/step_0/memory.limit_in_bytes":        "",
				v1 + "/slurm/uid_0/memory.limit_in_bytes":    "6442450944",
				job + "/step_0/task_0/memory.limit_in_bytes": "-1",
			}),
			hard:   6 * gib,
			source: "cgroup v1 /slurm/uid_0 memory.limit_in_bytes",
		},
		{
			name: "hybrid: the v2 hierarchy has no memory files, v1 holds the limit",
			files: map[string]string{
				"proc/self/cgroup":                             "4:memory:/process_api/54eb\n0::/\n",
				"proc/self/mountinfo":                          mountsHybrid,
				v1 + "/memory.limit_in_bytes":                  unlimited,
				v1 + "/process_api/54eb/memory.limit_in_bytes": "1073741824",
				"sys/fs/cgroup/unified/cgroup.procs":           "1\n",
			},
			hard:   gib,
			source: "cgroup v1 /process_api/54eb memory.limit_in_bytes",
		},
		{
			name: "v2: max at the leaf, a smaller limit on an ancestor, memory.high below both",
			files: map[string]string{
				"proc/self/cgroup":                                                  "0::/user.slice/user-0.slice/session-3.scope\n",
				"proc/self/mountinfo":                                               mountsV2,
				"sys/fs/cgroup/user.slice/memory.max":                               "max\n",
				"sys/fs/cgroup/user.slice/memory.high":                              "max\n",
				"sys/fs/cgroup/user.slice/user-0.slice/memory.max":                  "2147483648\n",
				"sys/fs/cgroup/user.slice/user-0.slice/memory.high":                 "max\n",
				"sys/fs/cgroup/user.slice/user-0.slice/session-3.scope/memory.max":  "max\n",
				"sys/fs/cgroup/user.slice/user-0.slice/session-3.scope/memory.high": "1610612736\n",
			},
			hard:       2 * gib,
			source:     "cgroup v2 /user.slice/user-0.slice memory.max",
			high:       1610612736,
			highSource: "cgroup v2 /user.slice/user-0.slice/session-3.scope memory.high",
		},
		{
			name: `v2 "max" everywhere`,
			files: map[string]string{
				"proc/self/cgroup":                                "0::/system.slice/x.service\n",
				"proc/self/mountinfo":                             mountsV2,
				"sys/fs/cgroup/system.slice/memory.max":           "max\n",
				"sys/fs/cgroup/system.slice/x.service/memory.max": "max\n",
			},
		},
		{
			name: `namespaced v2 (Kubernetes): "0::/", the mount's root is the pod's cgroup`,
			files: map[string]string{
				"proc/self/cgroup":           "0::/\n",
				"proc/self/mountinfo":        mountsK8s,
				"sys/fs/cgroup/memory.max":   "536870912\n",
				"sys/fs/cgroup/memory.high":  "max\n",
				"sys/fs/cgroup/cgroup.procs": "1\n",
			},
			hard:   512 << 20,
			source: "cgroup v2 /kubepods/burstable/pod1/ctr memory.max",
		},
		{
			name: "namespaced v2, the process in a sub-cgroup of the namespace",
			files: map[string]string{
				"proc/self/cgroup":                "0::/worker\n",
				"proc/self/mountinfo":             mountsK8s,
				"sys/fs/cgroup/memory.max":        "536870912\n",
				"sys/fs/cgroup/worker/memory.max": "max\n",
			},
			hard:   512 << 20,
			source: "cgroup v2 /kubepods/burstable/pod1/ctr memory.max",
		},
		{
			name: `namespaced v1: "4:memory:/", the mount's root is the container's cgroup`,
			files: map[string]string{
				"proc/self/cgroup":                           "4:memory:/\n0::/\n",
				"proc/self/mountinfo":                        "1310 1300 0:32 /kubepods/pod2/ctr /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n",
			},
			hard:   gib,
			source: "cgroup v1 /kubepods/pod2/ctr memory.limit_in_bytes",
		},
		{
			name: "a path outside the namespace (/../x) never reads outside the mount",
			files: map[string]string{
				"proc/self/cgroup":         "0::/../../elsewhere\n",
				"proc/self/mountinfo":      mountsK8s,
				"sys/fs/cgroup/memory.max": "536870912\n",
				"elsewhere/memory.max":     "1048576\n",
				"sys/elsewhere/memory.max": "1048576\n",
			},
			hard:   512 << 20,
			source: "cgroup v2 /kubepods/burstable/pod1/ctr memory.max",
		},
		{
			name: "Docker on v1 without a namespace: the full path, mounted from its sub-tree",
			files: map[string]string{
				"proc/self/cgroup":                           "4:memory:/docker/abc\n",
				"proc/self/mountinfo":                        mountsDockerV1,
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "805306368\n",
			},
			hard:   768 << 20,
			source: "cgroup v1 /docker/abc memory.limit_in_bytes",
		},
		{
			name: "malformed /proc/self/cgroup and mountinfo lines are skipped",
			files: map[string]string{
				"proc/self/cgroup":              "garbage\n4:memory\n::\n5:memory:relative\n4:memory:/a\n",
				"proc/self/mountinfo":           "nonsense\n1 2 3 - \n9 9 0:1 relative /x - cgroup cgroup rw,memory\n" + mountsHybrid,
				v1 + "/memory.limit_in_bytes":   unlimited,
				v1 + "/a/memory.limit_in_bytes": "1073741824",
			},
			hard:   gib,
			source: "cgroup v1 /a memory.limit_in_bytes",
		},
		{
			name:  "no /proc/self/cgroup: no cgroup limit, no failure",
			files: map[string]string{"proc/self/mountinfo": mountsHybrid},
		},
		{
			name:  "unreadable mountinfo",
			files: map[string]string{"proc/self/cgroup": "4:memory:/a\n", "proc/self/mountinfo": unreadable},
		},
		{
			name: "the cgroup's directory is missing: the mount's root is read",
			files: map[string]string{
				"proc/self/cgroup":            "4:memory:/gone\n",
				"proc/self/mountinfo":         mountsHybrid,
				v1 + "/memory.limit_in_bytes": "4294967296",
			},
			hard:   4 * gib,
			source: "cgroup v1 / memory.limit_in_bytes",
		},
		{
			name: "RLIMIT_AS less what is already mapped, smaller than the cgroup's",
			files: hybridSlurm(map[string]string{
				"proc/self/limits": "Limit                     Soft Limit           Hard Limit           Units     \n" +
					"Max cpu time              unlimited            unlimited            seconds   \n" +
					"Max address space         4294967296           unlimited            bytes     \n",
				"proc/self/status": "Name:\tanimegan\nVmSize:\t 2097152 kB\nVmRSS:\t 1024 kB\n",
			}),
			hard:   2 * gib,
			source: "RLIMIT_AS (ulimit -v) 4.00 GiB less 2.00 GiB already mapped",
		},
		{
			name: "RLIMIT_AS larger than the cgroup's limit",
			files: hybridSlurm(map[string]string{
				"proc/self/limits": "Max address space         68719476736          unlimited            bytes     \n",
				"proc/self/status": "VmSize:\t 2097152 kB\n",
			}),
			hard:   3 * gib,
			source: "cgroup v1 /slurm/uid_0/job_5 memory.limit_in_bytes",
		},
		{
			name: "RLIMIT_AS unlimited, or malformed",
			files: hybridSlurm(map[string]string{
				job + "/memory.limit_in_bytes": unlimited, job + "/memory.memsw.limit_in_bytes": unlimited,
				"proc/self/limits": "Max address space         unlimited            unlimited            bytes\nMax address space\n",
			}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := Reader{Root: fakeRoot(t, tc.files)}.Limit()
			if l.Hard != tc.hard || l.Source != tc.source {
				t.Errorf("hard limit %d (%q), want %d (%q)", l.Hard, l.Source, tc.hard, tc.source)
			}
			if l.High != tc.high || l.HighSource != tc.highSource {
				t.Errorf("memory.high %d (%q), want %d (%q)", l.High, l.HighSource, tc.high, tc.highSource)
			}
		})
	}
}

func TestLimitBound(t *testing.T) {
	tests := []struct {
		l      Limit
		want   int64
		source string
	}{
		{Limit{}, 0, ""},
		{Limit{Hard: 3, Source: "max"}, 3, "max"},
		{Limit{High: 2, HighSource: "high"}, 2, "high"},
		{Limit{Hard: 3, Source: "max", High: 2, HighSource: "high"}, 2, "high"},
		{Limit{Hard: 2, Source: "max", High: 3, HighSource: "high"}, 2, "max"},
	}
	for _, tc := range tests {
		if n, s := tc.l.Bound(); n != tc.want || s != tc.source {
			t.Errorf("%+v: Bound() = %d %q, want %d %q", tc.l, n, s, tc.want, tc.source)
		}
	}
}

// TestReaderMeminfo: available and total memory come from the root's
// /proc/meminfo (read by gopsutil).
func TestReaderMeminfo(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"proc/meminfo": "MemTotal:       25165824 kB\nMemFree:         1048576 kB\nMemAvailable:   18874368 kB\n",
	})
	l := Reader{Root: root}.Limit()
	if l.Total != 24*gib || l.Available != 18*gib {
		t.Errorf("total %d, available %d; want %d, %d", l.Total, l.Available, 24*gib, 18*gib)
	}
}

func TestParseMountinfoEscapes(t *testing.T) {
	ms := parseMountinfo([]byte(`40 31 0:37 /a\040b /sys/fs/cgroup/my\040memory rw - cgroup cgroup rw,memory` + "\n"))
	if len(ms) != 1 || ms[0].root != "/a b" || ms[0].point != "/sys/fs/cgroup/my memory" || ms[0].super != "rw,memory" {
		t.Fatalf("%+v", ms)
	}
	if got := unescape(`tail\04`); got != `tail\04` {
		t.Errorf("a cut escape changed: %q", got)
	}
}

// TestReadLimitLive: on the machine itself, the reader finds this
// process's own cgroup (when cgroups are mounted) and coherent figures.
func TestReadLimitLive(t *testing.T) {
	if _, err := os.Stat("/proc/self/cgroup"); err != nil {
		t.Skip("no /proc/self/cgroup")
	}
	l := ReadLimit()
	if l.Total <= 0 || l.Available <= 0 || l.Available > l.Total {
		t.Errorf("available %d of %d", l.Available, l.Total)
	}
	if l.Hard < 0 || (l.Hard > 0) != (l.Source != "") {
		t.Errorf("limit %d from %q", l.Hard, l.Source)
	}
	for _, cg := range (Reader{}).Cgroups() {
		if st, err := os.Stat(cg.Dir); err != nil || !st.IsDir() || !strings.HasPrefix(cg.Dir, cg.Mount) {
			t.Errorf("cgroup %+v: %v", cg, err)
		}
	}
}
