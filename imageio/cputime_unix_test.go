//go:build unix

package imageio

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the process has used so far.
// Benchmarks report it because wall time hides work spread over cores, and
// on the 2-core target every core-millisecond is taken from inference.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
