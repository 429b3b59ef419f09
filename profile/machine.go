package profile

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
)

// Machine is what a measurement depends on besides the settings: the CPU,
// how many cores the process may use, and the memory limit.
type Machine struct {
	CPUModel string
	Cores    int
	MemLimit uint64 // the cgroup's limit or total RAM, as a sweep without --mem-limit judges
}

// ThisMachine describes the machine this process runs on, for cores
// usable CPUs (runtime.GOMAXPROCS).
func ThisMachine(cores int) Machine {
	return Machine{CPUModel: CPUModel(), Cores: cores, MemLimit: memoryFor(0).Limit}
}

// CPUModel is the first "model name" of /proc/cpuinfo ("" where there is
// none).
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ModelSHA256 identifies a model by its bytes, as convert's summary does.
func ModelSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
