// Command ortprofile measures where ONNX Runtime spends one inference of
// each model given: the models run alternately on the same input (one
// intra-op thread by default, as convert's workers run), and for each it
// prints the best CPU time of a run (user + system time of this process,
// which other load on a shared machine moves less than the wall clock),
// and, from ONNX Runtime's own profiler, the time of each operator type:
// each node's best run, summed by type. -optimized saves the graph ONNX
// Runtime really runs (after its fusions, such as DequantizeLinear ->
// Conv -> QuantizeLinear into QLinearConv), to check that a rewrite was
// fused as meant.
//
//	go run ./bench/ortprofile -size 512x512 -n 5 fp32.onnx int8.onnx
//
// The first run of a session is left out of every figure: it first
// touches the memory ONNX Runtime's arena hands out, which on this
// project's machine costs more than the run's own work (README "Where an
// int8 model's time goes").
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/model"
	"animegan/onnxgraph"
)

func main() {
	runs := flag.Int("n", 5, "timed runs of each model, alternately (after one untimed run each)")
	size := flag.String("size", "512x512", "input `WxH`")
	threads := flag.Int("threads", 1, "intra-op threads")
	profile := flag.Bool("profile", true, "ONNX Runtime's profiler: time per operator type")
	optimized := flag.String("optimized", "", "write the graph ONNX Runtime runs for each model into `DIR`")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: ortprofile [flags] MODEL.onnx...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *size, *runs, *threads, *profile, *optimized); err != nil {
		fmt.Fprintln(os.Stderr, "ortprofile:", err)
		os.Exit(1)
	}
}

type session struct {
	path    string
	s       *ort.DynamicAdvancedSession
	in      ort.Value
	prefix  string
	best    time.Duration
	profile string
}

func run(paths []string, size string, runs, threads int, profile bool, optimized string) error {
	var w, h int64
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
		return fmt.Errorf("-size %q: want WxH", size)
	}
	if _, err := model.Load(""); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ortprofile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var sessions []*session
	defer func() {
		for _, s := range sessions {
			if s.s != nil {
				s.s.Destroy()
			}
			s.in.Destroy()
		}
	}()
	for i, path := range paths {
		s, err := open(path, w, h, threads, filepath.Join(tmp, fmt.Sprint(i)), profile, optimized)
		if err != nil {
			return err
		}
		sessions = append(sessions, s)
	}
	for r := range runs + 1 {
		for _, s := range sessions {
			out := []ort.Value{nil}
			start := cpuTime()
			if err := s.s.Run([]ort.Value{s.in}, out); err != nil {
				return fmt.Errorf("%s: %w", s.path, err)
			}
			d := cpuTime() - start
			out[0].Destroy()
			if r > 0 && (s.best == 0 || d < s.best) {
				s.best = d
			}
		}
	}
	fmt.Printf("%dx%d, %d intra-op thread(s), best of %d runs (CPU time):\n", w, h, threads, runs)
	for _, s := range sessions {
		fmt.Printf("  %-60s %7.3f s  (%.2fx the first)\n", s.path, s.best.Seconds(), sessions[0].best.Seconds()/s.best.Seconds())
	}
	if !profile {
		return nil
	}
	for _, s := range sessions {
		// ONNX Runtime writes the profile when the session ends.
		s.s.Destroy()
		s.s = nil
		files, _ := filepath.Glob(s.prefix + "*.json")
		if len(files) != 1 {
			return fmt.Errorf("%s: no profile written", s.path)
		}
		if err := report(s.path, files[0]); err != nil {
			return err
		}
	}
	return nil
}

func open(path string, w, h int64, threads int, prefix string, profile bool, optimized string) (*session, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	info, err := onnxgraph.Read(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g := info.Model().Graph
	var inputs []string
	for _, in := range g.Inputs {
		if !slices.ContainsFunc(g.Inits, func(t *onnxgraph.Tensor) bool { return t.Name == in.Name }) {
			inputs = append(inputs, in.Name)
		}
	}
	if len(inputs) != 1 || len(g.Outputs) == 0 || len(g.Inputs[0].Shape) != 4 {
		return nil, fmt.Errorf("%s: want one image input of rank 4", path)
	}
	// NCHW unless the input's last dimension is its 3 channels.
	shape := ort.NewShape(1, 3, h, w)
	if d := g.Inputs[0].Shape[3]; d.Value == 3 {
		shape = ort.NewShape(1, h, w, 3)
	}
	x := make([]float32, shape.FlattenedSize())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	in, err := ort.NewTensor(shape, x)
	if err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		in.Destroy()
		return nil, err
	}
	defer so.Destroy()
	settings := []error{
		so.SetIntraOpNumThreads(threads), so.SetInterOpNumThreads(1),
		so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"),
		so.SetCpuMemArena(true), so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll),
	}
	if profile {
		settings = append(settings, so.EnableProfiling(prefix))
	}
	if optimized != "" {
		settings = append(settings, so.SetOptimizedModelFilePath(filepath.Join(optimized, filepath.Base(path))))
	}
	for _, err := range settings {
		if err != nil {
			in.Destroy()
			return nil, fmt.Errorf("%s: session options: %w", path, err)
		}
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, inputs, []string{g.Outputs[0].Name}, so)
	if err != nil {
		in.Destroy()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &session{path: path, s: s, in: in, prefix: prefix}, nil
}

// report prints the operator types' times: each node's best run (the
// first, untimed run left out), summed by type.
func report(path, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var events []struct {
		Cat  string `json:"cat"`
		Name string `json:"name"`
		Ts   int64  `json:"ts"`
		Dur  int64  `json:"dur"`
		Args struct {
			Op string `json:"op_name"`
		} `json:"args"`
	}
	if err := json.Unmarshal(data, &events); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	firstEnd := int64(-1)
	for _, e := range events {
		if e.Name == "model_run" && (firstEnd < 0 || e.Ts+e.Dur < firstEnd) {
			firstEnd = e.Ts + e.Dur
		}
	}
	type node struct {
		op   string
		best int64
		n    int
	}
	nodes := map[string]*node{}
	for _, e := range events {
		name, ok := strings.CutSuffix(e.Name, "_kernel_time")
		if e.Cat != "Node" || !ok || e.Ts < firstEnd {
			continue
		}
		n := nodes[name]
		if n == nil {
			n = &node{op: e.Args.Op, best: e.Dur}
			nodes[name] = n
		}
		n.best = min(n.best, e.Dur)
		n.n++
	}
	byOp := map[string]int64{}
	count := map[string]int{}
	var total int64
	for _, n := range nodes {
		byOp[n.op] += n.best
		count[n.op]++
		total += n.best
	}
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return byOp[ops[i]] > byOp[ops[j]] })
	fmt.Printf("%s: operators by time (each node's best run, summed: %.1f ms)\n", path, float64(total)/1e3)
	for _, op := range ops {
		if byOp[op] < 50 {
			continue // under 0.05 ms: shapes and constants
		}
		fmt.Printf("  %-24s %3d nodes %8.1f ms %5.1f%%\n", op, count[op], float64(byOp[op])/1e3, 100*float64(byOp[op])/float64(total))
	}
	return nil
}

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
