package convert

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one slice of the inputs, for running many convert processes
// over one tree (Kubernetes Indexed Jobs, Slurm job arrays). The zero
// value is the whole input.
type Shard struct {
	Index, Count int // 0 <= Index < Count
}

// Whole reports whether the shard is every input.
func (s Shard) Whole() bool { return s.Count <= 1 }

func (s Shard) String() string {
	if s.Whole() {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Owns reports whether an input belongs to this shard, by a hash of its
// path relative to the argument it was found under: the same on every
// machine, whatever the listing order, and unchanged when files are added
// elsewhere in the tree (an input's shard depends on its own path only).
func (s Shard) Owns(in Input) bool {
	if s.Whole() {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(in.Rel))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// ParseShard reads --shard K/N (K counted from 0, as Kubernetes'
// JOB_COMPLETION_INDEX is).
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("--shard %q: want K/N, e.g. 0/8 (K from 0 to N-1)", s)
	}
	return newShard(k, n, "--shard "+s)
}

func newShard(k, n, what string) (Shard, error) {
	ki, err1 := strconv.Atoi(strings.TrimSpace(k))
	ni, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil || ni < 1 || ki < 0 || ki >= ni {
		return Shard{}, fmt.Errorf("%s: want an index from 0 to N-1 and N >= 1, got %q of %q", what, k, n)
	}
	return Shard{Index: ki, Count: ni}, nil
}

// ShardFromEnv finds the shard in the environment of the batch engines:
// Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX; the count from --shards),
// and Slurm job arrays (SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT,
// or with SLURM_ARRAY_TASK_MIN/MAX, so arrays like --array=1-8 work too).
// ok is false when neither is set.
func ShardFromEnv(getenv func(string) string, shards int) (s Shard, ok bool, err error) {
	if idx := getenv("JOB_COMPLETION_INDEX"); idx != "" {
		if shards < 1 {
			return Shard{}, true, fmt.Errorf("JOB_COMPLETION_INDEX=%s is set: give the job's completions with --shards N", idx)
		}
		s, err := newShard(idx, strconv.Itoa(shards), "JOB_COMPLETION_INDEX")
		return s, true, err
	}
	id := getenv("SLURM_ARRAY_TASK_ID")
	if id == "" {
		return Shard{}, false, nil
	}
	lo, hi := getenv("SLURM_ARRAY_TASK_MIN"), getenv("SLURM_ARRAY_TASK_MAX")
	count := getenv("SLURM_ARRAY_TASK_COUNT")
	if shards > 0 {
		count = strconv.Itoa(shards)
	}
	ti, err := strconv.Atoi(id)
	if err != nil {
		return Shard{}, true, fmt.Errorf("SLURM_ARRAY_TASK_ID=%q is not a number", id)
	}
	// With --shards the task ID is the index itself (a resubmitted
	// --array=5 is shard 5); otherwise it counts from the array's start.
	if lo != "" && shards <= 0 {
		li, err := strconv.Atoi(lo)
		if err != nil {
			return Shard{}, true, fmt.Errorf("SLURM_ARRAY_TASK_MIN=%q is not a number", lo)
		}
		ti -= li
		if count == "" && hi != "" {
			hiI, err := strconv.Atoi(hi)
			if err != nil {
				return Shard{}, true, fmt.Errorf("SLURM_ARRAY_TASK_MAX=%q is not a number", hi)
			}
			count = strconv.Itoa(hiI - li + 1)
		}
	}
	if count == "" {
		return Shard{}, true, fmt.Errorf("SLURM_ARRAY_TASK_ID=%s is set but neither SLURM_ARRAY_TASK_COUNT nor MIN/MAX: give --shards N", id)
	}
	s, err = newShard(strconv.Itoa(ti), count, "Slurm array task")
	return s, true, err
}
