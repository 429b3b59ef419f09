package convert

import (
	"fmt"
	"testing"
)

func TestParseShard(t *testing.T) {
	cases := []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"0/4", Shard{0, 4}, true},
		{"3/4", Shard{3, 4}, true},
		{" 1 / 2 ", Shard{1, 2}, true},
		{"0/1", Shard{0, 1}, true},
		{"4/4", Shard{}, false},
		{"-1/4", Shard{}, false},
		{"1/0", Shard{}, false},
		{"2", Shard{}, false},
		{"a/b", Shard{}, false},
	}
	for _, c := range cases {
		got, err := ParseShard(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v ok=%t", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]string
		shards int
		want   Shard
		found  bool
		ok     bool
	}{
		{"none", nil, 0, Shard{}, false, true},
		{"kubernetes", map[string]string{"JOB_COMPLETION_INDEX": "2"}, 5, Shard{2, 5}, true, true},
		{"kubernetes without --shards", map[string]string{"JOB_COMPLETION_INDEX": "2"}, 0, Shard{}, true, false},
		{"kubernetes index too big", map[string]string{"JOB_COMPLETION_INDEX": "5"}, 5, Shard{}, true, false},
		{"slurm count", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}, 0, Shard{3, 4}, true, true},
		{"slurm 1-based min/max", map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "8"}, 0, Shard{0, 8}, true, true},
		{"slurm count wins over max", map[string]string{"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "8", "SLURM_ARRAY_TASK_COUNT": "8"}, 0, Shard{7, 8}, true, true},
		{"slurm --shards", map[string]string{"SLURM_ARRAY_TASK_ID": "2"}, 3, Shard{2, 3}, true, true},
		{"slurm alone", map[string]string{"SLURM_ARRAY_TASK_ID": "2"}, 0, Shard{}, true, false},
		{"slurm garbage", map[string]string{"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"}, 0, Shard{}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, found, err := ShardFromEnv(func(k string) string { return c.env[k] }, c.shards)
			if found != c.found || (err == nil) != c.ok || got != c.want {
				t.Fatalf("got %v found=%t err=%v; want %v found=%t ok=%t", got, found, err, c.want, c.found, c.ok)
			}
		})
	}
}

// TestShardPartition: every input lands in exactly one shard, and a file's
// shard does not depend on the other files.
func TestShardPartition(t *testing.T) {
	const n = 7
	counts := make([]int, n)
	for i := range 5000 {
		in := Input{Rel: fmt.Sprintf("dir%d/photo %d.jpg", i%13, i)}
		owners := 0
		for k := range n {
			if (Shard{k, n}).Owns(in) {
				owners++
				counts[k]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s is owned by %d shards", in.Rel, owners)
		}
	}
	for k, c := range counts {
		if c < 5000/n/2 { // FNV spreads paths evenly; a shard with half its share is broken
			t.Errorf("shard %d has %d of 5000 inputs: %v", k, c, counts)
		}
	}
	// The same relative path under another root, or another machine's
	// absolute path, is the same shard.
	a, b := Input{Path: "/mnt/a/x/y.jpg", Rel: "x/y.jpg"}, Input{Path: "/data/x/y.jpg", Rel: "x/y.jpg"}
	for k := range n {
		if (Shard{k, n}).Owns(a) != (Shard{k, n}).Owns(b) {
			t.Fatal("shard depends on more than the relative path")
		}
	}
}
