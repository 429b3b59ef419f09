// Package sysmem reads the memory figures of this process and machine that
// a memory budget needs: resident size and its peak, available memory and
// the limits that apply (limit.go). Linux only; elsewhere every figure is 0 and
// callers fall back to their defaults.
package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Self reports this process's resident set size and its peak (VmRSS and
// VmHWM), in bytes.
func Self() (rss, peak int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	return field(data, "VmRSS:"), field(data, "VmHWM:")
}

// ResetPeak makes the kernel restart this process's peak RSS from its
// current RSS (Linux 4.0+), so that a measurement can read the peak of one
// operation. It reports whether that worked.
func ResetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// Available is the memory the kernel can give without swapping
// (MemAvailable) and the machine's total, in bytes (0 when unknown).
func Available() (avail, total int64) { return Reader{}.meminfo() }

// field reads "Name:   123 kB" lines.
func field(data []byte, name string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line[len(name):])
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n
	}
	return 0
}
