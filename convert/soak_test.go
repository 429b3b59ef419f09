package convert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"animegan/convert"
	"animegan/model/builtin"
)

// soakImages is the soak test's batch size: small enough for `make test`
// under the race detector on two cores, 2,000 with ANIMEGAN_STRESS=1
// (`make stress`).
func soakImages() int {
	if os.Getenv("ANIMEGAN_STRESS") != "" {
		return 2000
	}
	return 400
}

// memSample is the process's state at one point of the soak run.
type memSample struct {
	done       int
	heap       uint64 // live Go heap after a GC
	rss        int64  // resident set, bytes
	goroutines int
}

func sampleMem(done int) memSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{done: done, heap: ms.HeapAlloc, rss: residentBytes(), goroutines: runtime.NumGoroutine()}
}

// residentBytes reads VmRSS from /proc/self/status (0 when unavailable).
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func openFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}

// fdTargets lists what the open descriptors point at, for a failure message.
func fdTargets() []string {
	entries, _ := os.ReadDir("/proc/self/fd")
	var targets []string
	for _, e := range entries {
		dest, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		targets = append(targets, e.Name()+"→"+dest)
	}
	return targets
}

// soakRecorder counts outputs per name and samples memory twice: after a
// fifth of the batch (every image size has been through every session by
// then) and at the last image, both while the pipeline is running.
type soakRecorder struct {
	recorder
	total   int
	mu      sync.Mutex
	perName map[string]int
	samples []memSample
}

func (r *soakRecorder) Converted(t convert.Target, copied bool, _ convert.Timings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.perName[t.OutRel]++
	n := len(r.perName)
	if n == r.total/5 || n == r.total {
		r.samples = append(r.samples, sampleMem(n))
	}
}

// TestSoak converts a batch of small generated PNGs at -j 32 with the
// built-in model, in process, and checks that every input is converted
// exactly once (outputs, manifest, reports), and that goroutines, file
// descriptors and memory come back or stay flat.
func TestSoak(t *testing.T) {
	n := soakImages()
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	for i := range n {
		w, h := 16+i%33, 16+(i*7)%33
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for p := range img.Pix {
			img.Pix[p] = uint8(p*13 + i)
		}
		for p := 3; p < len(img.Pix); p += 4 {
			img.Pix[p] = 255
		}
		img.Pix[0], img.Pix[1] = uint8(i), uint8(i>>8) // no two alike
		writeFile(t, filepath.Join(in, fmt.Sprintf("d%02d", i/100), fmt.Sprintf("p%04d.png", i)), encode(t, "png", img))
	}
	jobs, err := convert.ParseJobs("32", 2)
	must(t, err)
	o := options(t, builtin.Cartoon, out, in)
	o.Jobs, o.Cores = jobs, 2

	// Baselines, once ONNX Runtime is loaded (options did that).
	runtime.GC()
	fds, goroutines := openFDs(t), runtime.NumGoroutine()
	rec := &soakRecorder{total: n, perName: make(map[string]int)}
	start := time.Now()
	sum, err := convert.Run(context.Background(), o, rec)
	must(t, err)
	t.Logf("%d images at -j %s in %s (%.1f img/s)", n, jobs, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())

	if sum.Converted != n || sum.Failed != 0 || sum.Duplicates != 0 || len(rec.perName) != n {
		t.Fatalf("summary %+v, %d distinct outputs reported", sum, len(rec.perName))
	}
	for name, k := range rec.perName {
		if k != 1 {
			t.Errorf("%s reported %d times", name, k)
		}
	}
	files := listFiles(t, out)
	if len(files) != n+1 {
		t.Fatalf("%d files in the output folder, want %d and the manifest", len(files), n)
	}
	journal, err := os.ReadFile(filepath.Join(out, convert.ManifestName))
	must(t, err)
	records := map[string]bool{}
	for line := range strings.Lines(string(journal)) {
		var r convert.Record
		must(t, json.Unmarshal([]byte(line), &r))
		if records[r.Output] || rec.perName[r.Output] != 1 {
			t.Fatalf("manifest record %+v: duplicate or not reported", r)
		}
		records[r.Output] = true
	}
	if len(records) != n {
		t.Fatalf("manifest holds %d records, want %d", len(records), n)
	}

	// Goroutines: back to the baseline (give exiting ones a moment).
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the run, %d before:\n%s", g, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if now := openFDs(t); now != fds {
		t.Errorf("%d open file descriptors after the run, %d before: %v", now, fds, fdTargets())
	}

	// Memory: flat between a fifth of the batch and its end. A leak of
	// even one small decoded image (16x16 = 1 KB) per image would add
	// n*4/5 KB; the manifest's and reporter's own records are ~0.5 KB each.
	if len(rec.samples) != 2 {
		t.Fatalf("memory samples %+v", rec.samples)
	}
	mid, end := rec.samples[0], rec.samples[1]
	t.Logf("after %d images: heap %d KB, RSS %d MB, %d goroutines; after %d: heap %d KB, RSS %d MB, %d goroutines",
		mid.done, mid.heap>>10, mid.rss>>20, mid.goroutines, end.done, end.heap>>10, end.rss>>20, end.goroutines)
	if grown := int64(end.heap) - int64(mid.heap); grown > int64(n)*1024 {
		t.Errorf("live heap grew by %d KB over %d images", grown>>10, end.done-mid.done)
	}
	// RSS includes ONNX Runtime's arenas and the race detector's shadow
	// memory, which settle later; allow a quarter plus 64 MB.
	if mid.rss > 0 && end.rss > mid.rss+mid.rss/4+64<<20 {
		t.Errorf("RSS grew from %d MB to %d MB", mid.rss>>20, end.rss>>20)
	}
	if end.goroutines > mid.goroutines+8 {
		t.Errorf("goroutines grew from %d to %d during the run", mid.goroutines, end.goroutines)
	}
}
