package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"animegan/convert"
	"animegan/internal/ortest"
	"animegan/modelgen"
	"animegan/synth"
)

// TestSlurmCluster runs deploy/slurm/convert.sbatch, unchanged, on a real
// one-node Slurm cluster that it starts from a temporary configuration
// (`make test-slurm`; ANIMEGAN_SLURM=1, root, Debian's slurm-wlm and munge).
//
// The cluster, and why each setting:
//   - munged with its own key, socket, pid file and seed in the temporary
//     folder (AuthInfo=socket=...), so the machine's munge, if any, is left
//     alone and no key outlives the test;
//   - slurmctld and slurmd in the foreground (-D), children of the test:
//     their PIDs are known and each is stopped by its PID; SlurmUser=root
//     (CI runs as root), state, spool, pid and log files in the temporary
//     folder, ports picked free at start;
//   - the node as `slurmd -C` sees this machine (NodeName=$(hostname -s),
//     its CPUs and RealMemory), NodeAddr=127.0.0.1;
//   - SelectType=select/cons_tres with CR_Core_Memory: --mem is a resource
//     the scheduler books, as on real clusters;
//   - ProctrackType=proctrack/cgroup and TaskPlugin=task/cgroup with
//     cgroup.conf's CgroupPlugin=cgroup/v1 (this machine's memory controller
//     is v1, in a hybrid hierarchy) and ConstrainRAMSpace=yes: --mem is the
//     memory.limit_in_bytes of the job's and the step's cgroups
//     (/sys/fs/cgroup/memory/slurm_NODE/uid_0/job_N/step_batch), and going
//     over it gets the task OOM-killed, as on a real cluster;
//   - JobCompType=jobcomp/filetxt, so that `sacct -c` reports each job's
//     State and ExitCode without a slurmdbd; MinJobAge=3600 keeps finished
//     jobs in `scontrol show job`; KillWait=30 (Slurm's default) is the time
//     a cancelled task has between SIGTERM and SIGKILL.
//
// The batch: the AnimeGANv2 architecture from modelgen at --max-size 512
// (~0.8 GB per inference), J=2 inference workers and a --mem (on sbatch's
// command line, over the script's #SBATCH) of 1.6 times the peak RSS of one
// inference, measured: it holds one inference but not two (the control at
// the end runs a task with --mem-budget off under the same --mem and must
// be OOM-killed, else the test proves nothing). Then:
//  1. the array (two photos per task) and the documented afterany report
//     job: every input
//     converted exactly once (outputs and journals), no OOM kill (sacct
//     State/ExitCode, the slurmd log), each task's memory budget 75% of its
//     --mem, one inference admitted at a time, the report exits 0;
//  2. one task (four photos) cancelled (scancel) while it converts, then
//     resubmitted alone
//     (sbatch --array=K): it skips what it finished, whose files are not
//     rewritten (same inode and mtime), and makes the rest;
//  3. the control above: the task of 2. on a fresh output folder.
//
// Everything it starts is stopped by PID at the end, and the temporary
// folder and the cgroups Slurm made are removed; a run that died before its
// clean-up (a killed `go test`) is cleaned up by the next one. It is not
// meant for a machine that runs a Slurm of its own: it refuses to start
// when a slurmd or slurmctld it did not start is running.
func TestSlurmCluster(t *testing.T) {
	if os.Getenv("ANIMEGAN_SLURM") != "1" {
		t.Skip("set ANIMEGAN_SLURM=1 (make test-slurm) to run the Slurm recipe on a one-node cluster")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the Slurm test starts munged, slurmctld and slurmd with cgroups: run it as root")
	}
	for _, prog := range []string{"munged", "mungekey", "slurmctld", "slurmd", "sbatch", "sacct", "scontrol", "scancel", "sinfo"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s not found: `make test-slurm` installs Debian's slurm-wlm and munge", prog)
		}
	}
	ortest.Init(t)
	start := time.Now()

	c := startSlurm(t)

	// The model, the photos and the memory figures, while the daemons start.
	work := filepath.Join(c.dir, "work")
	modelData, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	must(t, err)
	model := filepath.Join(work, "animeganv2.onnx")
	must(t, os.MkdirAll(work, 0o755))
	must(t, os.WriteFile(model, modelData, 0o644))
	// Two photos per task; the control (3.) has four.
	const shards, perShard, maxSize = 16, 2, 512
	in := filepath.Join(work, "photos")
	inputs := slurmPhotos(t, in, shards, func(int) int { return perShard }, 1)
	t.Logf("model and %d photos made at %s", len(inputs), time.Since(start).Round(time.Second))
	mem, peak := slurmMem(t, model, []string{inputs[0].path, inputs[1].path}, maxSize)
	memMiB := mem >> 20
	t.Logf("one inference at %dx%d: peak RSS %s without a budget; --mem=%dM, its 75%% %s (at %s)",
		maxSize, maxSize, slurmMiB(peak), memMiB, slurmMiB(mem/4*3), time.Since(start).Round(time.Second))

	c.waitIdle(t)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Second))

	jobEnv := func(in, out string, extra ...string) []string {
		return append([]string{"IN=" + in, "OUT=" + out, "J=2", "MODEL=" + model,
			"FLAGS=--max-size " + strconv.Itoa(maxSize)}, extra...)
	}
	script := filepath.Join(ortest.ModuleRoot(), "deploy", "slurm", "convert.sbatch")
	memFlag := fmt.Sprintf("--mem=%dM", memMiB)
	// The node has fewer cores than the script's --cpus-per-task=4.
	sbatchArgs := func(extra ...string) []string {
		return append(append([]string{"--parsable", memFlag, "--cpus-per-task=1"}, extra...), script)
	}

	// 1. The whole array, then the report job as the script documents it.
	out := filepath.Join(work, "anime")
	oomFrom := c.slurmdLogSize(t)
	jid := c.sbatch(t, jobEnv(in, out), sbatchArgs()...)
	reportID := c.sbatch(t, nil, "--parsable", "--dependency=afterany:"+jid, "--job-name=animegan-report",
		"--output=animegan-report-%j.log", "--wrap", "animegan report "+out+"/.summaries/summary-*.json")
	t.Logf("array job %s and report job %s submitted", jid, reportID)
	c.waitJobs(t, 15*time.Minute, jid, reportID)
	t.Logf("array and report done at %s", time.Since(start).Round(time.Second))

	tasks := c.arrayTasks(t, jid)
	if len(tasks) != shards {
		t.Fatalf("array job %s ran %d tasks, want %d: %v", jid, len(tasks), shards, tasks)
	}
	acct := c.sacct(t)
	for k, raw := range tasks {
		if a := acct[raw]; a.State != "COMPLETED" || a.ExitCode != "0:0" {
			t.Errorf("task %d (job %s): sacct State %s ExitCode %s, want COMPLETED 0:0\n%s", k, raw, a.State, a.ExitCode, c.taskLog(jid, k))
		}
	}
	if a := acct[reportID]; a.State != "COMPLETED" || a.ExitCode != "0:0" {
		t.Errorf("report job: sacct State %s ExitCode %s, want COMPLETED 0:0\n%s", a.State, a.ExitCode, c.jobFile("animegan-report-"+reportID+".log"))
	}
	if log := c.jobFile("animegan-report-" + reportID + ".log"); !strings.Contains(log, "complete") {
		t.Errorf("the report job's log does not say the batch is complete:\n%s", log)
	}
	c.checkNoOOM(t, oomFrom)

	// Every task converted its shard's two photos, one at a time, within
	// 75% of its --mem.
	converted := 0
	for k := range shards {
		s := slurmTaskSummary(t, out, k)
		converted += s.Converted
		if s.Settings.Shard != fmt.Sprintf("%d/%d", k, shards) || s.Converted != perShard || s.Duplicates != 0 || s.Failed != 0 || s.Interrupted {
			t.Errorf("task %d summary: shard %q, %+v; want shard %d/%d with %d converted\n%s", k, s.Settings.Shard, s.jsonSummary, k, shards, perShard, c.taskLog(jid, k))
		}
		slurmCheckBudget(t, fmt.Sprintf("task %d", k), s, mem)
	}
	if converted != len(inputs) {
		t.Errorf("the tasks converted %d in all, want %d", converted, len(inputs))
	}
	if b := slurmTaskSummary(t, out, 0).Budget; b != nil {
		t.Logf("task 0: budget %s (%s); one inference estimated at %s (%s + %.0f B/pixel, %s); measured %s",
			slurmMiB(b.Limit), b.Source, slurmMiB(b.Largest), slurmMiB(b.CostBase), b.CostPerPixel, b.CostSource, slurmMiB(peak))
	}
	slurmCheckOutputs(t, out, inputs, shards)

	// 2. A task cancelled while it converts, resubmitted alone.
	const victim = 5
	in2, out2 := filepath.Join(work, "photos2"), filepath.Join(work, "anime2")
	onlyVictim := func(k int) int {
		if k == victim {
			return 4
		}
		return 0
	}
	inputs2 := slurmPhotos(t, in2, shards, onlyVictim, 2)
	jid2 := c.sbatch(t, jobEnv(in2, out2), sbatchArgs("--array="+strconv.Itoa(victim))...)
	journal := journalPath(out2, victim, shards)
	deadline := time.Now().Add(5 * time.Minute)
	for len(slurmJournalLines(journal)) == 0 {
		if time.Now().After(deadline) || c.jobsDone(t, jid2) {
			t.Fatalf("task %d journaled no output before it ended or 5 minutes passed\n%s", victim, c.taskLog(jid2, victim))
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.run(t, nil, "scancel", jid2)
	c.waitJobs(t, 2*time.Minute, jid2)
	raw2 := c.arrayTasks(t, jid2)[victim]
	if a := c.sacct(t)[raw2]; a.State != "CANCELLED" {
		t.Errorf("cancelled task: sacct State %s ExitCode %s, want CANCELLED", a.State, a.ExitCode)
	}
	// The script's promise: convert gets the SIGTERM, stops, prints its
	// summary, and the script moves it into place before Slurm's KillWait
	// runs out.
	if data, err := os.ReadFile(filepath.Join(out2, ".summaries", fmt.Sprintf("summary-%d.json", victim))); err != nil {
		t.Errorf("the cancelled task left no summary: %v\n%s", err, c.taskLog(jid2, victim))
	} else if s := parseJSON[slurmSummary](t, string(data)); !s.Interrupted {
		t.Errorf("the cancelled task's summary does not say interrupted: %s", data)
	}
	done := journalOutputs(t, journal, true)
	if len(done) == 0 || len(done) >= len(inputs2) {
		t.Fatalf("the cancelled task had finished %d of %d: the cancel did not land mid-run\n%s", len(done), len(inputs2), c.taskLog(jid2, victim))
	}
	before := map[string]slurmFileID{}
	for _, o := range done {
		before[o] = slurmStat(t, filepath.Join(out2, o))
	}
	t.Logf("task %d cancelled after %d of %d outputs; its log:\n%s", victim, len(done), len(inputs2), c.taskLog(jid2, victim))

	jid3 := c.sbatch(t, jobEnv(in2, out2), sbatchArgs("--array="+strconv.Itoa(victim))...)
	c.waitJobs(t, 5*time.Minute, jid3)
	raw3 := c.arrayTasks(t, jid3)[victim]
	if a := c.sacct(t)[raw3]; a.State != "COMPLETED" || a.ExitCode != "0:0" {
		t.Errorf("resubmitted task: sacct State %s ExitCode %s, want COMPLETED 0:0\n%s", a.State, a.ExitCode, c.taskLog(jid3, victim))
	}
	s := slurmTaskSummary(t, out2, victim)
	if s.Skipped != len(done) || s.Converted != len(inputs2)-len(done) || s.Duplicates != 0 || s.Failed != 0 {
		t.Errorf("resubmitted task: %+v; want the %d finished skipped and the other %d converted", s.jsonSummary, len(done), len(inputs2)-len(done))
	}
	slurmCheckBudget(t, "resubmitted task", s, mem)
	for o, id := range before {
		if now := slurmStat(t, filepath.Join(out2, o)); now != id {
			t.Errorf("%s was rewritten by the resubmitted task: %+v, before %+v", o, now, id)
		}
	}
	slurmCheckOutputs(t, out2, inputs2, shards)
	c.checkNoOOM(t, oomFrom)

	// 3. The control: the task of 2. again, without the budget, under the
	// same --mem, is killed for memory; so the budget is what kept the
	// tasks above alive. (With four photos and two workers, one session
	// keeps its first inference's memory, ONNX Runtime's arena, while the
	// other runs: two inferences' worth at once.)
	nobudget := filepath.Join(work, "animegan-nobudget")
	must(t, os.WriteFile(nobudget, []byte("#!/bin/sh\nexec animegan \"$@\" --mem-budget off\n"), 0o755))
	oomFrom = c.slurmdLogSize(t)
	jid4 := c.sbatch(t, jobEnv(in2, filepath.Join(work, "control"), "ANIMEGAN="+nobudget), sbatchArgs("--array="+strconv.Itoa(victim))...)
	c.waitJobs(t, 5*time.Minute, jid4)
	raw4 := c.arrayTasks(t, jid4)[victim]
	if a := c.sacct(t)[raw4]; a.State != "OUT_OF_MEMORY" || !strings.Contains(c.slurmdLogFrom(t, oomFrom), "oom-kill") {
		t.Errorf("control (--mem-budget off, J=2, %s): sacct State %s ExitCode %s, want OUT_OF_MEMORY with an oom-kill in the slurmd log: "+
			"two inferences fit in --mem, so the run above does not show that the budget prevents an OOM kill\n%s",
			memFlag, a.State, a.ExitCode, c.taskLog(jid4, victim))
	}
	t.Logf("all phases done at %s; the jobs used %s of CPU on this node's %d cores",
		time.Since(start).Round(time.Second), c.cpuUsed(), runtime.NumCPU())
}

// slurmInput is one generated photo and the shard that owns it.
type slurmInput struct {
	rel, path string
	shard     int
}

// slurmPhotos writes count(k) 640x640 JPEGs for each shard k of n below
// dir, choosing their names by the binary's own shard rule, so that every
// task has work of a known size.
func slurmPhotos(t *testing.T, dir string, n int, count func(int) int, seed int64) []slurmInput {
	t.Helper()
	var ins []slurmInput
	have := make([]int, n)
	base := synth.Scene(seed, 640, 640)
	for i := 0; len(ins) < slurmTotal(n, count); i++ {
		rel := fmt.Sprintf("set%d/%02d/photo-%04d.jpg", seed, i%7, i)
		k := shardOf(rel, n)
		if have[k] >= count(k) {
			continue
		}
		have[k]++
		// One scene, made distinct per photo (identical inputs would be
		// converted once and copied): the index in black and white 8x8
		// blocks along the top, which JPEG keeps.
		img := *base
		img.Pix = slices.Clone(base.Pix)
		for bit := range 16 {
			v := byte(255 * (i >> bit & 1))
			for y := range 8 {
				for x := bit * 8; x < bit*8+8; x++ {
					o := img.PixOffset(x, y)
					img.Pix[o], img.Pix[o+1], img.Pix[o+2] = v, v, v
				}
			}
		}
		data, err := synth.EncodeJPEG(&img, 90, 1)
		must(t, err)
		p := filepath.Join(dir, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, data, 0o644))
		ins = append(ins, slurmInput{rel, p, k})
	}
	return ins
}

func slurmTotal(n int, count func(int) int) int {
	s := 0
	for k := range n {
		s += count(k)
	}
	return s
}

// slurmMem chooses the tasks' --mem from what one inference really takes:
// the peak RSS of a convert run at maxSize without a budget (-j 1, two
// photos, so that ONNX Runtime's arena has reached its steady size). --mem
// is 1.6 times that: one inference fits with room to spare, two (about 1.9
// times one, measured here; the control checks it) do not, and the budget,
// 75% of --mem or 1.2 times one inference, must admit exactly one at a
// time. So the budget's estimate must be neither so high that it refuses
// what fits (over 1.2 times the real figure) nor so low that it admits two
// (under 0.6 times it). The budget is not consulted here: the test sizes
// the job as a user who measured one inference would.
func slurmMem(t *testing.T, model string, photos []string, maxSize int) (mem, peak int64) {
	t.Helper()
	args := append([]string{"convert"}, photos...)
	args = append(args, "-o", t.TempDir(), "-m", model, "--max-size", strconv.Itoa(maxSize),
		"-j", "1", "--threads", "1", "--mem-budget", "off", "-q")
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = shardEnv()
	// Through the runner: read from this process, the child's ru_maxrss
	// would include this test process's own peak (measurePeak says why).
	peakOf := measurePeak(t, cmd)
	if r := runCmd(t, cmd); r.code != 0 {
		t.Fatalf("measuring one inference: exit %d\n%s", r.code, r.stderr)
	}
	peak = peakOf()
	return int64(math.Ceil(1.6*float64(peak)/(16<<20))) * 16 << 20, peak
}

// slurmSummary is a task's summary with its shard and memory budget.
type slurmSummary struct {
	shardSummary
	Duplicates int                  `json:"duplicates"`
	Budget     *convert.BudgetStats `json:"memory_budget"`
}

func slurmTaskSummary(t *testing.T, out string, k int) slurmSummary {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, ".summaries", fmt.Sprintf("summary-%d.json", k)))
	if err != nil {
		t.Fatalf("task %d left no summary: %v", k, err)
	}
	return parseJSON[slurmSummary](t, string(data))
}

// checkBudget: the budget is 75% of the task's --mem, read from its own
// cgroup (less the little the process held when it was set), and it
// admitted one inference at a time.
func slurmCheckBudget(t *testing.T, what string, s slurmSummary, mem int64) {
	t.Helper()
	b := s.Budget
	if b == nil {
		t.Errorf("%s: no memory_budget in its summary", what)
		return
	}
	// 75% of the limit, give or take a rounding or the little the process
	// itself held when the budget was set.
	want := mem / 4 * 3
	if b.Limit > want || b.Limit < want-want/100 || !strings.Contains(b.Source, "cgroup") {
		t.Errorf("%s: memory budget %s (%d bytes) from %q; want 75%% of --mem=%s, %d bytes, from the cgroup limit",
			what, slurmMiB(b.Limit), b.Limit, b.Source, slurmMiB(mem), want)
	}
	if b.PeakConcurrency != 1 {
		t.Errorf("%s: the budget admitted %d inferences at once, want 1 (two do not fit in --mem=%s)", what, b.PeakConcurrency, slurmMiB(mem))
	}
}

// checkOutputs: one output per input, each recorded once in the journal of
// the shard that owns its input and nowhere else.
func slurmCheckOutputs(t *testing.T, out string, inputs []slurmInput, shards int) {
	t.Helper()
	got := outputImages(t, out)
	owner := map[string]int{}
	for k := range shards {
		if _, err := os.Stat(journalPath(out, k, shards)); err != nil {
			continue
		}
		for _, o := range journalOutputs(t, journalPath(out, k, shards), false) {
			if prev, dup := owner[o]; dup {
				t.Errorf("%s is journaled twice (shards %d and %d)", o, prev, k)
			}
			owner[o] = k
		}
	}
	for _, in := range inputs {
		if _, ok := got[in.rel]; !ok {
			t.Errorf("%s has no output", in.rel)
		}
		if k, ok := owner[in.rel]; !ok || k != in.shard {
			t.Errorf("%s: journaled by shard %d (%t), want shard %d", in.rel, k, ok, in.shard)
		}
	}
	if len(got) != len(inputs) || len(owner) != len(inputs) {
		t.Errorf("%d outputs and %d journal records for %d inputs: %v", len(got), len(owner), len(inputs), sortedKeys(got))
	}
}

// journalLines is the number of whole lines in a journal so far.
func slurmJournalLines(path string) []string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	return lines[:len(lines)-1]
}

type slurmFileID struct {
	Ino   uint64
	Mtime time.Time
}

func slurmStat(t *testing.T, path string) slurmFileID {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	return slurmFileID{fi.Sys().(*syscall.Stat_t).Ino, fi.ModTime()}
}

func slurmMiB(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// --- the cluster ---

// slurmCluster is munged, slurmctld and slurmd started by the test from a
// configuration in dir.
type slurmCluster struct {
	dir, conf, node string
	env             []string // for the clients and, through sbatch, the jobs
	daemons         []*exec.Cmd
}

// slurmPrefix names the test's temporary folders, so that a later run can
// find what a killed one left.
const slurmPrefix = "animegan-slurm-"

func startSlurm(t *testing.T) *slurmCluster {
	t.Helper()
	node := slurmNodeName(t)
	cleanStaleSlurm(t, node)

	dir, err := os.MkdirTemp("", slurmPrefix)
	must(t, err)
	// munged wants every folder above its socket searchable by all.
	must(t, os.Chmod(dir, 0o755))
	c := &slurmCluster{dir: dir, conf: filepath.Join(dir, "slurm.conf"), node: node}
	cgroupsBefore := slurmCgroups(node)
	t.Cleanup(func() { c.stop(t, cgroupsBefore) })

	for _, d := range []string{"munge", "state", "spool", "log", "jobs"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	must(t, os.Mkdir(filepath.Join(dir, "munge-key"), 0o700))
	key := filepath.Join(dir, "munge-key", "munge.key")
	c.run(t, nil, "mungekey", "--create", "--keyfile="+key)
	socket := filepath.Join(dir, "munge", "munge.socket")
	c.daemon(t, "munged", "--foreground", "--socket="+socket, "--key-file="+key,
		"--pid-file="+filepath.Join(dir, "munge", "munged.pid"), "--seed-file="+filepath.Join(dir, "munge-key", "munged.seed"),
		"--log-file="+filepath.Join(dir, "log", "munged.log"))
	slurmWait(t, 30*time.Second, "munged's socket", func() bool { _, err := os.Stat(socket); return err == nil }, c.logs)

	nodeLine := strings.TrimSpace(strings.SplitN(c.run(t, nil, "slurmd", "-C"), "\n", 2)[0])
	if !strings.HasPrefix(nodeLine, "NodeName="+node+" ") {
		t.Fatalf("slurmd -C: %q, want NodeName=%s ...", nodeLine, node)
	}
	ports := slurmFreePorts(t, 2)
	conf := fmt.Sprintf(`# A one-node cluster for animegan's TestSlurmCluster (slurm_test.go says why each line).
ClusterName=animegantest
SlurmctldHost=%[2]s(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=%[3]d
SlurmdPort=%[4]d
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=%[5]s
StateSaveLocation=%[1]s/state
SlurmdSpoolDir=%[1]s/spool
SlurmctldPidFile=%[1]s/slurmctld.pid
SlurmdPidFile=%[1]s/slurmd.pid
SlurmctldLogFile=%[1]s/log/slurmctld.log
SlurmdLogFile=%[1]s/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=%[1]s/plugstack.conf
MpiDefault=none
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/cgroup
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=%[1]s/log/jobcomp.txt
ReturnToService=2
MinJobAge=3600
KillWait=30
InactiveLimit=0
%[6]s NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=%[2]s Default=YES MaxTime=INFINITE State=UP
`, dir, node, ports[0], ports[1], socket, nodeLine)
	must(t, os.WriteFile(c.conf, []byte(conf), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "cgroup.conf"), []byte(`CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "plugstack.conf"), nil, 0o644))

	c.env = []string{"SLURM_CONF=" + c.conf,
		"PATH=" + filepath.Dir(binary) + string(os.PathListSeparator) + os.Getenv("PATH")}
	c.daemon(t, "slurmctld", "-D", "-f", c.conf)
	c.daemon(t, "slurmd", "-D", "-f", c.conf)
	return c
}

// slurmNodeName is what slurmd calls this machine: hostname -s.
func slurmNodeName(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	must(t, err)
	h, _, _ = strings.Cut(h, ".")
	return h
}

// daemon starts one daemon in the foreground, its output in log/NAME.out.
// Pdeathsig stops it if the test process dies before its clean-up.
func (c *slurmCluster) daemon(t *testing.T, name string, args ...string) {
	t.Helper()
	f, err := os.Create(filepath.Join(c.dir, "log", name+".out"))
	must(t, err)
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Env = shardEnv(c.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	must(t, cmd.Start())
	c.daemons = append(c.daemons, cmd)
	// For the clean-up of a run killed before its own.
	pids, _ := os.OpenFile(filepath.Join(c.dir, "pids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	fmt.Fprintln(pids, cmd.Process.Pid)
	pids.Close()
}

// run runs a client command with the cluster's configuration and returns
// its stdout; a failure is fatal.
func (c *slurmCluster) run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := c.try(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func (c *slurmCluster) try(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = filepath.Join(c.dir, "jobs")
	cmd.Env = shardEnv(append(slices.Clone(c.env), env...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w\n%s%s", err, out.String(), errb.String())
	}
	return out.String(), nil
}

// sbatch submits from the jobs folder (where the logs go) and returns the
// job ID.
func (c *slurmCluster) sbatch(t *testing.T, env []string, args ...string) string {
	t.Helper()
	id := strings.TrimSpace(c.run(t, env, "sbatch", args...))
	id, _, _ = strings.Cut(id, ";") // --parsable: ID[;cluster]
	if _, err := strconv.Atoi(id); err != nil {
		t.Fatalf("sbatch %v printed %q, not a job ID", args, id)
	}
	return id
}

// waitIdle waits for the node to register with the controller.
func (c *slurmCluster) waitIdle(t *testing.T) {
	t.Helper()
	slurmWait(t, 2*time.Minute, "the node to be idle", func() bool {
		out, err := c.try(nil, "sinfo", "-h", "-n", c.node, "-o", "%T")
		return err == nil && strings.TrimSpace(out) == "idle"
	}, c.logs)
}

// jobRecords is `scontrol show job -o ID`: one map of fields per job (an
// array's tasks are one job each).
func (c *slurmCluster) jobRecords(t *testing.T, id string) []map[string]string {
	t.Helper()
	out := c.run(t, nil, "scontrol", "show", "job", "-o", id)
	var recs []map[string]string
	for line := range strings.Lines(out) {
		rec := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				rec[k] = v
			}
		}
		if rec["JobId"] != "" {
			recs = append(recs, rec)
		}
	}
	return recs
}

var jobEnded = map[string]bool{"COMPLETED": true, "FAILED": true, "CANCELLED": true, "OUT_OF_MEMORY": true,
	"TIMEOUT": true, "NODE_FAIL": true, "PREEMPTED": true, "BOOT_FAIL": true, "DEADLINE": true}

// jobsDone reports whether every job (and array task) of ids has ended.
func (c *slurmCluster) jobsDone(t *testing.T, ids ...string) bool {
	t.Helper()
	for _, id := range ids {
		recs := c.jobRecords(t, id)
		if len(recs) == 0 {
			return false
		}
		for _, r := range recs {
			if !jobEnded[r["JobState"]] {
				return false
			}
		}
	}
	return true
}

func (c *slurmCluster) waitJobs(t *testing.T, limit time.Duration, ids ...string) {
	t.Helper()
	slurmWait(t, limit, "jobs "+strings.Join(ids, ", "), func() bool { return c.jobsDone(t, ids...) }, func() string {
		out, _ := c.try(nil, "squeue", "-a")
		return out + c.logs()
	})
}

// arrayTasks maps an array job's task IDs to the job IDs Slurm gave them.
func (c *slurmCluster) arrayTasks(t *testing.T, id string) map[int]string {
	t.Helper()
	tasks := map[int]string{}
	for _, r := range c.jobRecords(t, id) {
		k, err := strconv.Atoi(r["ArrayTaskId"])
		if err != nil {
			t.Fatalf("job %s: task %q not split out: %v", id, r["ArrayTaskId"], r)
		}
		tasks[k] = r["JobId"]
	}
	return tasks
}

type acctRecord struct{ State, ExitCode string }

// sacct reads the job completion records (sacct -c: there is no slurmdbd),
// by raw job ID.
func (c *slurmCluster) sacct(t *testing.T) map[string]acctRecord {
	t.Helper()
	// sacct -c warns on stderr about the array fields it does not know.
	out, err := c.try(nil, "sacct", "-c", "-n", "-P", "-o", "JobIDRaw,State,ExitCode")
	if err != nil && out == "" {
		t.Fatalf("sacct: %v", err)
	}
	recs := map[string]acctRecord{}
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) == 3 {
			state, _, _ := strings.Cut(f[1], " ") // "CANCELLED by 0"
			recs[f[0]] = acctRecord{state, f[2]}
		}
	}
	return recs
}

func (c *slurmCluster) slurmdLogSize(t *testing.T) int64 {
	fi, err := os.Stat(filepath.Join(c.dir, "log", "slurmd.log"))
	must(t, err)
	return fi.Size()
}

func (c *slurmCluster) slurmdLogFrom(t *testing.T, off int64) string {
	data, err := os.ReadFile(filepath.Join(c.dir, "log", "slurmd.log"))
	must(t, err)
	return string(data[min(off, int64(len(data))):])
}

// oomRE is what slurmstepd logs when the cgroup's OOM killer struck
// ("Detected 1 oom-kill event(s) in StepId=...").
var oomRE = regexp.MustCompile(`oom-kill|OOM|OUT_OF_MEMORY`)

// checkNoOOM: nothing in the slurmd log since off, nor in any job's output,
// says a process was killed for memory.
func (c *slurmCluster) checkNoOOM(t *testing.T, off int64) {
	t.Helper()
	for line := range strings.Lines(c.slurmdLogFrom(t, off)) {
		if oomRE.MatchString(line) {
			t.Errorf("slurmd log: %s", strings.TrimSpace(line))
		}
	}
	logs, _ := filepath.Glob(filepath.Join(c.dir, "jobs", "animegan-*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		if oomRE.Match(data) {
			t.Errorf("%s:\n%s", filepath.Base(l), data)
		}
	}
}

func (c *slurmCluster) jobFile(name string) string {
	data, err := os.ReadFile(filepath.Join(c.dir, "jobs", name))
	if err != nil {
		return err.Error()
	}
	return string(data)
}

func (c *slurmCluster) taskLog(jid string, k int) string {
	return "--- animegan-" + jid + "_" + strconv.Itoa(k) + ".log:\n" + c.jobFile(fmt.Sprintf("animegan-%s_%d.log", jid, k))
}

// cpuUsed is the CPU time Slurm's jobs took, from their cgroups' cpuacct
// (a parent's usage keeps its children's after they are removed).
func (c *slurmCluster) cpuUsed() time.Duration {
	for _, cg := range slurmCgroups(c.node) {
		if strings.Contains(cg, "/cpuacct/") {
			data, _ := os.ReadFile(filepath.Join(cg, "cpuacct.usage"))
			ns, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			return time.Duration(ns).Round(time.Second)
		}
	}
	return 0
}

// logs is the end of each daemon's log, for failure messages.
func (c *slurmCluster) logs() string {
	var b strings.Builder
	for _, name := range []string{"munged.out", "slurmctld.log", "slurmd.log"} {
		data, err := os.ReadFile(filepath.Join(c.dir, "log", name))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "\n--- %s (last %d lines):\n%s\n", name, min(40, len(lines)), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
	return b.String()
}

// stop ends what the test started: the jobs, then the daemons by PID, then
// any process left in Slurm's cgroups; it removes the cgroups Slurm made and
// the temporary folder, and checks that nothing is left.
func (c *slurmCluster) stop(t *testing.T, cgroupsBefore []string) {
	if t.Failed() {
		t.Log(c.logs())
		logs, _ := filepath.Glob(filepath.Join(c.dir, "jobs", "*.log"))
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			t.Logf("--- %s:\n%s", filepath.Base(l), data)
		}
	}
	if len(c.daemons) == 3 {
		c.try(nil, "scancel", "--user=root")
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if out, err := c.try(nil, "squeue", "-h"); err == nil && strings.TrimSpace(out) == "" {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// slurmd, slurmctld, then munged, which they need until they stop.
	for i := len(c.daemons) - 1; i >= 0; i-- {
		slurmStopProcess(c.daemons[i])
	}
	if pids := killCgroupProcs(c.node); len(pids) > 0 {
		t.Logf("killed processes left in Slurm's cgroups after the daemons stopped: %v", pids)
	}
	for _, cg := range slurmCgroups(c.node) {
		if !slices.Contains(cgroupsBefore, cg) {
			removeCgroupTree(cg)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("removing %s: %v", c.dir, err)
	}
	// Nothing left behind.
	for _, d := range c.daemons {
		if syscall.Kill(d.Process.Pid, 0) == nil {
			t.Errorf("%s (pid %d) is still running", d.Path, d.Process.Pid)
		}
	}
	for _, cg := range slurmCgroups(c.node) {
		if !slices.Contains(cgroupsBefore, cg) {
			t.Errorf("cgroup %s is left", cg)
		}
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is left: %v", c.dir, err)
	}
}

// stopProcess sends SIGTERM, then SIGKILL after 15 s, and reaps.
func slurmStopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// slurmCgroups are the top cgroups Slurm's cgroup/v1 plugin makes for this
// node, one per controller: /sys/fs/cgroup/CONTROLLER/slurm_NODE (the node
// name is in it where slurmd was built for several per machine, as
// Debian's is), or /slurm.
func slurmCgroups(node string) []string {
	var found []string
	for _, pat := range []string{"/sys/fs/cgroup/*/slurm_" + node, "/sys/fs/cgroup/*/slurm"} {
		m, _ := filepath.Glob(pat)
		found = append(found, m...)
	}
	return found
}

// killCgroupProcs SIGKILLs every process left in Slurm's cgroups (job
// processes and slurmstepd outliving a killed slurmd) and returns them.
func killCgroupProcs(node string) (killed []int) {
	for range 50 {
		var pids []int
		for _, top := range slurmCgroups(node) {
			filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == "cgroup.procs" {
					data, _ := os.ReadFile(p)
					for f := range strings.FieldsSeq(string(data)) {
						if pid, err := strconv.Atoi(f); err == nil {
							pids = append(pids, pid)
						}
					}
				}
				return nil
			})
		}
		if len(pids) == 0 {
			return killed
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		killed = append(killed, pids...)
		time.Sleep(100 * time.Millisecond)
	}
	return killed
}

// removeCgroupTree removes a cgroup and its children, deepest first (a v1
// cgroup is removed with rmdir once it has no processes and no children).
func removeCgroupTree(top string) {
	var dirs []string
	filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for range 20 {
			if err := syscall.Rmdir(dirs[i]); err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			time.Sleep(100 * time.Millisecond) // a process still leaving
		}
	}
}

// cleanStaleSlurm removes what an earlier run killed before its clean-up
// left: its daemons (found by the PIDs it wrote, and checked to be running
// from its folder), the processes in Slurm's cgroups, the cgroups and the
// folder. It refuses to go on when a Slurm daemon it cannot account for is
// running: the cgroups would be that Slurm's.
func cleanStaleSlurm(t *testing.T, node string) {
	t.Helper()
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), slurmPrefix+"*"))
	for _, dir := range stale {
		data, _ := os.ReadFile(filepath.Join(dir, "pids"))
		for f := range strings.FieldsSeq(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmdline, []byte(dir)) {
				t.Logf("stopping pid %d left by an earlier run (%s)", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if pids := slurmProcesses("slurmctld", "slurmd"); len(pids) > 0 {
		t.Fatalf("a Slurm daemon this test did not start is running (pids %v): the test needs this machine's Slurm cgroups to itself", pids)
	}
	if pids := killCgroupProcs(node); len(pids) > 0 {
		t.Logf("killed processes left in Slurm's cgroups by an earlier run: %v", pids)
	}
	for _, cg := range slurmCgroups(node) {
		t.Logf("removing cgroup %s left by an earlier run", cg)
		removeCgroupTree(cg)
	}
	for _, dir := range stale {
		t.Logf("removing %s left by an earlier run", dir)
		os.RemoveAll(dir)
	}
}

// processesNamed lists the PIDs whose command name is one of names.
func slurmProcesses(names ...string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && slices.Contains(names, strings.TrimSpace(string(comm))) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// freePorts asks the kernel for n free TCP ports.
func slurmFreePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", ":0")
		must(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// waitUntil polls cond every 200 ms; on timeout it fails with what diag says.
func slurmWait(t *testing.T, limit time.Duration, what string, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s%s", limit, what, diag())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDeploySlurmSignal sends SIGTERM to deploy/slurm/convert.sbatch's
// shell alone, as Slurm does when it cancels a task or its time runs out
// (proctrack/cgroup signals the step's tasks, not their children; the
// SIGKILL comes KillWait later): the script must pass it on, so that
// convert stops, prints its summary (interrupted) and the task exits 143
// with the summary in place. TestSlurmCluster does the same on a real
// cluster; this runs everywhere.
func TestDeploySlurmSignal(t *testing.T) {
	ortest.Init(t)
	const shards, k, n = 16, 3, 10
	root := t.TempDir()
	in, out := filepath.Join(root, "photos"), filepath.Join(root, "anime")
	for i, have := 0, 0; have < n; i++ {
		rel := fmt.Sprintf("p%03d.png", i)
		if shardOf(rel, shards) == k {
			noisePNG(t, filepath.Join(in, rel), 128, 128, uint64(i))
			have++
		}
	}
	model := writeModel(t, t.TempDir(), modelgen.FixtureSpec{Kind: modelgen.Slow, Layout: modelgen.NHWC, SlowLayers: 64})
	cmd := exec.Command("bash", filepath.Join(ortest.ModuleRoot(), "deploy", "slurm", "convert.sbatch"))
	cmd.Dir = t.TempDir()
	cmd.Env = shardEnv("PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"IN="+in, "OUT="+out, "MODEL="+model, "FLAGS=--max-size 128", "J=1", "SLURM_ARRAY_TASK_ID="+strconv.Itoa(k))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	exited := make(chan struct{})
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); close(exited) }()
	journal := journalPath(out, k, shards)
	if !waitFor(func() bool { return len(slurmJournalLines(journal)) > 0 }, exited) {
		t.Fatalf("the task journaled no output\n%s", stderr.String())
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM)) // the shell only
	code := exitCodeOf(t, <-waited)
	data, err := os.ReadFile(filepath.Join(out, ".summaries", fmt.Sprintf("summary-%d.json", k)))
	if code != 143 || err != nil {
		t.Fatalf("after SIGTERM to the script: exit %d (want 143), summary: %v\n%s", code, err, stderr.String())
	}
	s := parseShardSummary(t, string(data))
	if !s.Interrupted || s.Converted == 0 || s.Converted+s.NotStarted != n {
		t.Fatalf("summary %+v: want interrupted, with %d converted or not started\n%s", s.jsonSummary, n, stderr.String())
	}
	// convert ended with the script: nothing still writes into out.
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && bytes.Contains(cmdline, []byte(out)) {
			t.Errorf("pid %s still runs after the script ended: %s", e.Name(), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
}
