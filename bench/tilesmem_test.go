package main

import (
	"os"
	"strings"
	"testing"

	"animegan/internal/cgtest"
	"animegan/internal/sysmem"
)

// TestTilesMemory: the tiles section is refused at start where the
// untiled reference cannot fit in the machine's RAM or under a cgroup's
// limit, naming both and a -tiles-size that fits; it runs where it fits,
// with a warning when the memory available now is short.
func TestTilesMemory(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name  string
		l     sysmem.Limit
		w, h  int
		want  string // "" accepted
		warns bool
	}{
		{"24 GiB machine", sysmem.Limit{Total: 24 * gib, Available: 20 * gib}, 2048, 1536, "", false},
		{"8 GiB machine", sysmem.Limit{Total: 8 * gib, Available: 7 * gib}, 2048, 1536,
			"needs about 10.50 GiB (3.5 KB a pixel, AnimeGANv2 run whole), more than the 8.00 GiB this process may use (the machine's RAM (MemTotal)): -tiles-size 1688x1264 fits", false},
		{"6 GiB cgroup", sysmem.Limit{Total: 24 * gib, Available: 20 * gib, Hard: 6 * gib, Source: "cgroup v1 /x memory.limit_in_bytes"}, 2048, 1536,
			"than the 6.00 GiB this process may use (cgroup v1 /x memory.limit_in_bytes)", false},
		{"a smaller size fits the cgroup", sysmem.Limit{Total: 24 * gib, Available: 20 * gib, Hard: 6 * gib, Source: "cgroup"}, 1024, 768, "", false},
		{"fits, but memory is in use", sysmem.Limit{Total: 24 * gib, Available: 4 * gib}, 2048, 1536, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warned := false
			err := tilesMemory(tc.l, tc.w, tc.h, func(string) { warned = true })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			case warned != tc.warns:
				t.Fatalf("warned %t, want %t", warned, tc.warns)
			}
		})
	}
}

// TestTilesMemoryRefusedInCgroup: the bench itself, started inside a real
// 4 GiB cgroup, exits 1 at once with the refusal instead of being killed
// by the kernel in the middle of the untiled reference.
func TestTilesMemoryRefusedInCgroup(t *testing.T) {
	if args := os.Getenv("ANIMEGAN_BENCH_MAIN"); args != "" {
		os.Args = append([]string{"bench"}, strings.Fields(args)...)
		main()
		return
	}
	g := cgtest.V1Memory(t, nil, "bench-tiles", 4<<30)
	cmd := g.Command(os.Args[0], "-test.run=^TestTilesMemoryRefusedInCgroup$")
	cmd.Env = append(os.Environ(), "ANIMEGAN_BENCH_MAIN=-tiles-only -shared "+t.TempDir()+" -cache "+t.TempDir())
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("%v: want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "bench: the tiles section's untiled 2048x1536 reference needs about") ||
		!strings.Contains(string(out), "memory.limit_in_bytes") {
		t.Fatalf("no refusal naming the cgroup's limit:\n%s", out)
	}
}
