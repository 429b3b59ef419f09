// Command bench measures how close `animegan convert` gets to the speed of
// the model itself, and how much memory it takes doing so (`make bench`).
//
// For each photo set and --max-size it prints, from one run on the same
// inputs:
//
//   - the ceiling: ONNX Runtime alone on images already decoded and sized
//     exactly as convert feeds them, with the best worker/thread split;
//   - convert end to end with its default settings, as a user runs it
//     (files read, decoded, inferred, encoded, written), as a child process;
//   - their throughput ratio, convert's time to first output and peak RSS;
//   - when Debian's python3-torch is installed and ../shared/bench exists,
//     the PyTorch reference loop on the same photos.
//
// The model is the AnimeGANv2 architecture made by modelgen (same cost as
// a trained AnimeGANv2, meaningless pictures), so the figures need nothing
// from outside the repository.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"animegan/calibrate"
	"animegan/convert"
	"animegan/internal/sysmem"
	"animegan/model"
	"animegan/modelgen"
	"animegan/synth"
)

type config struct {
	binary    string
	model     string
	cache     string
	sizes     []int
	count     int
	shared    string
	torch     bool
	ortLib    string
	only      string
	arenaExp  bool
	reps      int
	minTime   time.Duration
	int8      bool   // also optimise the model and measure convert with it
	method    string // optimize --method
	int8Path  string // the set's int8 model, while it is measured
	tilesOn   bool   // the tiles section after the table
	onlyTile  bool   // the tiles section alone
	tiles     tilesConfig
	big       bool   // the 48 MP photo at full resolution after the tiles section
	bigBudget string // its --mem-budget
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.binary, "binary", "bin/animegan", "the animegan binary to measure")
	flag.StringVar(&c.model, "model", "", "ONNX model (default: the AnimeGANv2 architecture from modelgen, NCHW, seed 1; \"trained\": the shared trained one, -shared/models/"+trainedModel+")")
	flag.StringVar(&c.cache, "cache", ".cache/bench", "folder for the generated model and photos")
	flag.StringVar(&sizes, "sizes", "512,256", "--max-size values to measure")
	flag.IntVar(&c.count, "n", 30, "photos per set (all 30 of ../shared/photos)")
	flag.StringVar(&c.shared, "shared", "../shared", "folder with photos/ and bench/torch_reference.py, used when present")
	flag.BoolVar(&c.torch, "torch", true, "also run the PyTorch reference when python3-torch is installed")
	flag.StringVar(&c.ortLib, "ort-lib", "", "ONNX Runtime library (default: as animegan finds it)")
	flag.StringVar(&c.only, "set", "", "measure only this photo set (generated or shared)")
	flag.IntVar(&c.reps, "reps", 2, "time the ceiling and convert at least this many times each, alternating, and keep each one's best: the least disturbed by other load")
	flag.DurationVar(&c.minTime, "min-time", 60*time.Second, "and repeat until the ceiling's runs add up to this much (short batches are noisier; at most 12 runs)")
	flag.BoolVar(&c.int8, "int8", true, "also make the int8 model with `animegan optimize` on each photo set and time convert with it (its row beside fp32's)")
	flag.StringVar(&c.method, "method", calibrate.DefaultMethod.String(), "optimize --method for the int8 model")
	flag.BoolVar(&c.arenaExp, "sessions", false, "instead: compare session settings (arena, threads) at the first size")
	var tileSize, variants string
	flag.BoolVar(&c.tilesOn, "tiles", true, "after the table, the tiles section: tiled (thumbnail statistics) and naive tiles against the untiled image (needs ~11 GB of RAM at 2048x1536: refused at start where less may be used)")
	flag.BoolVar(&c.onlyTile, "tiles-only", false, "measure the tiles section only")
	flag.IntVar(&c.tiles.n, "tiles-n", 3, "tiles section: photos (the shared photos with the most pixels, else generated scenes); 0: only the 48 MP photo")
	flag.StringVar(&tileSize, "tiles-size", "2048x1536", "tiles section: the photos' size (portraits turned), where the untiled inference must still fit")
	flag.StringVar(&variants, "tiles-variants", "512:0:512", "tiles section: tile:overlap:thumbnail sides to measure against the same untiled runs (overlap 0: the model's default)")
	flag.BoolVar(&c.tiles.exact, "tiles-exact", false, "tiles section: also tiles with the whole image's statistics (one more full-size run per photo)")
	flag.StringVar(&c.tiles.models, "tiles-models", "", "tiles section: comma-separated models (default: ../shared's AnimeGANv2-architecture models, untrained and trained, else the generated one)")
	flag.BoolVar(&c.big, "48mp", true, "after the tiles section, convert a generated 48 MP photo at --max-size 0 under -48mp-budget and report its peak RSS")
	flag.StringVar(&c.bigBudget, "48mp-budget", "2GiB", "the 48 MP photo's --mem-budget")
	flag.Parse()
	if _, err := fmt.Sscanf(tileSize, "%dx%d", &c.tiles.w, &c.tiles.h); err != nil || c.tiles.w < 8 || c.tiles.h < 8 {
		fail(fmt.Errorf("-tiles-size %q: want WxH like 2048x1536", tileSize))
	}
	var err error
	if c.tiles.variants, err = parseTileVariants(variants); err != nil {
		fail(err)
	}
	if (c.tilesOn || c.onlyTile) && c.tiles.n > 0 {
		warn := func(msg string) { fmt.Fprintln(os.Stderr, "bench: warning:", msg) }
		if err := tilesMemory(sysmem.ReadLimit(), c.tiles.w, c.tiles.h, warn); err != nil {
			fail(err)
		}
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8 {
			fail(fmt.Errorf("-sizes %q: want sizes like 512,256", sizes))
		}
		c.sizes = append(c.sizes, n)
	}
	if err := run(c); err != nil {
		fail(err)
	}
}

// trainedModel is the AnimeGANv2 architecture with weights trained on the
// shared photos (../shared/README.md): -model trained. Its activations have
// the structure of a trained network's, which untrained weights flatter in
// int8 calibration.
const trainedModel = "animeganv2-arch-trained-nchw.onnx"

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// photoSet is a folder of photos measured as one batch.
type photoSet struct {
	name string
	dir  string
}

func run(c config) error {
	rt, err := model.Load(c.ortLib)
	if err != nil {
		return err
	}
	switch c.model {
	case "":
		if c.model, err = generatedModel(c.cache); err != nil {
			return err
		}
	case "trained":
		c.model = filepath.Join(c.shared, "models", trainedModel)
	}
	data, err := os.ReadFile(c.model)
	if err != nil {
		return err
	}
	spec, err := model.Inspect(c.model, data, model.Overrides{})
	if err != nil {
		return err
	}
	if c.onlyTile {
		fmt.Printf("animegan bench: %s, %d cores, ONNX Runtime %s\n", runtime.GOARCH, runtime.NumCPU(), rt.Version)
		return runTiles(c)
	}
	sets, err := photoSets(c)
	if err != nil {
		return err
	}
	fmt.Printf("animegan bench: %s, %d cores, ONNX Runtime %s, model %s (%s), started %s, load average %s\n",
		runtime.GOARCH, runtime.NumCPU(), rt.Version, c.model, spec.Layout, time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadAverage())
	if c.arenaExp {
		return compareSessions(spec, data, sets[0], c.sizes[0])
	}

	var rows []row
	for _, set := range sets {
		c.int8Path = ""
		if c.int8 {
			if c.int8Path, err = optimizeFor(c, set); err != nil {
				return err
			}
		}
		for _, size := range c.sizes {
			fmt.Fprintf(os.Stderr, "measuring %s photos at --max-size %d ...\n", set.name, size)
			r, err := measure(c, spec, data, set, size)
			if err != nil {
				return fmt.Errorf("%s at %d: %w", set.name, size, err)
			}
			rows = append(rows, r)
		}
	}
	printRows(rows)
	if c.int8 {
		printInt8(rows)
	}
	if c.tilesOn {
		if err := runTiles(c); err != nil {
			return err
		}
	}
	fmt.Printf("finished %s, load average %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadAverage())
	return nil
}

// loadAverage is the kernel's 1, 5 and 15 minute load averages: on a
// shared machine, what the figures were measured against.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// generatedModel writes the AnimeGANv2 architecture once into the cache.
func generatedModel(cache string) (string, error) {
	path := filepath.Join(cache, "animeganv2-arch-nchw-seed1.onnx")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, data, 0o644)
}

// photoSets are generated 1-8 MP photos (always), and the first n real
// photos of ../shared/photos when that folder exists.
func photoSets(c config) ([]photoSet, error) {
	gen := filepath.Join(c.cache, fmt.Sprintf("photos-%d", c.count))
	if err := generatePhotos(gen, c.count); err != nil {
		return nil, err
	}
	sets := []photoSet{{"generated", gen}}
	real := filepath.Join(c.shared, "photos")
	if files, err := filepath.Glob(filepath.Join(real, "*.jpg")); err == nil && len(files) > 0 {
		slices.SortFunc(files, func(a, b string) int { return naturalLess(a, b) })
		dir := filepath.Join(c.cache, fmt.Sprintf("shared-%d", c.count))
		if err := linkFirst(files, c.count, dir); err != nil {
			return nil, err
		}
		sets = append(sets, photoSet{"shared", dir})
	}
	if c.only != "" {
		sets = slices.DeleteFunc(sets, func(s photoSet) bool { return s.name != c.only })
		if len(sets) == 0 {
			return nil, fmt.Errorf("no photo set %q", c.only)
		}
	}
	return sets, nil
}

// generatePhotos renders n photo-like JPEGs from 1 to 8 megapixels.
func generatePhotos(dir string, n int) error {
	if files, _ := filepath.Glob(filepath.Join(dir, "*.jpg")); len(files) == n {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sizes := [][2]int{{1280, 960}, {1600, 1200}, {2048, 1536}, {3264, 2448}, {1920, 1080}, {1200, 1600}, {2400, 1600}, {1024, 768}, {3840, 2160}, {1500, 1000}}
	fmt.Fprintf(os.Stderr, "generating %d photos in %s ...\n", n, dir)
	for i := range n {
		s := sizes[i%len(sizes)]
		img := synth.Scene(int64(100+i), s[0], s[1])
		data, err := synth.EncodeJPEG(img, 88, 0)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("gen%02d.jpg", i)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// linkFirst puts the first n files into dir (symlinks, so that convert and
// the PyTorch loop read the same folder).
func linkFirst(files []string, n int, dir string) error {
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files[:min(n, len(files))] {
		abs, err := filepath.Abs(f)
		if err != nil {
			return err
		}
		if err := os.Symlink(abs, filepath.Join(dir, filepath.Base(f))); err != nil {
			return err
		}
	}
	return nil
}

var digits = regexp.MustCompile(`\d+`)

// naturalLess orders v3_2 before v3_10.
func naturalLess(a, b string) int {
	na, nb := digits.FindAllString(a, -1), digits.FindAllString(b, -1)
	if len(na) > 0 && len(nb) > 0 {
		x, _ := strconv.Atoi(na[len(na)-1])
		y, _ := strconv.Atoi(nb[len(nb)-1])
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

// row is one line of the report.
type row struct {
	set                          string
	size, images                 int
	split                        string
	ceiling                      time.Duration // ORT alone, best split
	ceilingCPU                   time.Duration // the CPU time it took (user + system)
	runs                         int           // timed runs of each
	ceilingMedian, convertMedian time.Duration
	convertCPU                   time.Duration
	convert                      time.Duration // end to end
	firstOutput                  time.Duration
	peakRSS                      int64
	torch                        time.Duration // 0 when not measured
	int8                         *int8Result   // nil when not measured
}

func measure(c config, spec *model.Spec, data []byte, set photoSet, size int) (row, error) {
	r := row{set: set.name, size: size}
	imgs, err := decodeAll(spec, set.dir, size)
	if err != nil {
		return r, err
	}
	r.images = len(imgs)
	// Pick the best worker/thread split once, then time it and convert
	// alternately, the same number of times each, keeping each one's best:
	// on a shared machine the fastest run is the one least disturbed, and
	// both get as many chances at it. A short batch is repeated more: its
	// run-to-run noise is as large as what is measured. The medians are
	// kept too, as a second estimate.
	best, err := bestSplit(spec, data, imgs)
	if err != nil {
		return r, err
	}
	r.split = best.String()
	var ceils, convs, int8s, convCPUs, int8CPUs []time.Duration
	c8 := c
	c8.model = c.int8Path
	for i := 0; i < max(1, c.reps) || (sum(ceils) < c.minTime && i < 12); i++ {
		ceil, ceilCPU, err := runSplit(spec, data, imgs, best)
		if err != nil {
			return r, err
		}
		conv, convCPU, first, peak, err := endToEnd(c, set.dir, size)
		if err != nil {
			return r, err
		}
		fmt.Fprintf(os.Stderr, "  ceiling %s: %s (CPU %s), convert: %s (CPU %s)\n", r.split, ceil.Round(time.Millisecond), ceilCPU.Round(time.Millisecond), conv.Round(time.Millisecond), convCPU.Round(time.Millisecond))
		if r.ceiling == 0 || ceil < r.ceiling {
			r.ceiling, r.ceilingCPU = ceil, ceilCPU
		}
		if r.convert == 0 || conv < r.convert {
			r.convert, r.convertCPU, r.firstOutput = conv, convCPU, first
		}
		r.peakRSS = max(r.peakRSS, peak)
		ceils, convs, convCPUs = append(ceils, ceil), append(convs, conv), append(convCPUs, convCPU)
		if c.int8Path != "" {
			conv8, cpu8, _, _, err := endToEnd(c8, set.dir, size)
			if err != nil {
				return r, err
			}
			fmt.Fprintf(os.Stderr, "  int8 convert: %s (CPU %s)\n", conv8.Round(time.Millisecond), cpu8.Round(time.Millisecond))
			int8s, int8CPUs = append(int8s, conv8), append(int8CPUs, cpu8)
		}
	}
	if c.int8Path != "" {
		r.int8 = &int8Result{convert: slices.Min(int8s), median: median(int8s),
			cpu: median(int8CPUs), fp32CPU: median(convCPUs)}
		if r.int8.meanPSNR, r.int8.worstPSNR, err = int8PSNR(spec, data, c.int8Path, imgs); err != nil {
			return r, err
		}
	}
	r.runs, r.ceilingMedian, r.convertMedian = len(ceils), median(ceils), median(convs)
	if c.torch {
		r.torch = torchReference(c, set.dir, size)
	}
	return r, nil
}

// decodeAll prepares the images exactly as convert feeds them to the model.
func decodeAll(spec *model.Spec, dir string, size int) ([]*image.NRGBA, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil {
		return nil, err
	}
	eng, err := convert.NewEngine(spec, nil, convert.EngineOptions{MaxSide: size, Workers: 0})
	if err == nil {
		defer eng.Close()
	}
	var imgs []*image.NRGBA
	for _, f := range files {
		d, err := eng.Decode(f, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		imgs = append(imgs, d.Img)
	}
	return imgs, nil
}

// split is a way to use the cores: workers sessions of threads each;
// with wideLast, the last image runs on a session with a thread per core,
// as convert's does.
type split struct {
	workers, threads int
	wideLast         bool
}

func (sp split) String() string {
	s := fmt.Sprintf("%dx%d", sp.workers, sp.threads)
	if sp.wideLast {
		s += fmt.Sprintf(", last %dx%d", 1, sp.workers*sp.threads)
	}
	return s
}

// bestSplit runs ONNX Runtime alone over the images with each
// worker/thread split that uses all cores once, and returns the fastest.
func bestSplit(spec *model.Spec, data []byte, imgs []*image.NRGBA) (split, error) {
	cores := runtime.NumCPU()
	var best split
	var bestTime time.Duration
	var splits []split
	for w := 1; w <= cores; w++ {
		if cores%w == 0 {
			splits = append(splits, split{w, cores / w, false})
			if w > 1 {
				splits = append(splits, split{w, cores / w, true})
			}
		}
	}
	for _, sp := range splits {
		d, _, err := runSplit(spec, data, imgs, sp)
		if err != nil {
			return split{}, err
		}
		fmt.Fprintf(os.Stderr, "  split %s threads: %s\n", sp, d.Round(time.Millisecond))
		if bestTime == 0 || d < bestTime {
			best, bestTime = sp, d
		}
	}
	return best, nil
}

// splitOptions are convert's session settings for a split.
func splitOptions(sp split) model.SessionOptions {
	so := model.DefaultSessionOptions(sp.workers, sp.workers*sp.threads)
	so.IntraOpThreads = sp.threads
	return so
}

// runSplit times workers goroutines, each with its own session, pulling
// the images from a shared queue, and returns the wall and CPU time of the
// timed part. Sessions are created before the clock starts (convert pays
// for its own; the ceiling is inference alone).
func runSplit(spec *model.Spec, data []byte, imgs []*image.NRGBA, sp split) (wall, cpu time.Duration, err error) {
	var wide *model.SessionOptions
	if sp.wideLast {
		so := splitOptions(split{1, sp.workers * sp.threads, false})
		so.Spinning = false
		wide = &so
	}
	return runSessions(spec, data, imgs, sp.workers, sp.workers, splitOptions(sp), wide)
}

// runSessions is runSplit with n sessions shared round-robin by the
// workers (n = 1: one session that all workers run at once), and the last
// image on a session of its own made with wide (when not nil).
func runSessions(spec *model.Spec, data []byte, imgs []*image.NRGBA, workers, n int, so model.SessionOptions, wide *model.SessionOptions) (wall, cpu time.Duration, err error) {
	own := make([]*model.Session, n)
	for i := range own {
		s, err := model.NewSession(spec, data, so)
		if err != nil {
			return 0, 0, err
		}
		defer s.Close()
		own[i] = s
	}
	var last *model.Session
	if wide != nil {
		s, err := model.NewSession(spec, data, *wide)
		if err != nil {
			return 0, 0, err
		}
		defer s.Close()
		last = s
	}
	sessions := make([]*model.Session, workers)
	for i := range sessions {
		sessions[i] = own[i%n]
	}
	queue := make(chan *image.NRGBA, len(imgs))
	for _, img := range imgs {
		queue <- img
	}
	close(queue)
	var left atomic.Int64
	left.Store(int64(len(imgs)))
	var wg sync.WaitGroup
	errs := make([]error, workers)
	start, cpu0 := time.Now(), processCPU()
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for img := range queue {
				run := s
				if left.Add(-1) == 0 && last != nil {
					run = last
				}
				if _, err := run.Run(context.Background(), img); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), processCPU() - cpu0, errors.Join(errs...)
}

// processCPU is the CPU time this process has used so far (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// endToEnd runs the real binary with convert's defaults and returns its
// wall time, time to first output and peak RSS (the kernel's figure).
func endToEnd(c config, dir string, size int) (wall, cpu, first time.Duration, peak int64, err error) {
	out, err := os.MkdirTemp("", "animegan-bench-out-")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer os.RemoveAll(out)
	args := []string{"convert", dir, "-o", out, "-m", c.model, "--max-size", strconv.Itoa(size), "-q"}
	if c.ortLib != "" {
		args = append(args, "--ort-lib", c.ortLib)
	}
	cmd := exec.Command(c.binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, 0, err
	}
	firstCh := make(chan time.Duration, 1)
	stop := make(chan struct{})
	go watchFirstOutput(out, start, firstCh, stop)
	err = cmd.Wait()
	wall = time.Since(start)
	close(stop)
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("convert: %v\n%s", err, stderr.String())
	}
	first = <-firstCh
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = ru.Maxrss * 1024
	}
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return wall, cpu, first, peak, nil
}

// watchFirstOutput polls for the first finished (non-hidden) output file.
func watchFirstOutput(dir string, start time.Time, first chan<- time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				first <- time.Since(start)
				return
			}
		}
		select {
		case <-stop:
			first <- 0
			return
		case <-t.C:
		}
	}
}

var torchLine = regexp.MustCompile(`in ([0-9.]+)s`)

// torchReference runs ../shared/bench/torch_reference.py on the same
// folder with 2 threads; 0 when PyTorch or the script is missing.
func torchReference(c config, dir string, size int) time.Duration {
	script := filepath.Join(c.shared, "bench", "torch_reference.py")
	if _, err := os.Stat(script); err != nil {
		return 0
	}
	if exec.Command("/usr/bin/python3", "-c", "import torch, PIL, numpy").Run() != nil {
		return 0
	}
	tmp, err := os.MkdirTemp("", "animegan-bench-torch-")
	if err != nil {
		return 0
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("/usr/bin/python3", script, "bench", dir, "--size", strconv.Itoa(size), "--threads", strconv.Itoa(runtime.NumCPU()))
	cmd.Env = append(os.Environ(), "TORCH_OUT="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "  torch reference failed: %v\n%s", err, out)
		return 0
	}
	m := torchLine.FindSubmatch(out)
	if m == nil {
		return 0
	}
	sec, _ := strconv.ParseFloat(string(m[1]), 64)
	return time.Duration(sec * float64(time.Second))
}

func printRows(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "photos\tmax-size\timages\tceiling (ORT alone)\tsplit\tconvert\tratio\truns\tratio of medians\tCPU ceiling\tCPU convert\tfirst output\tpeak RSS\tPyTorch loop\tconvert vs PyTorch\t")
	for _, r := range rows {
		torch, vs := "-", "-"
		if r.torch > 0 {
			torch = secs(r.torch)
			vs = fmt.Sprintf("%.2fx", r.torch.Seconds()/r.convert.Seconds())
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\t%.3f\t%d\t%.3f\t%s\t%s\t%s\t%.2f GB\t%s\t%s\t\n",
			r.set, r.size, r.images, secs(r.ceiling), r.split, secs(r.convert),
			r.ceiling.Seconds()/r.convert.Seconds(), r.runs, r.ceilingMedian.Seconds()/r.convertMedian.Seconds(),
			secs(r.ceilingCPU), secs(r.convertCPU),
			secs(r.firstOutput), float64(r.peakRSS)/1e9, torch, vs)
	}
	w.Flush()
	fmt.Println("ratio = ceiling time / convert time, each the best of its runs (1.0: convert runs at the speed of the model alone);")
	fmt.Println("ratio of medians = the same with each one's median run;")
	fmt.Println("CPU = user + system time of the timed part (the ceiling) or of the whole process (convert);")
	fmt.Println("convert vs PyTorch = PyTorch loop time / convert time (throughput ratio);")
}

func sum(ds []time.Duration) (t time.Duration) {
	for _, d := range ds {
		t += d
	}
	return t
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
