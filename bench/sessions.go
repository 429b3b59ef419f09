package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"animegan/model"
)

// compareSessions measures the session settings convert could use, on the
// same images: throughput and the peak RSS they add, for each worker/thread
// split with ONNX Runtime's CPU arena on and off. The figures decide
// model.DefaultSessionOptions.
func compareSessions(spec *model.Spec, data []byte, set photoSet, size int) error {
	imgs, err := decodeAll(spec, set.dir, size)
	if err != nil {
		return err
	}
	cores := runtime.NumCPU()
	type trial struct {
		name   string
		w      int
		shared bool // one session run by all workers at once
		so     model.SessionOptions
	}
	var trials []trial
	for _, arena := range []bool{true, false} {
		for w := 1; w <= cores; w++ {
			if cores%w != 0 {
				continue
			}
			so := model.DefaultSessionOptions(w, cores)
			so.MemArena = arena
			trials = append(trials, trial{fmt.Sprintf("%d workers x %d threads, arena %s", w, so.IntraOpThreads, onOff(arena)), w, false, so})
			if w > 1 {
				spin := so
				spin.Spinning = true
				trials = append(trials, trial{fmt.Sprintf("%d workers x %d threads, arena %s, spinning", w, so.IntraOpThreads, onOff(arena)), w, false, spin})
				trials = append(trials, trial{fmt.Sprintf("1 session run by %d workers x %d threads, arena %s", w, so.IntraOpThreads, onOff(arena)), w, true, so})
			}
		}
	}
	fmt.Printf("%d %s photos at --max-size %d; RSS added = peak RSS during the run - RSS before the sessions\n", len(imgs), set.name, size)
	for _, t := range trials {
		runtime.GC()
		base := rssBytes("VmRSS")
		resetPeak()
		n := t.w
		if t.shared {
			n = 1
		}
		d, _, err := runSessions(spec, data, imgs, t.w, n, t.so, nil)
		if err != nil {
			return err
		}
		added := rssBytes("VmHWM") - base
		fmt.Printf("  %-45s %6.3f img/s   RSS added %5.2f GB\n", t.name, float64(len(imgs))/d.Seconds(), float64(added)/1e9)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// resetPeak resets the kernel's peak RSS (VmHWM) of this process.
func resetPeak() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	time.Sleep(10 * time.Millisecond)
}

func rssBytes(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
