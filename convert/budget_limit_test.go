package convert

import (
	"testing"

	"animegan/internal/sysmem"
)

// TestDefaultBudget: 75% of the smallest of the limit and the available
// memory, named by where it came from.
func TestDefaultBudget(t *testing.T) {
	const gib = int64(1 << 30)
	tests := []struct {
		name   string
		l      sysmem.Limit
		want   int64
		source string
	}{
		{"cgroup limit under available memory",
			sysmem.Limit{Hard: 3 * gib, Source: "cgroup v1 /slurm/uid_0/job_5 memory.limit_in_bytes", Available: 20 * gib},
			3 * gib / 4 * 3, "75% of cgroup v1 /slurm/uid_0/job_5 memory.limit_in_bytes (3.00 GiB)"},
		{"memory.high under memory.max",
			sysmem.Limit{Hard: 4 * gib, Source: "cgroup v2 /a memory.max", High: 2 * gib, HighSource: "cgroup v2 /a memory.high", Available: 20 * gib},
			2 * gib / 4 * 3, "75% of cgroup v2 /a memory.high (2.00 GiB)"},
		{"available memory under the limit",
			sysmem.Limit{Hard: 64 * gib, Source: "cgroup v2 /a memory.max", Available: 8 * gib},
			6 * gib, "75% of available memory (8.00 GiB)"},
		{"no limit", sysmem.Limit{Available: 16 * gib, Total: 24 * gib}, 12 * gib, "75% of available memory (16.00 GiB)"},
		{"a tiny limit still leaves 64 MiB", sysmem.Limit{Hard: 1 << 20, Source: "RLIMIT_AS"}, 64 << 20, "75% of RLIMIT_AS (1 MiB)"},
		{"nothing known", sysmem.Limit{}, 4 * gib, "4 GiB (memory size unknown)"},
	}
	for _, tc := range tests {
		got, source := defaultBudget(tc.l)
		if got != tc.want || source != tc.source {
			t.Errorf("%s: %d %q, want %d %q", tc.name, got, source, tc.want, tc.source)
		}
	}
}
