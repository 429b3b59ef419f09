package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxWorkers bounds every pool; beyond it a typo (-j 4000) would only
// queue sessions and memory.
const MaxWorkers = 256

// Jobs is the worker count of each pipeline stage.
type Jobs struct {
	Decode, Infer, Encode int
}

func (j Jobs) String() string { return fmt.Sprintf("%d:%d:%d", j.Decode, j.Infer, j.Encode) }

// DefaultJobs sizes the pools for a machine with the given cores.
// Inference is nearly the whole cost, and ONNX Runtime splits the cores
// among inference workers (threads = cores / workers), so one inference
// worker per core, capped at 4: past that, the per-session memory grows
// while throughput does not. Decoding a photo costs a fraction of an
// inference, so half the cores decode; encoding is cheaper still. No pool
// exceeds MaxWorkers, however many cores the machine has.
func DefaultJobs(cores int) Jobs {
	cores = max(1, cores)
	return Jobs{
		Decode: min(MaxWorkers, max(1, cores/2)),
		Infer:  min(cores, 4),
		Encode: min(MaxWorkers, max(1, cores/4)),
	}
}

// ParseJobs reads -j: "N" sets the inference workers and keeps the default
// decode and encode pools; "L:I:E" sets load (decode), inference and save
// (encode) workers, the convention of waifu2x/realesrgan-ncnn-vulkan.
func ParseJobs(s string, cores int) (Jobs, error) {
	j := DefaultJobs(cores)
	s = strings.TrimSpace(s)
	if s == "" {
		return j, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != 1 && len(parts) != 3 {
		return j, fmt.Errorf("-j %q: want N or L:I:E (decode:infer:encode workers)", s)
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > MaxWorkers {
			return j, fmt.Errorf("-j %q: %q is not a worker count from 1 to %d", s, p, MaxWorkers)
		}
		nums[i] = n
	}
	if len(nums) == 1 {
		j.Infer = nums[0]
		return j, nil
	}
	return Jobs{Decode: nums[0], Infer: nums[1], Encode: nums[2]}, nil
}
