package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"animegan/atomicfile"
	"animegan/convert"
)

// jsonDest is where --json sends the summary: nowhere, stdout, or a file
// written atomically. It acts as a boolean flag with an optional value:
// bare --json (or --json=-) is stdout as it always was, --json=FILE a file.
// `--json FILE` works too when FILE ends in .json (see acceptsNext):
// photos and folders never do, so the bare form stays unambiguous.
type jsonDest struct {
	on   bool
	path string // "" or "-": stdout
	// nextIsFile allows `--json FILE.json`; off for report, whose inputs
	// are .json files themselves.
	nextIsFile bool
}

func (d *jsonDest) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		d.on, d.path = b, ""
		return nil
	}
	d.on, d.path = true, s
	return nil
}

func (d *jsonDest) String() string {
	if d == nil || !d.on {
		return ""
	}
	if d.path == "" {
		return "-"
	}
	return d.path
}

// IsBoolFlag lets the flag package take a bare --json.
func (d *jsonDest) IsBoolFlag() bool { return true }

// acceptsNext says whether the argument after a bare --json is its file.
func (d *jsonDest) acceptsNext(arg string) bool {
	return d.nextIsFile && strings.HasSuffix(strings.ToLower(arg), ".json") && !strings.HasPrefix(arg, "-")
}

func (d *jsonDest) stdout() bool { return d.on && (d.path == "" || d.path == "-") }

// check fails early, before hours of work, when the summary file's folder
// does not exist.
func (d *jsonDest) check() error {
	if !d.on || d.stdout() {
		return nil
	}
	dir := filepath.Dir(d.path)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("--json %s: folder %s does not exist", d.path, dir)
	}
	return nil
}

// write sends the summary where it goes: a file atomically (a reader never
// sees half a summary, and a killed run leaves the previous one).
func (d *jsonDest) write(stdout io.Writer, encode func(io.Writer) error) error {
	switch {
	case !d.on:
		return nil
	case d.stdout():
		return encode(stdout)
	}
	return atomicfile.Write(d.path, 0o644, encode)
}

// optionalValue is a flag whose value is optional: interspersed takes the
// next argument as its value only when the flag accepts it.
type optionalValue interface {
	acceptsNext(arg string) bool
}

// jsonFlag is --json: a GenericFlag over jsonDest, shown in --help as
// --json[=FILE].
type jsonFlag struct{ *cli.GenericFlag }

// newJSONFlag makes a --json flag; nextIsFile lets `--json FILE.json`
// name the file (see jsonDest).
func newJSONFlag(usage string, nextIsFile bool) *jsonFlag {
	return &jsonFlag{&cli.GenericFlag{Name: "json", Value: &jsonDest{nextIsFile: nextIsFile}, Usage: usage}}
}

func (f *jsonFlag) String() string {
	s := f.GenericFlag.String()
	return strings.Replace(s, "--json value", "--json[=FILE]", 1)
}

func (f *jsonFlag) acceptsNext(arg string) bool { return f.Value.(*jsonDest).acceptsNext(arg) }

// jsonOf is the --json destination of a command.
func jsonOf(c *cli.Context) *jsonDest {
	if d, ok := c.Generic("json").(*jsonDest); ok {
		return d
	}
	return &jsonDest{}
}

// logSink is stderr. With --log-format json every line on it must be one
// JSON object: the JSON reporter writes its own (Raw), and any other line
// (an error, a signal notice) is wrapped as {"event":"message"}, so that
// nothing written to stderr is lost to a log parser.
type logSink struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	buf  []byte
}

func (s *logSink) setJSON(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.json = on
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.json {
		return s.w.Write(p)
	}
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(s.buf[:i]))
		s.buf = s.buf[i+1:]
		if line != "" {
			s.writeEvent(struct {
				Time    string `json:"time"`
				Event   string `json:"event"`
				Message string `json:"message"`
			}{now(), "message", line})
		}
	}
	return len(p), nil
}

// writeEvent writes one JSON line; the caller holds mu.
func (s *logSink) writeEvent(v any) {
	line, err := json.Marshal(v)
	if err == nil {
		s.w.Write(append(line, '\n'))
	}
}

// errorLine reports a command's error, as a JSON "error" event in JSON
// mode.
func (s *logSink) errorLine(msg string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.json {
		fmt.Fprintln(s.w, "animegan:", msg)
		return
	}
	s.writeEvent(struct {
		Time  string `json:"time"`
		Event string `json:"event"`
		Error string `json:"error"`
		Exit  int    `json:"exit_code"`
	}{now(), "error", msg, code})
}

// now is an event's time, as convert.JSONLog writes it.
func now() string { return time.Now().UTC().Format(convert.EventTimeFormat) }

// Raw is the writer for lines that are JSON already; it shares the lock.
func (s *logSink) Raw() io.Writer { return rawWriter{s} }

type rawWriter struct{ s *logSink }

func (r rawWriter) Write(p []byte) (int, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.w.Write(p)
}

// jsonLogRequested looks for --log-format json before the flags are
// parsed, so that even a usage error is a JSON line; the parsed flag then
// decides (setJSON).
func jsonLogRequested(args []string, getenv func(string) string) bool {
	if !slices.Contains(args, "convert") {
		return false // only convert has --log-format
	}
	for i, a := range args {
		switch {
		case a == "--":
			return getenv(envName("log-format")) == "json"
		case a == "--log-format" || a == "-log-format":
			return i+1 < len(args) && args[i+1] == "json"
		case strings.HasPrefix(a, "--log-format=") || strings.HasPrefix(a, "-log-format="):
			return strings.HasSuffix(a, "=json")
		}
	}
	return getenv(envName("log-format")) == "json"
}

// sinkOf finds the log sink behind a command's stderr.
func sinkOf(c *cli.Context) *logSink {
	if s, ok := c.App.ErrWriter.(*logSink); ok {
		return s
	}
	return &logSink{w: c.App.ErrWriter}
}
