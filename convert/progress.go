package convert

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"animegan/pipeline"
)

// Reporter hears about a run as it happens. The job calls it from one
// goroutine at a time, so implementations need no locking of their own for
// these calls (a ticker of their own is another matter).
type Reporter interface {
	// Begin is called once planning is done: todo inputs will be reported
	// as converted or failed (those that failed planning included), skipped
	// are up to date.
	Begin(todo, skipped int, s Settings)
	// Converted is called for each output written (copied: from an
	// identical input, with zero timings).
	Converted(t Target, copied bool, tm Timings)
	// Skipped is called for each input whose output is up to date.
	Skipped(t Target, why string)
	// Failed is called for each input that failed.
	Failed(f Failure)
	// Planned is called once by a dry run, before End, with what a run
	// would do with each input.
	Planned(plan []PlanEntry)
	// Logf is for --verbose detail.
	Logf(format string, args ...any)
	// End is called once with the final summary.
	End(s *Summary)
}

// Timings are where one photo's time went, stage by stage.
type Timings = pipeline.Timings

// Verbosity says how much a Printer prints.
type Verbosity int

const (
	Quiet   Verbosity = iota - 1 // failures and the summary only
	Normal                       // plus progress
	Verbose                      // plus settings and one line per image
)

// Printer is the terminal Reporter: a progress bar on a terminal, a plain
// progress line every Interval otherwise (logs of batch jobs stay short),
// failures as "FAIL path: reason" lines in both cases.
type Printer struct {
	W         io.Writer // stderr
	TTY       bool
	Verbosity Verbosity
	Interval  time.Duration // between progress lines when not a TTY; 0 → 10s
	// Plan is where a dry run's plan goes, one line per input; nil: W.
	Plan io.Writer

	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	total  int
	done   int
	start  time.Time
	stop   chan struct{}
	ticker sync.WaitGroup
}

func (p *Printer) Begin(todo, skipped int, s Settings) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.start = todo, time.Now()
	if p.Verbosity >= Verbose {
		fmt.Fprintf(p.W, "model %s (%s, %s, multiple %d%s)\n", s.Model, s.Layout, s.Range, s.Multiple, fixedNote(s.FixedSize))
		fmt.Fprintf(p.W, "workers decode:infer:encode %d:%d:%d; %s\n", s.Jobs.Decode, s.Jobs.Infer, s.Jobs.Encode, s.Session)
		if s.JobsFrom != "" {
			fmt.Fprintf(p.W, "workers from: %s\n", s.JobsFrom)
		}
		fmt.Fprintf(p.W, "onnxruntime %s from %s, %s\n", s.ORTVersion, s.ORTLibrary, s.ORTTelemetry)
	}
	if p.Verbosity >= Normal && skipped > 0 {
		fmt.Fprintf(p.W, "%d up to date in %s (use --overwrite to redo them)\n", skipped, s.OutputDir)
	}
	if p.Verbosity < Normal || todo == 0 {
		return
	}
	if p.TTY {
		p.bar = progressbar.NewOptions(todo,
			progressbar.OptionSetWriter(p.W),
			progressbar.OptionSetDescription("converting"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("img"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionFullWidth(),
		)
		return
	}
	interval := p.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	p.stop = make(chan struct{})
	p.ticker.Add(1)
	go p.tick(interval)
}

func fixedNote(fixed string) string {
	if fixed == "" {
		return ", any size"
	}
	return ", fixed " + fixed
}

// tick prints a progress line at most every interval, and only when
// something is left to do, so logs of batch jobs stay short.
func (p *Printer) tick(interval time.Duration) {
	defer p.ticker.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.progressLine()
			p.mu.Unlock()
		}
	}
}

func (p *Printer) progressLine() {
	elapsed := time.Since(p.start)
	rate := float64(p.done) / elapsed.Seconds()
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.W, "progress: %d/%d (%.0f%%), %.2f img/s, elapsed %s, eta %s\n",
		p.done, p.total, 100*float64(p.done)/float64(max(1, p.total)), rate, elapsed.Round(time.Second), eta)
}

func (p *Printer) Converted(t Target, copied bool, tm Timings) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.Verbosity >= Verbose {
		how := describeTimings(tm)
		if copied {
			how = "copied from an identical input"
		}
		p.above(fmt.Sprintf("ok %s → %s (%s)", t.Path, t.OutRel, how))
	}
	if p.bar != nil {
		p.bar.Add(1)
	}
}

func (p *Printer) Skipped(t Target, why string) {
	if p.Verbosity < Verbose {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.above(fmt.Sprintf("skip %s → %s (%s)", t.Path, t.OutRel, why))
}

func (p *Printer) Failed(f Failure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.above(f.String())
	var pe *pipeline.PanicError
	if p.Verbosity >= Verbose && errors.As(f.Err, &pe) && len(pe.Stack) > 0 {
		// A panic is a bug in animegan, not in the photo: the stack is
		// what a bug report needs.
		p.above("  panic stack:\n    " + strings.ReplaceAll(strings.TrimSpace(string(pe.Stack)), "\n", "\n    "))
	}
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// TileReporter is a Reporter that hears how an image that ran as tiles
// was tiled, just before it is reported converted.
type TileReporter interface {
	Tiled(info TileInfo)
}

// Tiled prints "tiled path: 12 tiles of 1024 px ..." with --verbose.
func (p *Printer) Tiled(info TileInfo) {
	if p.Verbosity < Verbose {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.above(fmt.Sprintf("tiled %s: %s", QuoteName(info.Input), escapeControl(info.String())))
}

// Warner is a Reporter that hears about problems that did not fail an
// input (a broken EXIF block dropped, metadata too big for the output
// format). Without it, warnings go to Logf.
type Warner interface {
	Warned(input, msg string)
}

// Warned prints "WARN path: message" unless --quiet.
func (p *Printer) Warned(input, msg string) {
	if p.Verbosity < Normal {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.above(fmt.Sprintf("WARN %s: %s", QuoteName(input), escapeControl(msg)))
}

// Planned prints the plan (WritePlan), before the summary.
func (p *Printer) Planned(plan []PlanEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.Plan
	if w == nil {
		w = p.W
	}
	writePlan(w, plan)
}

func (p *Printer) Logf(format string, args ...any) {
	if p.Verbosity < Verbose {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.above(fmt.Sprintf(format, args...))
}

// above prints a line above the progress bar (which redraws itself).
func (p *Printer) above(line string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.W, line)
	if p.bar != nil {
		p.bar.RenderBlank()
	}
}

func (p *Printer) End(s *Summary) {
	if p.stop != nil {
		close(p.stop)
		p.ticker.Wait()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.W)
	}
	s.WriteText(p.W)
}
