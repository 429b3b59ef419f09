package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"animegan/atomicfile"
	"animegan/internal/ortest"
	"animegan/internal/testhook"
	"animegan/modelgen"
)

// Overlapping runs on one output folder: two real processes whose steps are
// put in a chosen order by holding one of them at a named point
// (internal/testhook), never by sleeping and hoping.

// heldProc is a running convert process with its own hook folder.
type heldProc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	hooks          string
	exited         chan struct{}
	err            error
}

// startHeld starts the binary, held at each of the points in hold.
func startHeld(t *testing.T, name string, hold []string, args ...string) *heldProc {
	t.Helper()
	hooks := t.TempDir()
	for _, p := range hold {
		must(t, os.WriteFile(filepath.Join(hooks, p+".hold"), nil, 0o644))
	}
	cmd, stdout, stderr := child(t, t.TempDir(), args...)
	cmd.Env = shardEnv(testhook.EnvVar + "=" + hooks)
	p := &heldProc{name: name, cmd: cmd, stdout: stdout, stderr: stderr, hooks: hooks, exited: make(chan struct{})}
	must(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *heldProc) reached(point string) bool {
	_, err := os.Stat(filepath.Join(p.hooks, point+".reached"))
	return err == nil
}

// waitAt waits until the process has reached point (and, if held there,
// is waiting); it fails if the process exits first.
func (p *heldProc) waitAt(t *testing.T, point string) {
	t.Helper()
	if !waitFor(func() bool { return p.reached(point) }, p.exited) {
		select {
		case <-p.exited:
			t.Fatalf("%s exited without reaching %s\n%s", p.name, point, p.stderr)
		default:
			t.Fatalf("%s did not reach %s\n%s", p.name, point, p.stderr)
		}
	}
}

func (p *heldProc) release(t *testing.T, point string) {
	t.Helper()
	must(t, os.Remove(filepath.Join(p.hooks, point+".hold")))
}

// finish waits for the process and checks it converted want, with exit 0.
func (p *heldProc) finish(t *testing.T, want int) {
	t.Helper()
	<-p.exited
	s := parseSummary(t, p.stdout.String())
	if code := exitCodeOf(t, p.err); code != 0 || s.Converted != want || s.Failed != 0 {
		t.Fatalf("%s: exit %d, %+v, want exit 0 and %d converted\n%s", p.name, code, s, want, p.stderr)
	}
}

// overlapInputs writes n photos named PREFIX-i.png in a new folder.
func overlapInputs(t *testing.T, prefix string, n int, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		noisePNG(t, filepath.Join(dir, fmt.Sprintf("%s-%d.png", prefix, i)), 24+i, 16+i, seed+uint64(i))
	}
	return dir
}

// wantJournal checks that the folder's unsharded journal has exactly one
// whole record for each of want, and that a run over every input skips
// them all.
func wantJournal(t *testing.T, out string, want []string, inputs ...string) {
	t.Helper()
	got := journalOutputs(t, filepath.Join(out, ".animegan-manifest.jsonl"), false)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("journal records %v,\nwant %v", got, want)
	}
	args := append(append([]string{"convert"}, inputs...), "-o", out, "--json")
	r := shardRun(t, nil, args...)
	s := parseSummary(t, r.stdout)
	if r.code != 0 || s.Skipped != len(want) || s.Converted != 0 {
		t.Fatalf("re-run: exit %d, %+v, want all %d skipped\n%s", r.code, s, len(want), r.stderr)
	}
}

func names(prefix string, n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("%s-%d.png", prefix, i))
	}
	return s
}

// TestOverlapJournal: two unsharded runs into one output folder share its
// journal, and neither's compaction loses the other's records.
//
// First, A has converted its photos and is held just before compacting;
// B converts its own, compacts and exits; then A compacts. (Compacting
// from A's memory alone would drop B's records.)
//
// Second, the exact race: A holds the journal's lock, has read it and is
// held before renaming its compacted copy over it; B, past its start-up,
// lands an output and must append its record. B waits for the lock (the
// test sees it reach that point), A renames and exits, and B's append goes
// to the new journal, not to the file A replaced. (An append through a
// descriptor opened before A's rename would be lost with the old file.)
func TestOverlapJournal(t *testing.T) {
	ortest.Init(t)
	out := filepath.Join(t.TempDir(), "out")
	in1, in2 := overlapInputs(t, "a", 3, 10), overlapInputs(t, "b", 3, 20)
	conv := func(in string) []string { return []string{"convert", in, "-o", out, "-j", "1:1:1", "--json"} }

	a := startHeld(t, "A", []string{testhook.JournalCompact}, conv(in1)...)
	a.waitAt(t, testhook.JournalCompact)
	b := startHeld(t, "B", nil, conv(in2)...)
	b.finish(t, 3)
	a.release(t, testhook.JournalCompact)
	a.finish(t, 3)
	wantJournal(t, out, append(names("a", 3), names("b", 3)...), in1, in2)

	in3, in4 := overlapInputs(t, "c", 3, 30), overlapInputs(t, "d", 3, 40)
	b = startHeld(t, "B", []string{testhook.TempCreated}, conv(in4)...)
	b.waitAt(t, testhook.TempCreated) // B has read the journal and is writing its first output
	a = startHeld(t, "A", []string{testhook.JournalCompactLocked}, conv(in3)...)
	a.waitAt(t, testhook.JournalCompactLocked)
	b.release(t, testhook.TempCreated)
	b.waitAt(t, testhook.JournalLockWait)
	if b.reached(testhook.JournalCompact) {
		t.Fatal("B got to the end while A held the journal's lock")
	}
	a.release(t, testhook.JournalCompactLocked)
	a.finish(t, 3)
	b.finish(t, 3)
	all := slices.Concat(names("a", 3), names("b", 3), names("c", 3), names("d", 3))
	wantJournal(t, out, all, in1, in2, in3, in4)
}

// TestOverlapTempFiles: an unsharded run's start-up clean-up deletes the
// temporary files of killed runs, never those of a live one. A is held
// with its first output's temporary file made; B, over other photos into
// the same folder, runs its clean-up and finishes; A's file is still there
// and A completes. Then A is held again and SIGKILLed there: the next run
// deletes what it left.
func TestOverlapTempFiles(t *testing.T) {
	ortest.Init(t)
	out := filepath.Join(t.TempDir(), "out")
	in1, in2 := overlapInputs(t, "a", 3, 50), overlapInputs(t, "b", 3, 60)
	conv := func(in string) []string { return []string{"convert", in, "-o", out, "-j", "1:1:1", "--json"} }
	temps := func() []string {
		entries, err := os.ReadDir(out)
		must(t, err)
		var names []string
		for _, e := range entries {
			if atomicfile.IsTemp(e.Name()) {
				names = append(names, e.Name())
			}
		}
		return names
	}

	a := startHeld(t, "A", []string{testhook.TempCreated}, conv(in1)...)
	a.waitAt(t, testhook.TempCreated)
	live := temps()
	if len(live) != 1 {
		t.Fatalf("A holds temporary files %v, want one", live)
	}
	b := startHeld(t, "B", nil, conv(in2)...)
	b.waitAt(t, testhook.CleanedUp)
	b.finish(t, 3)
	if _, err := os.Stat(filepath.Join(out, live[0])); err != nil {
		t.Fatalf("B's clean-up deleted the temporary file of A, which is alive: %v", err)
	}
	a.release(t, testhook.TempCreated)
	a.finish(t, 3)
	if left := temps(); len(left) != 0 {
		t.Fatalf("temporary files left after both finished: %v", left)
	}

	must(t, os.Remove(filepath.Join(out, "a-0.png"))) // work for a new A
	a = startHeld(t, "killed A", []string{testhook.TempCreated}, conv(in1)...)
	a.waitAt(t, testhook.TempCreated)
	dead := temps()
	a.cmd.Process.Kill()
	<-a.exited
	if len(dead) != 1 || !slices.Equal(temps(), dead) {
		t.Fatalf("the killed run left %v (seen %v while it was held), want one temporary file", temps(), dead)
	}
	r := shardRun(t, nil, append(conv(in2), "--verbose")...)
	if r.code != 0 {
		t.Fatalf("run after the kill: exit %d\n%s", r.code, r.stderr)
	}
	if left := temps(); len(left) != 0 {
		t.Fatalf("the killed run's temporary file was not cleaned up: %v\n%s", left, r.stderr)
	}
	again := shardRun(t, nil, conv(in1)...)
	if s := parseSummary(t, again.stdout); again.code != 0 || s.Converted != 1 || s.Skipped != 2 {
		t.Fatalf("re-run of A: exit %d, %+v, want the killed output made and the rest skipped\n%s", again.code, s, again.stderr)
	}
	wantJournal(t, out, append(names("a", 3), names("b", 3)...), in1, in2)
}

// TestSignalsWhileExiting: a process that has finished its run and printed
// its summary, held just before it exits, still answers signals as the
// documented statuses say: two SIGTERMs exit 143. (With the default action
// restored at the end of the run, the first SIGTERM killed it by the
// signal, a status no script can read as "terminated"; a CI run met it.)
func TestSignalsWhileExiting(t *testing.T) {
	in := overlapInputs(t, "x", 2, 7)
	model := writeModel(t, t.TempDir(), modelgen.FixtureSpec{Kind: modelgen.SwapInvert, Layout: modelgen.NHWC})
	out := filepath.Join(t.TempDir(), "out")
	p := startHeld(t, "A", []string{testhook.Exiting}, "convert", in, "-o", out, "-m", model, "--json")
	p.waitAt(t, testhook.Exiting)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if !waitFor(func() bool { return strings.Contains(p.stderr.String(), "stopping") }, p.exited) {
		t.Fatalf("no notice of the first signal\n%s", p.stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited
	if code := exitCodeOf(t, p.err); code != exitSIGTERM {
		t.Fatalf("exit %d, want %d\n%s", code, exitSIGTERM, p.stderr)
	}
	if s := parseSummary(t, p.stdout.String()); s.Converted != 2 || s.Failed != 0 {
		t.Fatalf("summary %+v, want 2 converted", s)
	}
}
