package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"animegan/atomicfile"
	"animegan/internal/ortest"
)

// These tests cover what shell batch jobs use (issue 14, convert): dry
// runs, file lists, JSON logs and summaries, environment variables,
// completion and versions, all through the built binary.

// batchRun runs the binary in dir (a scratch folder when ""), with stdin,
// an environment free of the caller's ANIMEGAN_* settings, and env added.
func batchRun(t *testing.T, dir string, stdin []byte, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	if dir == "" {
		dir = t.TempDir()
	}
	cmd.Dir = dir
	// A cache folder of its own: convert -j auto reads profile results there.
	cmd.Env = append(cleanEnv(), "ONNXRUNTIME_LIB="+ortest.LibraryPath(), "XDG_CACHE_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return runCmd(t, cmd)
}

// cleanEnv is the test's environment without the variables that set
// flags: ANIMEGAN_*, and the batch engines' shard indexes.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, envPrefix) || strings.HasPrefix(kv, "SLURM_") || strings.HasPrefix(kv, "JOB_COMPLETION_INDEX=")
	})
}

type planEntry struct {
	Input, Output, Action, Reason, Renamed string
}

type batchSummary struct {
	Converted, Duplicates, Skipped, Failed, Ignored int
	DryRun                                          bool `json:"dry_run"`
	Plan                                            []planEntry
	Failures                                        []struct{ Input, Error string }
	Settings                                        struct {
		MaxSize   int    `json:"max_size"`
		Format    string `json:"format"`
		Shard     string `json:"shard"`
		OutputDir string `json:"output_dir"`
	}
}

// listFiles lists every file below dir (hidden ones too), relative.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(files)
	return files
}

// TestDryRun: --dry-run names each input's output, action and reason,
// with --json the same as a list, and writes nothing: no output folder,
// and in an existing one no output, journal change or temp-file clean-up.
func TestDryRun(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	noisePNG(t, filepath.Join(in, "a.png"), 20, 16, 1)
	data, err := os.ReadFile(filepath.Join(in, "a.png"))
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(in, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(in, "sub", "same.png"), data, 0o644))
	noisePNG(t, filepath.Join(in, "x.png"), 18, 12, 2)
	gifFile(t, filepath.Join(in, "x.gif"), 16, 16, 3)
	out := filepath.Join(t.TempDir(), "out")
	missing := filepath.Join(in, "missing.png")

	r := batchRun(t, "", nil, nil, "convert", in, missing, "-o", out, "--dry-run", "--max-size", "32")
	if r.code != 1 {
		t.Fatalf("dry run with a missing input: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("dry run created the output folder (%v)", err)
	}
	wantLines := []string{
		"convert " + filepath.Join(in, "a.png") + " → " + filepath.Join(out, "a.png") + " (no earlier output)",
		"copy    " + filepath.Join(in, "sub", "same.png") + " → " + filepath.Join(out, "sub", "same.png") + " (identical to " + filepath.Join(in, "a.png") + ", converted once)",
		"convert " + filepath.Join(in, "x.gif") + " → " + filepath.Join(out, "x.gif.png") + " (no earlier output; renamed: x.png is " + filepath.Join(in, "x.png") + "'s)",
		"convert " + filepath.Join(in, "x.png") + " → " + filepath.Join(out, "x.png") + " (no earlier output)",
		"fail    " + missing + " (no such file or directory",
	}
	for _, w := range wantLines {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("plan lacks %q:\n%s", w, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "FAIL "+missing+":") || !strings.Contains(r.stderr, "dry run: would convert 3, copy 1") {
		t.Errorf("stderr lacks the failure or the dry-run summary:\n%s", r.stderr)
	}

	// A real run, then litter a later run would clean up: a dry run now
	// must skip everything and leave the folder exactly as it was.
	r = batchRun(t, "", nil, nil, "convert", in, "-o", out, "--max-size", "32", "-q")
	if r.code != 0 {
		t.Fatalf("real run: exit %d\n%s", r.code, r.stderr)
	}
	stale := filepath.Join(out, ".a.png.animegan-tmp-0123456789abcdef")
	if !atomicfile.IsTemp(stale) {
		t.Fatal("the stale file's name is not one a run would clean up")
	}
	must(t, os.WriteFile(stale, []byte("partial"), 0o644))
	before := listFiles(t, out)
	journal, err := os.ReadFile(filepath.Join(out, ".animegan-manifest.jsonl"))
	must(t, err)
	info, err := os.Stat(filepath.Join(out, ".animegan-manifest.jsonl"))
	must(t, err)
	time.Sleep(10 * time.Millisecond)

	cases := []struct {
		name   string
		args   []string
		action string
		reason string
	}{
		{"up to date", nil, "skip", "up to date"},
		{"overwrite", []string{"--overwrite"}, "convert", "--overwrite"},
		{"other settings", []string{"--max-size", "24"}, "convert", "made with another model or settings"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"convert", in, "-o", out, "--dry-run", "--json", "--max-size", "32"}, tc.args...)
			r := batchRun(t, "", nil, nil, args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			sum := parseJSON[batchSummary](t, r.stdout)
			if !sum.DryRun || len(sum.Plan) != 4 || sum.Converted != 0 {
				t.Fatalf("summary: %+v", sum)
			}
			for _, e := range sum.Plan {
				if e.Action != tc.action && !(e.Action == "copy" && tc.action == "convert") {
					t.Errorf("%s: action %s (%s), want %s", e.Input, e.Action, e.Reason, tc.action)
				}
				if e.Action == tc.action && e.Reason != tc.reason {
					t.Errorf("%s: reason %q, want %q", e.Input, e.Reason, tc.reason)
				}
				if strings.HasSuffix(e.Input, "x.gif") && !strings.Contains(e.Renamed, "x.png is") {
					t.Errorf("x.gif's rename not explained: %+v", e)
				}
			}
			// The plan is in the JSON on stdout; the text plan went to stderr.
			if !strings.Contains(r.stderr, tc.action+" ") {
				t.Errorf("stderr lacks the text plan:\n%s", r.stderr)
			}
		})
	}
	if after := listFiles(t, out); !slices.Equal(before, after) {
		t.Errorf("dry runs changed the output folder:\nbefore %q\nafter  %q", before, after)
	}
	// An output "folder" that is a file fails a dry run as it would a run.
	if r := batchRun(t, "", nil, nil, "convert", in, "-o", filepath.Join(in, "a.png"), "--dry-run"); r.code != 2 || !strings.Contains(r.stderr, "is a file") {
		t.Errorf("-o a file: exit %d\n%s", r.code, r.stderr)
	}
	journal2, _ := os.ReadFile(filepath.Join(out, ".animegan-manifest.jsonl"))
	info2, _ := os.Stat(filepath.Join(out, ".animegan-manifest.jsonl"))
	if !bytes.Equal(journal, journal2) || !info.ModTime().Equal(info2.ModTime()) {
		t.Error("a dry run touched the journal")
	}
}

// TestFilesFrom: --files-from reads newline (CRLF too) or NUL-delimited
// lists from a file or stdin; relative entries are from the working
// directory; outputs mirror paths below --root; entries that are not
// files, or lie outside --root, are named failures (exit 1).
func TestFilesFrom(t *testing.T) {
	ortest.Init(t)
	work := t.TempDir()
	root := filepath.Join(work, "photos")
	noisePNG(t, filepath.Join(root, "2024", "a.png"), 20, 16, 1)
	noisePNG(t, filepath.Join(root, "2024", "line\nbreak.png"), 16, 16, 2)
	noisePNG(t, filepath.Join(root, "b.png"), 12, 20, 3)
	noisePNG(t, filepath.Join(work, "elsewhere.png"), 12, 12, 4)
	must(t, os.WriteFile(filepath.Join(work, "list.txt"), []byte("photos/2024/a.png\r\n\r\n"+filepath.Join(root, "b.png")+"\r\n"), 0o644))

	cases := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		outputs  []string
		failures map[string]string // input → part of the reason
	}{
		{"file, CRLF, relative and absolute", "", []string{"--files-from", "list.txt", "--root", "photos"}, 0,
			[]string{"2024/a.png", "b.png"}, nil},
		{"stdin, NUL, a newline in a name", "photos/2024/line\nbreak.png\x00photos/b.png\x00\x00", []string{"--files-from", "-", "-0", "--root", root}, 0,
			[]string{"2024/line\nbreak.png", "b.png"}, nil},
		{"root defaults to the working directory", "photos/b.png\n", []string{"--files-from", "-"}, 0,
			[]string{"photos/b.png"}, nil},
		{"not files", "photos/missing.png\nphotos/2024\nelsewhere.png\nphotos/b.png\n", []string{"--files-from", "-", "--root", "photos"}, 1,
			[]string{"b.png"}, map[string]string{
				"photos/missing.png": "no such file",
				"photos/2024":        "is a directory",
				"elsewhere.png":      "not below --root photos",
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var stdin []byte
			if tc.stdin != "" {
				stdin = []byte(tc.stdin)
			}
			args := append([]string{"convert", "-o", out, "--max-size", "32", "--json"}, tc.args...)
			r := batchRun(t, work, stdin, nil, args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r.stderr)
			}
			var images []string
			for _, f := range listFiles(t, out) {
				if !strings.HasPrefix(filepath.Base(f), ".") {
					images = append(images, f)
				}
			}
			slices.Sort(tc.outputs)
			if !slices.Equal(images, tc.outputs) {
				t.Errorf("outputs %q, want %q", images, tc.outputs)
			}
			sum := parseJSON[batchSummary](t, r.stdout)
			if sum.Failed != len(tc.failures) || len(sum.Failures) != len(tc.failures) {
				t.Fatalf("failures %+v, want %v", sum.Failures, tc.failures)
			}
			for _, f := range sum.Failures {
				if !strings.Contains(f.Error, tc.failures[f.Input]) || tc.failures[f.Input] == "" {
					t.Errorf("failure %s: %q, want it to say %q", f.Input, f.Error, tc.failures[f.Input])
				}
				if !strings.Contains(r.stderr, "FAIL "+f.Input+": ") {
					t.Errorf("stderr does not name %s:\n%s", f.Input, r.stderr)
				}
			}
		})
	}

	// `find .` lists the output folder too: those files are ignored, as a
	// walk ignores that folder, never converted again.
	noisePNG(t, filepath.Join(work, "animegan-out", "old.png"), 12, 12, 9)
	r := batchRun(t, work, []byte("./animegan-out/old.png\n./photos/b.png\n"), nil, "convert", "--files-from", "-", "--json", "--max-size", "32")
	if sum := parseJSON[batchSummary](t, r.stdout); r.code != 0 || sum.Converted != 1 || sum.Ignored != 1 {
		t.Errorf("a listed output: exit %d, %+v\n%s", r.code, sum, r.stderr)
	}

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no list file", []string{"--files-from", "nowhere.txt"}, "nowhere.txt"},
		{"-0 alone", []string{"photos", "-0"}, "give --files-from too"},
		{"--root alone", []string{"photos", "--root", "photos"}, "give --files-from too"},
		{"root is not a folder", []string{"--files-from", "list.txt", "--root", "list.txt"}, "not a directory"},
		{"output is the root", []string{"--files-from", "list.txt", "--root", "photos", "-o", "photos"}, "is the input folder"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			r := batchRun(t, work, nil, nil, append([]string{"convert"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 2 saying %q\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

// TestFilesFromShards: a sharded run over a list gives each shard the same
// inputs as a sharded walk of the root (the hash is of the path below the
// root either way), so walked and listed runs of one batch agree.
func TestFilesFromShards(t *testing.T) {
	ortest.Init(t)
	root := t.TempDir()
	rels := shardPhotos(t, root, 14, 5, true)
	var list bytes.Buffer
	for _, rel := range rels {
		list.WriteString(filepath.Join(root, filepath.FromSlash(rel)) + "\x00")
	}
	out := filepath.Join(t.TempDir(), "out")
	const n = 3
	seen := map[string]int{}
	for k := range n {
		shard := []string{"--shard", string(rune('0'+k)) + "/3", "--dry-run", "--json", "-o", out}
		walked := batchRun(t, "", nil, nil, append([]string{"convert", root}, shard...)...)
		listed := batchRun(t, "", list.Bytes(), nil, append([]string{"convert", "--files-from", "-", "-0", "--root", root}, shard...)...)
		if walked.code != 0 || listed.code != 0 {
			t.Fatalf("shard %d: exit %d/%d\n%s\n%s", k, walked.code, listed.code, walked.stderr, listed.stderr)
		}
		w, l := parseJSON[batchSummary](t, walked.stdout), parseJSON[batchSummary](t, listed.stdout)
		if !slices.Equal(w.Plan, l.Plan) {
			t.Fatalf("shard %d: walked plan %+v\nlisted plan %+v", k, w.Plan, l.Plan)
		}
		for _, e := range l.Plan {
			rel, _ := filepath.Rel(root, e.Input)
			if got := shardOf(filepath.ToSlash(rel), n); got != k {
				t.Errorf("%s in shard %d, owned by %d", rel, k, got)
			}
			seen[rel]++
		}
	}
	if len(seen) != len(rels) {
		t.Errorf("the shards planned %d inputs, want %d: %v", len(seen), len(rels), seen)
	}
}

// TestJSONLog: with --log-format json every stderr line is one JSON
// object: a start, one event per image (done with stage times, skipped,
// failed), progress at --progress-interval and the summary last; errors
// too. --json=FILE and --json FILE.json write the summary to the file.
func TestJSONLog(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	for i := range 4 {
		noisePNG(t, filepath.Join(in, string(rune('a'+i))+".png"), 48, 40, uint64(i))
	}
	must(t, os.WriteFile(filepath.Join(in, "broken.png"), []byte("\x89PNG\r\n\x1a\nno"), 0o644))
	work := t.TempDir()
	out := filepath.Join(work, "out")

	events := func(t *testing.T, stderr string) map[string][]map[string]any {
		t.Helper()
		byKind := map[string][]map[string]any{}
		sc := bufio.NewScanner(strings.NewReader(stderr))
		sc.Buffer(nil, 1<<20)
		var last string
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("stderr line is not JSON: %v\n%s", err, sc.Text())
			}
			kind, _ := ev["event"].(string)
			if ts, _ := ev["time"].(string); !isRFC3339(ts) {
				t.Errorf("event without a time: %s", sc.Text())
			}
			byKind[kind] = append(byKind[kind], ev)
			last = kind
		}
		if last != "summary" && last != "error" {
			t.Errorf("last event %q, want the summary", last)
		}
		return byKind
	}

	missing := filepath.Join(in, "missing.png")
	r := batchRun(t, work, nil, nil, "convert", in, missing, "-o", out, "--log-format", "json", "--progress-interval", "5ms",
		"-j", "1:1:1", "--max-size", "32", "--json=summary.json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (one broken input, one missing)\n%s", r.code, r.stderr)
	}
	ev := events(t, r.stderr)
	if len(ev["start"]) != 1 || len(ev["done"]) != 4 || len(ev["failed"]) != 2 || len(ev["summary"]) != 1 || len(ev["progress"]) == 0 {
		t.Fatalf("events: start %d, done %d, failed %d, progress %d, summary %d\n%s",
			len(ev["start"]), len(ev["done"]), len(ev["failed"]), len(ev["progress"]), len(ev["summary"]), r.stderr)
	}
	for _, d := range ev["done"] {
		for _, k := range []string{"decode_seconds", "infer_seconds", "encode_seconds"} {
			if v, ok := d[k].(float64); !ok || v <= 0 {
				t.Errorf("done event without %s: %v", k, d)
			}
		}
	}
	var failed []string
	for _, f := range ev["failed"] {
		failed = append(failed, f["input"].(string))
	}
	if slices.Sort(failed); !slices.Equal(failed, []string{filepath.Join(in, "broken.png"), missing}) {
		t.Errorf("failed events: %v", ev["failed"])
	}
	// Every input reported counts in the total, the missing one too.
	for _, p := range append(ev["progress"], ev["start"][0]) {
		if total := p["total"]; total != float64(6) && p["todo"] != float64(6) {
			t.Errorf("progress total: %v", p)
		}
	}
	if s := ev["summary"][0]; s["converted"] != float64(4) || s["failed"] != float64(2) {
		t.Errorf("summary event: %v", s)
	}
	if r.stdout != "" {
		t.Errorf("stdout should be empty with --json=FILE: %q", r.stdout)
	}
	file := parseJSON[batchSummary](t, string(must2(os.ReadFile(filepath.Join(work, "summary.json")))))
	if file.Converted != 4 || file.Failed != 2 {
		t.Errorf("summary.json: %+v", file)
	}

	// A re-run: skipped events; `--json FILE.json` (no =) writes the file.
	must(t, os.Remove(filepath.Join(in, "broken.png")))
	r = batchRun(t, work, nil, nil, "convert", in, "--json", "again.json", "-o", out, "--log-format", "json", "--max-size", "32")
	if r.code != 0 {
		t.Fatalf("re-run: exit %d\n%s", r.code, r.stderr)
	}
	if ev := events(t, r.stderr); len(ev["skipped"]) != 4 || ev["skipped"][0]["reason"] != "up to date" {
		t.Errorf("re-run: skipped events %v", ev["skipped"])
	}
	if again := parseJSON[batchSummary](t, string(must2(os.ReadFile(filepath.Join(work, "again.json"))))); again.Skipped != 4 {
		t.Errorf("again.json: %+v", again)
	}
	// report takes --json=FILE too; its bare --json never eats a summary
	// (both are of the unsharded run: the last one counts).
	r = batchRun(t, work, nil, nil, "report", "--json=merged.json", "summary.json", "again.json")
	merged := string(must2(os.ReadFile(filepath.Join(work, "merged.json"))))
	if r.code != 0 || !strings.Contains(merged, `"skipped": 4`) || r.stdout != "" {
		t.Errorf("report --json=merged.json: exit %d\n%s\n%s", r.code, merged, r.stderr)
	}
	if r = batchRun(t, work, nil, nil, "report", "--json", "summary.json", "again.json"); !strings.Contains(r.stdout, `"skipped": 4`) {
		t.Errorf("report --json: stdout %s", r.stdout)
	}
	if tmp, _ := filepath.Glob(filepath.Join(work, ".*")); len(tmp) != 0 {
		t.Errorf("temp files left beside the summaries: %v", tmp)
	}

	// Errors are JSON too, before and after the flags are parsed.
	for _, args := range [][]string{
		{"convert", in, "--log-format", "json", "--frobnicate"},
		{"convert", in, "--log-format", "json", "--json=" + filepath.Join(work, "no", "dir.json")},
		{"convert", "--log-format=json", in, "-m", "/nonexistent.onnx"},
	} {
		r := batchRun(t, work, nil, nil, args...)
		if ev := events(t, r.stderr); r.code != 2 || len(ev["error"]) != 1 || ev["error"][0]["exit_code"] != float64(2) {
			t.Errorf("%q: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
	}
}

func isRFC3339(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestEnvVars: every flag of every command can come from ANIMEGAN_<FLAG>,
// --help shows each flag with its variable, and a flag on the command line
// wins over the environment.
func TestEnvVars(t *testing.T) {
	ortest.Init(t)
	cmds := commands()
	withEnvVars(cmds)
	vars := map[string]string{} // "command --flag" → its variable
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		r := batchRun(t, "", nil, nil, c.Name, "--help")
		for _, f := range c.Flags {
			name := f.Names()[0]
			env := f.(cli.DocGenerationFlag).GetEnvVars()
			if len(env) == 0 {
				t.Errorf("%s --%s has no environment variable", c.Name, name)
				continue
			}
			vars[c.Name+" --"+name] = env[0]
			if !strings.Contains(r.stdout, "--"+name) || !strings.Contains(r.stdout, "[$"+env[0]+"]") {
				t.Errorf("%s --help lacks --%s or $%s:\n%s", c.Name, name, env[0], r.stdout)
			}
		}
	}
	// One name per meaning: flags every command types alike share one,
	// a name typed differently (--json) gets the command's.
	for flag, want := range map[string]string{
		"convert --max-size": "ANIMEGAN_MAX_SIZE", "profile --max-size": "ANIMEGAN_MAX_SIZE",
		"convert --ort-lib": "ANIMEGAN_ORT_LIB", "version --ort-lib": "ANIMEGAN_ORT_LIB",
		"convert --dry-run": "ANIMEGAN_DRY_RUN", "convert --jobs": "ANIMEGAN_JOBS",
		"convert --json": "ANIMEGAN_CONVERT_JSON", "profile --json": "ANIMEGAN_PROFILE_JSON",
		"inspect --json": "ANIMEGAN_INSPECT_JSON", "report --json": "ANIMEGAN_REPORT_JSON",
	} {
		if vars[flag] != want {
			t.Errorf("%s: $%s, want $%s", flag, vars[flag], want)
		}
	}

	in := t.TempDir()
	noisePNG(t, filepath.Join(in, "a.png"), 40, 30, 1)
	cases := []struct {
		name    string
		env     []string
		args    []string
		code    int
		maxSize int
		format  string
		shard   string
	}{
		{"from the environment", []string{"ANIMEGAN_MAX_SIZE=24", "ANIMEGAN_FORMAT=jpg"}, nil, 0, 24, "jpeg", "all"},
		{"the flag wins", []string{"ANIMEGAN_MAX_SIZE=24"}, []string{"--max-size", "16"}, 0, 16, "keep", "all"},
		{"shard from ANIMEGAN_SHARD", []string{"ANIMEGAN_SHARD=1/2"}, nil, 0, 1024, "keep", "1/2"},
		{"Slurm's variables still work", []string{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=2"}, nil, 0, 1024, "keep", "1/2"},
		{"a bad value is a usage error", []string{"ANIMEGAN_QUALITY=lots"}, nil, 2, 0, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			env := append([]string{"ANIMEGAN_CONVERT_JSON=1", "ANIMEGAN_DRY_RUN=true"}, tc.env...)
			r := batchRun(t, "", nil, env, append([]string{"convert", in, "-o", out}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r.stderr)
			}
			if tc.code != 0 {
				if !strings.Contains(r.stderr, "ANIMEGAN_QUALITY") {
					t.Errorf("the error does not name the variable:\n%s", r.stderr)
				}
				return
			}
			sum := parseJSON[batchSummary](t, r.stdout) // ANIMEGAN_CONVERT_JSON=1: the summary on stdout
			if !sum.DryRun || sum.Settings.MaxSize != tc.maxSize || sum.Settings.Format != tc.format || sum.Settings.Shard != tc.shard {
				t.Errorf("settings %+v (dry run %t)", sum.Settings, sum.DryRun)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Error("ANIMEGAN_DRY_RUN=true still wrote the output folder")
			}
		})
	}
}

// TestCompletion: the scripts parse, and bash's, sourced, proposes the
// commands, a command's flags and a flag's values.
func TestCompletion(t *testing.T) {
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := batchRun(t, "", nil, nil, "completion", shell)
		if r.code != 0 {
			t.Fatalf("completion %s: exit %d\n%s", shell, r.code, r.stderr)
		}
		for _, want := range []string{"convert", "profile", "dry-run", "files-from", "log-format"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		scripts[shell] = r.stdout
	}
	if r := batchRun(t, "", nil, nil, "completion", "tcsh"); r.code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", r.code)
	}
	dir := t.TempDir()
	for shell, check := range map[string][]string{"bash": {"bash", "-n"}, "zsh": {"zsh", "-n"}, "fish": {"fish", "--no-execute"}} {
		if _, err := exec.LookPath(check[0]); err != nil {
			// Without the shell, check at least the quoting: the zsh
			// script uses nothing bash cannot parse, and every fish line
			// must close its quotes by fish's rules.
			switch shell {
			case "zsh":
				t.Logf("zsh not installed: its script is parsed by bash -n only")
				check = []string{"bash", "-n"}
			case "fish":
				t.Logf("fish not installed: only its script's quoting is checked")
				for line := range strings.Lines(scripts[shell]) {
					if !fishQuotesBalanced(line) {
						t.Errorf("fish line with an open quote: %s", line)
					}
				}
				continue
			}
		}
		path := filepath.Join(dir, "animegan."+shell)
		must(t, os.WriteFile(path, []byte(scripts[shell]), 0o644))
		if out, err := exec.Command(check[0], append(check[1:], path)...).CombinedOutput(); err != nil {
			t.Errorf("%s rejects its script: %v\n%s", shell, err, out)
		}
	}

	cases := []struct {
		words string // COMP_WORDS, the last one being completed
		want  []string
		not   []string
	}{
		{"animegan con", []string{"convert"}, []string{"profile"}},
		{"animegan ''", []string{"convert", "inspect", "profile", "report", "version", "completion"}, []string{"profile-level"}},
		{"animegan convert --dr", []string{"--dry-run"}, nil},
		{"animegan convert ./photos --log-format ''", []string{"text", "json"}, nil},
		{"animegan convert --format ''", []string{"jpg", "png"}, nil},
		{"animegan profile --sw", []string{"--sweep"}, nil},
		{"animegan completion ''", []string{"bash", "zsh", "fish"}, nil},
	}
	path := filepath.Join(dir, "animegan.bash")
	must(t, os.WriteFile(path, []byte(scripts["bash"]), 0o644))
	for _, tc := range cases {
		script := `source "$1"; COMP_WORDS=(` + tc.words + `); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _animegan; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command("bash", "-c", script, "bash", path).Output()
		if err != nil {
			t.Fatalf("%s: %v", tc.words, err)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: proposes %q, want %q among them", tc.words, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("%s: proposes %q, which it should not", tc.words, w)
			}
		}
	}
}

// TestVersion: --version needs no library; `version` prints animegan's and
// Go's versions even when ONNX Runtime cannot be loaded, says so, and
// exits 2.
func TestVersion(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
	}{
		{"--version", []string{"--version"}, 0, []string{"animegan ", "go1."}},
		{"--version without a library", []string{"--version"}, 0, []string{"animegan "}},
		{"version", []string{"version"}, 0, []string{"animegan ", "go go1.", "onnxruntime 1."}},
		{"version without a library", []string{"version", "--ort-lib", "/nowhere/libonnxruntime.so"}, 2,
			[]string{"animegan ", "go go1.", "onnxruntime: not loaded"}},
		{"version without a library, from ANIMEGAN_ORT_LIB", []string{"version"}, 2,
			[]string{"animegan ", "go go1.", "onnxruntime: not loaded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			switch {
			case strings.Contains(tc.name, "ANIMEGAN_ORT_LIB"):
				// The flag's variable comes before ONNXRUNTIME_LIB, which
				// names a working library here.
				env = []string{"ANIMEGAN_ORT_LIB=/nowhere/libonnxruntime.so"}
			case strings.Contains(tc.name, "without"):
				env = []string{"ONNXRUNTIME_LIB=/nowhere/libonnxruntime.so"}
			}
			r := batchRun(t, "", nil, env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			if tc.code != 0 && !strings.Contains(r.stderr, "/nowhere/libonnxruntime.so") {
				t.Errorf("stderr does not say why:\n%s", r.stderr)
			}
		})
	}
}

// TestJSONFlagArgs: bare --json stays stdout wherever it stands; the next
// argument is its file only when it ends in .json (photos never do).
func TestJSONFlagArgs(t *testing.T) {
	cases := []struct{ args, want []string }{
		{[]string{"convert", "photos", "--json"}, []string{"convert", "--json", "--", "photos"}},
		{[]string{"convert", "--json", "photos"}, []string{"convert", "--json", "--", "photos"}},
		{[]string{"convert", "photos", "--json", "run.json", "-j", "2"}, []string{"convert", "--json=run.json", "-j", "2", "--", "photos"}},
		{[]string{"convert", "--json=-", "photos"}, []string{"convert", "--json=-", "--", "photos"}},
		{[]string{"convert", "--files-from", "-", "-0", "--root", "r"}, []string{"convert", "--files-from", "-", "-0", "--root", "r"}},
		// report's inputs are summaries: never taken as --json's file.
		{[]string{"report", "--json", "s-0.json", "s-1.json"}, []string{"report", "--json", "--", "s-0.json", "s-1.json"}},
	}
	for _, tc := range cases {
		got := interspersed(commands(), append([]string{"animegan"}, tc.args...))
		if want := append([]string{"animegan"}, tc.want...); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", tc.args, got, want)
		}
	}
}

// TestJSONLogSignal: an interrupted run under --log-format json still
// writes nothing but JSON lines on stderr: the signal notice as a message
// event, then the summary, marked interrupted.
func TestJSONLogSignal(t *testing.T) {
	ortest.Init(t)
	in, model := slowBatch(t, 30)
	out := filepath.Join(t.TempDir(), "out")
	cmd, _, stderr := child(t, t.TempDir(), "convert", in, "-o", out, "-m", model, "-j", "1:2:1", "--log-format", "json")
	must(t, cmd.Start())
	exited := make(chan struct{})
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); close(exited) }()
	waitForOutput(t, out, exited)
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCodeOf(t, <-waited); code != exitSIGINT {
		t.Fatalf("exit %d, want %d\n%s", code, exitSIGINT, stderr)
	}
	var kinds []string
	var summary map[string]any
	for line := range strings.Lines(stderr.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stderr line is not JSON: %v\n%q", err, line)
		}
		kind := ev["event"].(string)
		kinds = append(kinds, kind)
		if kind == "message" && !strings.Contains(ev["message"].(string), "stopping") {
			t.Errorf("message event: %v", ev)
		}
		if kind == "summary" {
			summary = ev
		}
	}
	if !slices.Contains(kinds, "message") || summary == nil || summary["interrupted"] != true {
		t.Fatalf("events %q, summary %v", kinds, summary)
	}
}

// TestFilesFromUnreadable: a listed file its user may not read is a named
// failure (as user nobody; root reads everything).
func TestFilesFromUnreadable(t *testing.T) {
	ortest.Init(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	root, err := os.MkdirTemp("", "animegan-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	for _, d := range []string{root, filepath.Dir(binary)} {
		must(t, os.Chmod(d, 0o755))
	}
	noisePNG(t, filepath.Join(root, "in", "ok.png"), 16, 16, 1)
	noisePNG(t, filepath.Join(root, "in", "secret.png"), 16, 16, 2)
	must(t, os.Chmod(filepath.Join(root, "in", "secret.png"), 0o600))
	out := filepath.Join(root, "out")
	must(t, os.MkdirAll(out, 0o755))
	must(t, os.Chown(out, 65534, 65534))
	cmd, stdout, stderr := child(t, root, "convert", "--files-from", "-", "--root", "in", "-o", out, "--json")
	cmd.Stdin = strings.NewReader("in/ok.png\nin/secret.png\n")
	cmd.Env = append(cmd.Env, "HOME="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	code := exitCodeOf(t, cmd.Run())
	if code == 2 && strings.Contains(stderr.String(), "onnxruntime") {
		t.Skipf("ONNX Runtime cannot run as nobody here: %s", stderr)
	}
	if code != 1 || !strings.Contains(stderr.String(), "FAIL in/secret.png: permission denied") {
		t.Fatalf("exit %d, want 1 naming in/secret.png\n%s", code, stderr)
	}
	if sum := parseJSON[batchSummary](t, stdout.String()); sum.Converted != 1 || sum.Failed != 1 {
		t.Errorf("summary %+v", sum)
	}
}

// TestIdenticalInputsOtherFormat: identical inputs share one conversion
// only when their outputs are made alike: a JPEG and its copy saved as
// .png get a JPEG and a PNG, not the JPEG's bytes twice.
func TestIdenticalInputsOtherFormat(t *testing.T) {
	ortest.Init(t)
	in := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 24, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	var b bytes.Buffer
	must(t, jpeg.Encode(&b, img, nil))
	must(t, os.WriteFile(filepath.Join(in, "x.jpg"), b.Bytes(), 0o644))
	must(t, os.WriteFile(filepath.Join(in, "x.png"), b.Bytes(), 0o644))
	out := filepath.Join(t.TempDir(), "out")
	r := batchRun(t, "", nil, nil, "convert", in, "-o", out, "--json", "--max-size", "16")
	if sum := parseJSON[batchSummary](t, r.stdout); r.code != 0 || sum.Converted != 2 || sum.Duplicates != 0 {
		t.Fatalf("exit %d, %+v\n%s", r.code, sum, r.stderr)
	}
	for name, magic := range map[string]string{"x.jpg": "\xff\xd8\xff", "x.png": "\x89PNG"} {
		data, err := os.ReadFile(filepath.Join(out, name))
		must(t, err)
		if !bytes.HasPrefix(data, []byte(magic)) {
			t.Errorf("%s does not start with %q: % x", name, magic, data[:min(8, len(data))])
		}
	}
}

// fishQuotesBalanced reports whether a fish line closes its single quotes
// (inside them fish reads only \\ and \' as escapes).
func fishQuotesBalanced(line string) bool {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch {
		case quoted && line[i] == '\\' && i+1 < len(line) && (line[i+1] == '\\' || line[i+1] == '\''):
			i++
		case line[i] == '\'':
			quoted = !quoted
		}
	}
	return !quoted
}
