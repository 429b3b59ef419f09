package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/gif"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"

	"animegan/atomicfile"
	"animegan/convert"
	"animegan/internal/ortest"
	"animegan/modelgen"
)

// Sharded runs as the recipes in deploy/ launch them: N convert processes
// over one tree and one output folder, each with its own slice of the
// inputs, then `animegan report` over their summaries. Every run here is a
// real process on real files with the real ONNX Runtime.

// shardSummary is the part of a sharded --json summary these tests read.
type shardSummary struct {
	jsonSummary
	Settings struct {
		Shard string `json:"shard"`
	} `json:"settings"`
}

// shardEnv is the environment of a child: the test's own, without any
// batch-engine index it may have been started with (a test run inside a
// Slurm job must not shard the unsharded runs), plus the library and extra.
func shardEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "JOB_COMPLETION_INDEX" || strings.HasPrefix(k, "SLURM_") || strings.HasPrefix(k, envPrefix) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "ONNXRUNTIME_LIB="+ortest.LibraryPath())
	return append(env, extra...)
}

// shardRun runs the binary to the end in a scratch folder.
func shardRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = shardEnv(env...)
	return runCmd(t, cmd)
}

func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return result{exitCodeOf(t, cmd.Run()), out.String(), errb.String()}
}

// convertShard runs one shard to the end (exit 0 expected) and returns
// its summary, also written to sumDir/summary-K.json when sumDir is set.
func convertShard(t *testing.T, in, out, shard, sumDir string, extra ...string) shardSummary {
	t.Helper()
	args := append([]string{"convert", in, "-o", out, "--shard", shard, "-j", "1:1:1", "--json"}, extra...)
	r := shardRun(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("shard %s: exit %d\n%s", shard, r.code, r.stderr)
	}
	if sumDir != "" {
		k, _, _ := strings.Cut(shard, "/")
		must(t, os.MkdirAll(sumDir, 0o755))
		must(t, os.WriteFile(filepath.Join(sumDir, "summary-"+k+".json"), []byte(r.stdout), 0o644))
	}
	return parseShardSummary(t, r.stdout)
}

func parseShardSummary(t *testing.T, data string) shardSummary {
	t.Helper()
	return parseJSON[shardSummary](t, data)
}

// shardPhotos writes n small distinct images below dir in nested folders.
// With collide, two of them are a.png and a.gif, which want the same
// output name (a.png keeps it, a.gif becomes a.gif.png). It returns the
// inputs' paths relative to dir.
func shardPhotos(t *testing.T, dir string, n int, seed uint64, collide bool) []string {
	t.Helper()
	folders := []string{"", "2023", "2023/summer", "2024/trip/day 2", "misc"}
	var rels []string
	if collide {
		noisePNG(t, filepath.Join(dir, "a.png"), 20, 14, seed)
		gifFile(t, filepath.Join(dir, "a.gif"), 18, 16, seed+1)
		rels = append(rels, "a.png", "a.gif")
	}
	for i := len(rels); i < n; i++ {
		rel := filepath.ToSlash(filepath.Join(folders[i%len(folders)], fmt.Sprintf("p%d-%03d.png", seed, i)))
		noisePNG(t, filepath.Join(dir, rel), 16+i%9, 12+i%7, seed*1000+uint64(i))
		rels = append(rels, rel)
	}
	return rels
}

func gifFile(t *testing.T, path string, w, h int, seed uint64) {
	t.Helper()
	noisePNG(t, path+".tmp.png", w, h, seed)
	f, err := os.Open(path + ".tmp.png")
	must(t, err)
	img, _, err := image.Decode(f)
	f.Close()
	must(t, err)
	must(t, os.Remove(path+".tmp.png"))
	var b bytes.Buffer
	must(t, gif.Encode(&b, img, nil))
	must(t, os.WriteFile(path, b.Bytes(), 0o644))
}

// shardOf is the shard (of n) that owns an input, by the binary's own rule.
func shardOf(rel string, n int) int {
	for k := range n {
		if (convert.Shard{Index: k, Count: n}).Owns(convert.Input{Rel: rel}) {
			return k
		}
	}
	return -1
}

// outputImages maps every visible file below dir to its SHA-256, and fails
// the test on a temporary file left anywhere or an output that does not
// decode completely. Hidden files (journals, summaries) are left out.
func outputImages(t *testing.T, dir string) map[string]string {
	t.Helper()
	all := treeHashes(t, dir)
	images := map[string]string{}
	for rel, sum := range all {
		if atomicfile.IsTemp(rel) {
			t.Errorf("temporary file left: %s", rel)
			continue
		}
		if slices.ContainsFunc(strings.Split(rel, "/"), func(p string) bool { return strings.HasPrefix(p, ".") }) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, rel))
		must(t, err)
		_, _, err = image.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("output %s does not decode: %v", rel, err)
		}
		images[rel] = sum
	}
	return images
}

// journalOutputs reads one manifest journal: the outputs it records. Every
// line must be a whole record (torn=false) unless a kill may have cut the
// last one.
func journalOutputs(t *testing.T, path string, torn bool) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, line := range lines {
		if line == "" {
			continue
		}
		var r convert.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Output == "" {
			if torn && i == len(lines)-1 {
				continue
			}
			t.Fatalf("%s line %d is not a record: %v\n%s", path, i+1, err, line)
		}
		outs = append(outs, r.Output)
	}
	return outs
}

func journalPath(out string, k, n int) string {
	return filepath.Join(out, fmt.Sprintf(".animegan-manifest.shard-%d-of-%d.jsonl", k, n))
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestShardLocalProcesses splits one tree over three processes and checks
// the partition, the names, the report, the environment indexes and an
// incremental re-run.
func TestShardLocalProcesses(t *testing.T) {
	ortest.Init(t)
	const n, shards = 30, 3
	in := t.TempDir()
	shardPhotos(t, in, n, 1, true)
	opts := []string{"--max-size", "32"}

	// The reference: one unsharded process.
	whole := filepath.Join(t.TempDir(), "whole")
	r := shardRun(t, nil, append([]string{"convert", in, "-o", whole, "--json"}, opts...)...)
	if r.code != 0 || parseShardSummary(t, r.stdout).Converted != n {
		t.Fatalf("unsharded run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := outputImages(t, whole)
	if len(want) != n || want["a.png"] == "" || want["a.gif.png"] == "" {
		t.Fatalf("unsharded outputs %v: want %d, a.png and a.gif.png among them", sortedKeys(want), n)
	}

	// Three shards, one process each, into one folder.
	out := filepath.Join(t.TempDir(), "out")
	sums := filepath.Join(t.TempDir(), "summaries")
	converted := 0
	owner := map[string]int{}
	for k := range shards {
		s := convertShard(t, in, out, fmt.Sprintf("%d/%d", k, shards), sums, opts...)
		if s.Settings.Shard != fmt.Sprintf("%d/%d", k, shards) || s.Failed != 0 || s.Skipped != 0 {
			t.Fatalf("shard %d summary %+v", k, s)
		}
		converted += s.Converted
		recs := journalOutputs(t, journalPath(out, k, shards), false)
		if len(recs) != s.Converted {
			t.Errorf("shard %d converted %d but its journal has %d records", k, s.Converted, len(recs))
		}
		for _, o := range recs {
			if prev, dup := owner[o]; dup {
				t.Errorf("%s was converted by shards %d and %d", o, prev, k)
			}
			owner[o] = k
		}
	}
	if converted != n {
		t.Errorf("the shards converted %d in all, want %d (each input once)", converted, n)
	}
	got := outputImages(t, out)
	if !mapsEqual(got, want) {
		t.Fatalf("sharded outputs differ from the unsharded run's:\n got %v\nwant %v", sortedKeys(got), sortedKeys(want))
	}
	if len(owner) != n {
		t.Errorf("the journals record %d outputs, want %d", len(owner), n)
	}

	// report: complete with all three, exit 1 naming the missing one.
	r = shardRun(t, nil, "report", "--json", filepath.Join(sums, "summary-0.json"), filepath.Join(sums, "summary-1.json"), filepath.Join(sums, "summary-2.json"))
	var merged convert.Merged
	if err := json.Unmarshal([]byte(r.stdout), &merged); r.code != 0 || err != nil || merged.Converted != n || merged.Shards != shards || len(merged.Missing) != 0 {
		t.Fatalf("report: exit %d, %+v (%v)\n%s", r.code, merged, err, r.stderr)
	}
	r = shardRun(t, nil, "report", filepath.Join(sums, "summary-0.json"), filepath.Join(sums, "summary-2.json"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing summaries for shards [1]") || !strings.Contains(r.stderr, "INCOMPLETE") {
		t.Fatalf("report without shard 1: exit %d, want 1 naming shard 1\n%s", r.code, r.stderr)
	}

	// The index from the environment picks the same inputs as --shard 1/3:
	// a Kubernetes Indexed Job's, and a 1-based Slurm array's (task 2 of 1-3).
	shard1 := map[string]string{}
	for o, k := range owner {
		if k == 1 {
			shard1[o] = want[o]
		}
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"kubernetes", []string{"JOB_COMPLETION_INDEX=1"}, []string{"--shards", "3"}},
		{"slurm", []string{"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=3"}, nil},
	} {
		envOut := filepath.Join(t.TempDir(), c.name)
		args := append(append([]string{"convert", in, "-o", envOut, "-j", "1:1:1", "--json"}, c.args...), opts...)
		r := shardRun(t, c.env, args...)
		s := parseShardSummary(t, r.stdout)
		if r.code != 0 || s.Settings.Shard != "1/3" {
			t.Fatalf("%s: exit %d, shard %q\n%s", c.name, r.code, s.Settings.Shard, r.stderr)
		}
		if got := outputImages(t, envOut); !mapsEqual(got, shard1) {
			t.Errorf("%s: converted %v, --shard 1/3 converted %v", c.name, sortedKeys(got), sortedKeys(shard1))
		}
	}

	// New photos, all shards again: only the new ones are converted.
	added := shardPhotos(t, filepath.Join(in, "new"), 5, 2, false)
	converted, skipped := 0, 0
	for k := range shards {
		s := convertShard(t, in, out, fmt.Sprintf("%d/%d", k, shards), sums, opts...)
		converted += s.Converted
		skipped += s.Skipped
		if s.Failed != 0 {
			t.Errorf("shard %d re-run: %+v", k, s)
		}
	}
	if converted != len(added) || skipped != n {
		t.Errorf("after adding %d photos the shards converted %d and skipped %d, want %d and %d", len(added), converted, skipped, len(added), n)
	}
	if got := outputImages(t, out); len(got) != n+len(added) {
		t.Errorf("%d outputs after the re-run, want %d", len(got), n+len(added))
	}
}

// TestShardKillRestart SIGKILLs one shard mid-batch, runs the others, and
// restarts it: the folder ends byte for byte like an unsharded clean run,
// and the restarted shard skips what it had finished.
func TestShardKillRestart(t *testing.T) {
	ortest.Init(t)
	const n, shards, victim = 18, 3, 1
	in := t.TempDir()
	for i := range n {
		noisePNG(t, filepath.Join(in, fmt.Sprintf("d%d", i%3), fmt.Sprintf("k%02d.png", i)), 48, 32, uint64(100+i))
	}
	model := writeModel(t, t.TempDir(), modelgen.FixtureSpec{Kind: modelgen.Slow, Layout: modelgen.NHWC, SlowLayers: 64})
	args := func(out string, extra ...string) []string {
		return append([]string{"convert", in, "-o", out, "-m", model, "-j", "1:1:1", "--json", "-q"}, extra...)
	}

	clean := filepath.Join(t.TempDir(), "clean")
	if r := shardRun(t, nil, args(clean)...); r.code != 0 {
		t.Fatalf("clean run: exit %d\n%s", r.code, r.stderr)
	}
	want := outputImages(t, clean)

	out := filepath.Join(t.TempDir(), "out")
	shard := fmt.Sprintf("%d/%d", victim, shards)
	cmd, _, stderr := child(t, t.TempDir(), args(out, "--shard", shard)...)
	cmd.Env = shardEnv()
	must(t, cmd.Start())
	exited := make(chan struct{})
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); close(exited) }()
	// Kill once the shard has finished and journaled at least one output:
	// then the restart has something to skip.
	journal := journalPath(out, victim, shards)
	if !waitFor(func() bool {
		data, _ := os.ReadFile(journal)
		return bytes.Contains(data, []byte("\n"))
	}, exited) {
		t.Fatalf("the shard journaled no output\n%s", stderr)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := <-waited
	if code := exitCodeOf(t, err); code == 0 {
		t.Logf("the shard finished before the kill landed")
	}
	before := len(journalOutputs(t, journal, true))
	t.Logf("killed with %d outputs journaled", before)

	for k := range shards {
		if k != victim {
			if r := shardRun(t, nil, args(out, "--shard", fmt.Sprintf("%d/%d", k, shards))...); r.code != 0 {
				t.Fatalf("shard %d: exit %d\n%s", k, r.code, r.stderr)
			}
		}
	}
	r := shardRun(t, nil, args(out, "--shard", shard)...)
	s := parseShardSummary(t, r.stdout)
	if r.code != 0 || s.Skipped < before || s.Skipped == 0 || s.Failed != 0 {
		t.Fatalf("restarted shard: exit %d, %+v; want at least %d skipped\n%s", r.code, s.jsonSummary, before, r.stderr)
	}
	if got := outputImages(t, out); !mapsEqual(got, want) {
		t.Fatalf("after the kill and restart the outputs differ from a clean run's:\n got %v\nwant %v", got, want)
	}
}

// TestShardSameShardTwice starts two processes on the same shard at once,
// as a misconfigured array would. Both may convert the same input (the
// later rename wins; the files are identical), they append to one shared
// journal, neither fails, and nothing is left partial: every output
// decodes, the journal parses and holds every record, and a re-run skips
// everything.
func TestShardSameShardTwice(t *testing.T) {
	ortest.Init(t)
	const n = 16
	in := t.TempDir()
	rels := shardPhotos(t, in, n, 3, false)
	expect := 0
	for _, rel := range rels {
		if shardOf(rel, 2) == 0 {
			expect++
		}
	}
	model := writeModel(t, t.TempDir(), modelgen.FixtureSpec{Kind: modelgen.Slow, Layout: modelgen.NHWC, SlowLayers: 64})
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"convert", in, "-o", out, "-m", model, "--shard", "0/2", "-j", "1:1:1", "--json"}

	type run struct {
		cmd            *exec.Cmd
		stdout, stderr *syncBuffer
		done           chan error
	}
	var runs []run
	for range 2 {
		cmd, stdout, stderr := child(t, t.TempDir(), args...)
		cmd.Env = shardEnv()
		runs = append(runs, run{cmd, stdout, stderr, make(chan error, 1)})
	}
	for _, r := range runs {
		must(t, r.cmd.Start())
		go func() { r.done <- r.cmd.Wait() }()
	}
	total := 0
	for i, r := range runs {
		code := exitCodeOf(t, <-r.done)
		s := parseShardSummary(t, r.stdout.String())
		t.Logf("process %d: exit %d, converted %d, skipped %d, failed %d", i, code, s.Converted, s.Skipped, s.Failed)
		// Neither deletes the other's temporary files (they are locked
		// while written) nor drops the other's journal records (the
		// journal is locked for each append and for the compaction).
		if code != 0 {
			t.Errorf("process %d: exit %d, failures %+v\n%s", i, code, s.Failures, r.stderr)
		}
		total += s.Converted
	}
	if total < expect {
		t.Errorf("the two processes converted %d, fewer than the shard's %d inputs", total, expect)
	}
	if got := outputImages(t, out); len(got) != expect {
		t.Fatalf("%d outputs, want the shard's %d: %v", len(got), expect, sortedKeys(got))
	}
	journals, _ := filepath.Glob(filepath.Join(out, ".animegan-manifest*.jsonl"))
	if len(journals) != 1 || filepath.Base(journals[0]) != ".animegan-manifest.shard-0-of-2.jsonl" {
		t.Fatalf("journals %v, want the shard's one, shared", journals)
	}
	journalOutputs(t, journals[0], false)

	r := shardRun(t, nil, append(args[:len(args):len(args)], "-q")...)
	s := parseShardSummary(t, r.stdout)
	if r.code != 0 || s.Failed != 0 || s.Skipped != expect {
		t.Fatalf("re-run: exit %d, %+v, want all %d skipped\n%s", r.code, s.jsonSummary, expect, r.stderr)
	}
	if r := shardRun(t, nil, args...); r.code != 0 || parseShardSummary(t, r.stdout).Skipped != expect {
		t.Fatalf("second re-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// --- the recipes in deploy/ ---

type k8sJob struct {
	Kind string `yaml:"kind"`
	Spec struct {
		CompletionMode       string `yaml:"completionMode"`
		Completions          *int   `yaml:"completions"`
		Parallelism          *int   `yaml:"parallelism"`
		BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
		Template             struct {
			Spec struct {
				RestartPolicy string         `yaml:"restartPolicy"`
				Containers    []k8sContainer `yaml:"containers"`
				Volumes       []struct {
					Name string `yaml:"name"`
					PVC  *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name      string   `yaml:"name"`
	Image     string   `yaml:"image"`
	Command   []string `yaml:"command"`
	Args      []string `yaml:"args"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

func readJob(t *testing.T, path string) (k8sJob, k8sContainer, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ortest.ModuleRoot(), path))
	must(t, err)
	var job k8sJob
	if err := yaml.Unmarshal(data, &job); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cs := job.Spec.Template.Spec.Containers
	if job.Kind != "Job" || len(cs) != 1 {
		t.Fatalf("%s: kind %q with %d containers, want a Job with one", path, job.Kind, len(cs))
	}
	c := cs[0]
	// The shell wrapper: command sh -c, the script in args.
	if !slices.Equal(c.Command, []string{"sh", "-c"}) || len(c.Args) != 1 {
		t.Fatalf("%s: command %q args %q, want sh -c SCRIPT", path, c.Command, c.Args)
	}
	return job, c, c.Args[0]
}

// cliCall finds the line of script that runs `animegan SUBCOMMAND` and
// splits it into positional arguments and flags (value or "" for a bool;
// --flag=value too).
func cliCall(t *testing.T, script, sub string) (pos []string, flags map[string]string) {
	t.Helper()
	withValue := map[string]bool{"-o": true, "--output": true, "-j": true, "--jobs": true, "--threads": true,
		"--shards": true, "--shard": true, "-m": true, "--model": true, "--max-size": true, "--mem-budget": true}
	// Continued lines are one command; the program may be a variable
	// ($ANIMEGAN) or a path ending in animegan.
	for line := range strings.Lines(strings.ReplaceAll(script, "\\\n", " ")) {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue // comments show commands too
		}
		i := slices.Index(fields, sub)
		if i < 1 || !strings.HasSuffix(strings.ToLower(strings.Trim(fields[i-1], `"'${}`)), "animegan") {
			continue
		}
		flags = map[string]string{}
		for j := i + 1; j < len(fields); j++ {
			f := strings.Trim(fields[j], `"'`)
			switch {
			case strings.HasPrefix(fields[j], ">") || f == "&" || f == "\\":
				return pos, flags
			case withValue[f] && j+1 < len(fields):
				flags[f] = strings.Trim(fields[j+1], `"'`)
				j++
			case strings.HasPrefix(f, "--") && strings.Contains(f, "="): // --json="$summary"
				k, v, _ := strings.Cut(f, "=")
				flags[k] = strings.Trim(v, `"'`)
			case strings.HasPrefix(f, "-"):
				flags[f] = ""
			default:
				pos = append(pos, f)
			}
		}
		return pos, flags
	}
	t.Fatalf("no `animegan %s` line in:\n%s", sub, script)
	return nil, nil
}

// TestDeployKubernetesJob checks deploy/kubernetes/job.yaml against what
// the binary needs, then runs its container's script for every index, as
// the pods would, on a local stand-in for the shared volume, and
// deploy/kubernetes/report.yaml's after them.
func TestDeployKubernetesJob(t *testing.T) {
	ortest.Init(t)
	job, c, script := readJob(t, "deploy/kubernetes/job.yaml")
	spec := job.Spec
	if spec.CompletionMode != "Indexed" || spec.Completions == nil || spec.BackoffLimitPerIndex == nil ||
		spec.Parallelism == nil || *spec.Parallelism < 1 || *spec.Parallelism > *spec.Completions {
		t.Fatalf("job.yaml spec: want completionMode Indexed, completions, 1 <= parallelism <= completions, backoffLimitPerIndex; got %+v", spec)
	}
	if rp := spec.Template.Spec.RestartPolicy; rp != "Never" {
		t.Errorf("restartPolicy %q: podFailurePolicy and per-index retries need Never", rp)
	}
	shards := *spec.Completions
	pos, flags := cliCall(t, script, "convert")
	if flags["--shards"] != strconv.Itoa(shards) {
		t.Errorf("--shards %q, want the Job's completions %d", flags["--shards"], shards)
	}
	if _, ok := flags["--json"]; !ok || len(pos) != 1 || flags["-o"] == "" || flags["--shard"] != "" {
		t.Fatalf("convert call: inputs %q, flags %v; want one input folder, -o, --shards and --json", pos, flags)
	}
	if c.Resources.Limits["memory"] == "" || c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}

	// The input and the output are on a mounted shared volume, the output writable.
	claims := map[string]bool{}
	for _, v := range spec.Template.Spec.Volumes {
		claims[v.Name] = v.PVC != nil && v.PVC.ClaimName != ""
	}
	mountOf := func(path string) (string, bool) {
		for _, m := range c.VolumeMounts {
			if (path == m.MountPath || strings.HasPrefix(path, m.MountPath+"/")) && claims[m.Name] {
				return m.MountPath, !m.ReadOnly
			}
		}
		t.Fatalf("%s is on no mounted persistentVolumeClaim", path)
		return "", false
	}
	mountOf(pos[0])
	if _, writable := mountOf(flags["-o"]); !writable {
		t.Fatalf("output %s is on a read-only mount", flags["-o"])
	}
	if !strings.Contains(script, "$JOB_COMPLETION_INDEX") {
		t.Fatal("the script does not name the summary by $JOB_COMPLETION_INDEX")
	}

	// Every index, as the pods run it: the mounts' paths moved under a
	// scratch root, animegan on PATH.
	root := t.TempDir()
	rebase := func(s string) string {
		for _, m := range c.VolumeMounts {
			s = strings.ReplaceAll(s, m.MountPath, root+m.MountPath)
		}
		return s
	}
	in, out := root+pos[0], root+flags["-o"]
	rels := shardPhotos(t, in, 12, 4, true)
	path := "PATH=" + filepath.Dir(binary) + string(os.PathListSeparator) + os.Getenv("PATH")
	converted := 0
	var sums []string
	for k := range shards {
		cmd := exec.Command("sh", "-c", rebase(script))
		cmd.Env = shardEnv(path, "JOB_COMPLETION_INDEX="+strconv.Itoa(k))
		r := runCmd(t, cmd)
		if r.code != 0 {
			t.Fatalf("index %d: exit %d\n%s", k, r.code, r.stderr)
		}
		found, _ := filepath.Glob(filepath.Join(out, ".summaries", fmt.Sprintf("summary-%d.json", k)))
		if len(found) != 1 {
			found, _ = filepath.Glob(filepath.Join(out, "*", fmt.Sprintf("*%d.json", k)))
		}
		if len(found) != 1 {
			t.Fatalf("index %d left no per-index summary under %s", k, out)
		}
		data, err := os.ReadFile(found[0])
		must(t, err)
		s := parseShardSummary(t, string(data))
		if s.Settings.Shard != fmt.Sprintf("%d/%d", k, shards) {
			t.Errorf("summary of index %d is shard %q", k, s.Settings.Shard)
		}
		converted += s.Converted
		sums = append(sums, found[0])
	}
	if got := outputImages(t, out); converted != len(rels) || len(got) != len(rels) {
		t.Fatalf("the indexes converted %d, %d outputs; want %d each", converted, len(got), len(rels))
	}

	// The report Job, after them; then again with one summary gone.
	_, _, rscript := readJob(t, "deploy/kubernetes/report.yaml")
	rpos, rflags := cliCall(t, rscript, "report")
	if len(rpos) != 1 || !strings.Contains(rpos[0], "*") {
		t.Fatalf("report call %q: want one glob of the summaries", rpos)
	}
	merged := rflags["--json"]
	if merged == "" || merged == "-" {
		t.Fatalf("report flags %v: want --json=FILE, the merged summary on the volume", rflags)
	}
	runReport := func() result {
		cmd := exec.Command("sh", "-c", rebase(rscript))
		cmd.Env = shardEnv(path)
		return runCmd(t, cmd)
	}
	if r := runReport(); r.code != 0 || !strings.Contains(r.stderr, "complete") {
		t.Fatalf("report job: exit %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(rebase(merged))
	must(t, err)
	var m convert.Merged
	if err := json.Unmarshal(data, &m); err != nil || m.Converted != len(rels) {
		t.Fatalf("%s: %+v (%v), want %d converted", merged, m, err, len(rels))
	}
	must(t, os.Remove(sums[shards-1]))
	if r := runReport(); r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("missing summaries for shards [%d]", shards-1)) {
		t.Fatalf("report job without the last summary: exit %d, want 1 naming shard %d\n%s", r.code, shards-1, r.stderr)
	}
}

// TestDeploySlurmArray checks deploy/slurm/convert.sbatch's array against
// its shard count and runs every task as Slurm would, the report after.
func TestDeploySlurmArray(t *testing.T) {
	ortest.Init(t)
	path := filepath.Join(ortest.ModuleRoot(), "deploy", "slurm", "convert.sbatch")
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	arrayRE := regexp.MustCompile(`^#SBATCH\s+--array=0-(\d+)(%\d+)?\s*$`)
	shardsRE := regexp.MustCompile(`^SHARDS=(\d+)\b`)
	last, shards := -1, -1
	var sbatch []string
	var script strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		script.WriteString(line + "\n")
		if m := arrayRE.FindStringSubmatch(line); m != nil {
			last, _ = strconv.Atoi(m[1])
		}
		if m := shardsRE.FindStringSubmatch(line); m != nil {
			shards, _ = strconv.Atoi(m[1])
		}
		if strings.HasPrefix(line, "#SBATCH ") {
			sbatch = append(sbatch, strings.Fields(line)[1])
		}
	}
	must(t, sc.Err())
	if last < 0 || shards != last+1 {
		t.Fatalf("--array=0-%d with SHARDS=%d: the array must be 0 to SHARDS-1", last, shards)
	}
	for _, opt := range []string{"--cpus-per-task=", "--mem="} {
		if !slices.ContainsFunc(sbatch, func(s string) bool { return strings.HasPrefix(s, opt) }) {
			t.Errorf("no #SBATCH %s", opt)
		}
	}
	_, flags := cliCall(t, script.String(), "convert")
	if _, ok := flags["--json"]; !ok || flags["--shard"] != "$SLURM_ARRAY_TASK_ID/$SHARDS" {
		t.Fatalf("convert flags %v: want --json and --shard $SLURM_ARRAY_TASK_ID/$SHARDS", flags)
	}
	if !strings.Contains(script.String(), "--dependency=afterany") {
		t.Error("the script does not show the dependent report job")
	}

	root := t.TempDir()
	in, out := filepath.Join(root, "photos"), filepath.Join(root, "anime")
	rels := shardPhotos(t, in, 12, 5, true)
	env := []string{"PATH=" + filepath.Dir(binary) + string(os.PathListSeparator) + os.Getenv("PATH"), "IN=" + in, "OUT=" + out}
	task := func(id int, array ...string) result {
		cmd := exec.Command("bash", path)
		cmd.Dir = t.TempDir()
		cmd.Env = shardEnv(append(append(env, "SLURM_ARRAY_TASK_ID="+strconv.Itoa(id)), array...)...)
		return runCmd(t, cmd)
	}
	full := []string{"SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=" + strconv.Itoa(last), "SLURM_ARRAY_TASK_COUNT=" + strconv.Itoa(shards)}
	perTask := map[int]int{}
	for id := range shards {
		if r := task(id, full...); r.code != 0 {
			t.Fatalf("task %d: exit %d\n%s", id, r.code, r.stderr)
		}
		perTask[id] = 0
	}
	for _, rel := range rels {
		perTask[shardOf(rel, shards)]++
	}
	summaries, _ := filepath.Glob(filepath.Join(out, ".summaries", "summary-*.json"))
	if len(summaries) != shards {
		t.Fatalf("%d summaries, want one per task: %v", len(summaries), summaries)
	}
	r := shardRun(t, nil, append([]string{"report", "--json"}, summaries...)...)
	var merged convert.Merged
	if err := json.Unmarshal([]byte(r.stdout), &merged); r.code != 0 || err != nil || merged.Converted != len(rels) {
		t.Fatalf("report: exit %d, %+v (%v)\n%s", r.code, merged, err, r.stderr)
	}

	// Resubmitting one task (sbatch --array=3) keeps its shard.
	if r := task(3, "SLURM_ARRAY_TASK_MIN=3", "SLURM_ARRAY_TASK_MAX=3", "SLURM_ARRAY_TASK_COUNT=1"); r.code != 0 {
		t.Fatalf("resubmitted task 3: exit %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, ".summaries", "summary-3.json"))
	must(t, err)
	if s := parseShardSummary(t, string(data)); s.Settings.Shard != fmt.Sprintf("3/%d", shards) || s.Converted != 0 || s.Skipped != perTask[3] {
		t.Fatalf("resubmitted task 3: %+v shard %q, want shard 3/%d with its %d inputs skipped", s.jsonSummary, s.Settings.Shard, shards, perTask[3])
	}
	// A task outside the shards is refused, not run as some other slice.
	if r := task(shards, "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX="+strconv.Itoa(shards)); r.code != 2 {
		t.Fatalf("task %d of %d shards: exit %d, want 2\n%s", shards, shards, r.code, r.stderr)
	}
}

// TestDeployDockerLayout checks the Dockerfile's runtime layout without a
// Docker engine: the binary at the path it is copied to finds the library
// at the path that is copied beside it, with no ONNXRUNTIME_LIB and no ./lib.
func TestDeployDockerLayout(t *testing.T) {
	ortest.Init(t)
	data, err := os.ReadFile(filepath.Join(ortest.ModuleRoot(), "Dockerfile"))
	must(t, err)
	copyRE := regexp.MustCompile(`(?m)^COPY --from=build (\S+) (\S+)$`)
	var binDest, libDest string
	for _, m := range copyRE.FindAllStringSubmatch(string(data), -1) {
		switch filepath.Base(m[1]) {
		case "animegan":
			binDest = m[2]
		case "libonnxruntime.so.1":
			libDest = m[2]
		}
	}
	if binDest == "" || libDest == "" || !strings.Contains(string(data), "make build") {
		t.Fatalf("Dockerfile: want `make build` and COPY --from=build of bin/animegan and lib/libonnxruntime.so.1; got %q %q", binDest, libDest)
	}
	root := t.TempDir()
	lib, err := os.ReadFile(ortest.LibraryPath())
	must(t, err)
	exe, err := os.ReadFile(binary)
	must(t, err)
	must(t, os.MkdirAll(filepath.Dir(root+binDest), 0o755))
	must(t, os.MkdirAll(filepath.Dir(root+libDest), 0o755))
	must(t, os.WriteFile(root+binDest, exe, 0o755))
	must(t, os.WriteFile(root+libDest, lib, 0o644))
	cmd := exec.Command(root+binDest, "version")
	cmd.Dir = t.TempDir()
	for _, kv := range shardEnv() {
		if !strings.HasPrefix(kv, "ONNXRUNTIME_LIB=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	r := runCmd(t, cmd)
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, root+libDest) {
		t.Fatalf("%s version: exit %d, want the library from %s\n%s%s", binDest, r.code, libDest, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(ortest.ModuleRoot(), ".dockerignore")); err != nil {
		t.Error(err)
	}
}

// TestDeployDockerRuntimeLibraries: every shared library the binary links
// is, in the Dockerfile's runtime image, in a package that the runtime
// stage's apt-get install names, in one of their dependencies, or in the
// Debian base image (glibc, libgcc, libstdc++, zlib). A C library added to
// the build without its runtime package fails here, not at the image's
// first start. It asks this machine's dpkg, so it needs a Debian-like
// system with the libraries installed from packages (the image's release).
func TestDeployDockerRuntimeLibraries(t *testing.T) {
	for _, tool := range []string{"ldd", "dpkg", "dpkg-query"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: the binary's libraries cannot be traced to Debian packages here", tool)
		}
	}
	data, err := os.ReadFile(filepath.Join(ortest.ModuleRoot(), "Dockerfile"))
	must(t, err)
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	final := text[strings.LastIndex(text, "\nFROM "):]
	_, install, ok := strings.Cut(final, "apt-get install")
	if !ok {
		t.Fatal("the Dockerfile's runtime stage installs no packages")
	}
	install, _, _ = strings.Cut(install, "&&")
	var named []string
	for _, f := range strings.Fields(install) {
		if !strings.HasPrefix(f, "-") {
			named = append(named, f)
		}
	}
	// What apt installs with them: their Depends and Pre-Depends, all the
	// way down, as this machine's dpkg records them.
	closure := func(roots ...string) map[string]bool {
		seen := map[string]bool{}
		for todo := roots; len(todo) > 0; {
			p := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			if seen[p] {
				continue
			}
			seen[p] = true
			out, err := exec.Command("dpkg-query", "-W", "-f", "${Depends}, ${Pre-Depends}", p).Output()
			if err != nil {
				continue // an alternative not installed here
			}
			for _, dep := range strings.FieldsFunc(string(out), func(r rune) bool { return r == ',' || r == '|' }) {
				if name, _, _ := strings.Cut(strings.TrimSpace(dep), " "); name != "" {
					todo = append(todo, strings.TrimSuffix(name, ":any"))
				}
			}
		}
		return seen
	}
	have := closure(append([]string{"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}, named...)...)

	out, err := exec.Command("ldd", binary).Output()
	must(t, err)
	checked := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		path := ""
		for _, f := range fields {
			if strings.HasPrefix(f, "/") {
				path = f
				break
			}
		}
		if path == "" {
			continue // linux-vdso
		}
		owners, err := exec.Command("dpkg", "-S", "*/"+filepath.Base(path)).Output()
		if err != nil {
			t.Errorf("%s (%s) belongs to no Debian package here: the image cannot install it", filepath.Base(path), path)
			continue
		}
		var pkgs []string
		for l := range strings.Lines(string(owners)) {
			list, _, _ := strings.Cut(l, ": /")
			for _, p := range strings.Split(list, ", ") {
				pkgs = append(pkgs, strings.Split(p, ":")[0])
			}
		}
		if !slices.ContainsFunc(pkgs, func(p string) bool { return have[p] }) {
			t.Errorf("%s is in %v, which the runtime stage does not install (it installs %v)", filepath.Base(path), pkgs, named)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("ldd listed no libraries:\n%s", out)
	}
	if !t.Failed() {
		t.Logf("%d libraries, all from %v or the base image", checked, named)
	}
}
