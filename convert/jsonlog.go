package convert

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"
)

// JSONLog is the Reporter of --log-format json: every line it writes is
// one JSON object with an "event" field, for log shippers and jq:
//
//	start     once planning is done: todo, skipped, settings
//	done      an output written: input, output, copied, stage seconds
//	skipped   an output already up to date: input, output, reason
//	failed    an input that failed: input, error
//	warning   a problem that did not fail an input (metadata dropped, a
//	          colour profile not applied): input, message
//	progress  every Interval while work is left: done, total, rate, eta
//	log       --verbose detail: message
//	summary   once, at the end: the --json summary's fields
//
// Every event carries "time" (RFC 3339, UTC, milliseconds).
type JSONLog struct {
	W        io.Writer     // stderr
	Interval time.Duration // between progress events; 0 → 10s
	// Verbosity: Quiet emits only failed and summary (and start) events,
	// Verbose adds log events.
	Verbosity Verbosity

	mu     sync.Mutex
	enc    *json.Encoder
	outDir string
	total  int
	done   int
	start  time.Time
	stop   chan struct{}
	ticker sync.WaitGroup
	tiled  *TileInfo // for the next done event
}

type jsonEvent struct {
	Time  string `json:"time"`
	Event string `json:"event"`
}

type jsonStart struct {
	jsonEvent
	Todo     int      `json:"todo"`
	Skipped  int      `json:"skipped"`
	Settings Settings `json:"settings"`
}

type jsonImage struct {
	jsonEvent
	Input         string   `json:"input"`
	Output        string   `json:"output,omitempty"`
	Copied        bool     `json:"copied,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Error         string   `json:"error,omitempty"`
	DecodeSecs    *float64 `json:"decode_seconds,omitempty"`
	InferSecs     *float64 `json:"infer_seconds,omitempty"`
	EncodeSecs    *float64 `json:"encode_seconds,omitempty"`
	AdmitWaitSecs *float64 `json:"admit_wait_seconds,omitempty"`
	LatencySecs   *float64 `json:"latency_seconds,omitempty"`
	// Tiled says how an image that ran as tiles was tiled.
	Tiled *TileInfo `json:"tiled,omitempty"`
}

type jsonWarning struct {
	jsonEvent
	Input   string `json:"input"`
	Message string `json:"message"`
}

type jsonProgress struct {
	jsonEvent
	Done            int      `json:"done"`
	Total           int      `json:"total"`
	Percent         float64  `json:"percent"`
	ImagesPerSecond float64  `json:"images_per_second"`
	ElapsedSecs     float64  `json:"elapsed_seconds"`
	ETASecs         *float64 `json:"eta_seconds"` // null until the first image is done
}

type jsonLogLine struct {
	jsonEvent
	Message string `json:"message"`
}

type jsonSummary struct {
	jsonEvent
	*Summary
}

// EventTimeFormat is the layout of an event's time: RFC 3339 in UTC, to
// the millisecond.
const EventTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func (l *JSONLog) event(name string) jsonEvent {
	return jsonEvent{Time: time.Now().UTC().Format(EventTimeFormat), Event: name}
}

// emit writes one event; the caller holds mu. Encode ends it with a
// newline, and one Write per line keeps lines whole.
func (l *JSONLog) emit(v any) {
	if l.enc == nil {
		l.enc = json.NewEncoder(l.W)
	}
	l.enc.Encode(v)
}

func (l *JSONLog) Begin(todo, skipped int, s Settings) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total, l.start, l.outDir = todo, time.Now(), s.OutputDir
	l.emit(jsonStart{l.event("start"), todo, skipped, s})
	if todo == 0 || l.Verbosity < Normal {
		return
	}
	interval := l.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	l.stop = make(chan struct{})
	l.ticker.Add(1)
	go l.tick(interval)
}

func (l *JSONLog) tick(interval time.Duration) {
	defer l.ticker.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.progress()
			l.mu.Unlock()
		}
	}
}

func (l *JSONLog) progress() {
	elapsed := time.Since(l.start).Seconds()
	p := jsonProgress{jsonEvent: l.event("progress"), Done: l.done, Total: l.total, ElapsedSecs: elapsed,
		Percent: 100 * float64(l.done) / float64(max(1, l.total))}
	if elapsed > 0 {
		p.ImagesPerSecond = float64(l.done) / elapsed
	}
	if p.ImagesPerSecond > 0 {
		eta := float64(l.total-l.done) / p.ImagesPerSecond
		p.ETASecs = &eta
	}
	l.emit(p)
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

func (l *JSONLog) output(t Target) string {
	return filepath.Join(l.outDir, filepath.FromSlash(t.OutRel))
}

func (l *JSONLog) Converted(t Target, copied bool, tm Timings) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	e := jsonImage{jsonEvent: l.event("done"), Input: t.Path, Output: l.output(t), Copied: copied}
	if l.tiled != nil && l.tiled.Input == t.Path && !copied {
		e.Tiled, l.tiled = l.tiled, nil
	}
	if !copied {
		e.DecodeSecs, e.InferSecs, e.EncodeSecs = seconds(tm.Decode), seconds(tm.Infer), seconds(tm.Encode)
		e.AdmitWaitSecs, e.LatencySecs = seconds(tm.AdmitWait), seconds(tm.Latency)
	}
	if l.Verbosity >= Normal {
		l.emit(e)
	}
}

func (l *JSONLog) Skipped(t Target, why string) {
	if l.Verbosity < Normal {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emit(jsonImage{jsonEvent: l.event("skipped"), Input: t.Path, Output: l.output(t), Reason: why})
}

func (l *JSONLog) Failed(f Failure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	l.emit(jsonImage{jsonEvent: l.event("failed"), Input: f.Input, Error: f.Err.Error()})
}

// Tiled keeps how the image was tiled for its "done" event, which the job
// reports next.
func (l *JSONLog) Tiled(info TileInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tiled = &info
}

// Warned emits a warning event unless --quiet (as Printer's WARN line).
func (l *JSONLog) Warned(input, msg string) {
	if l.Verbosity < Normal {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emit(jsonWarning{l.event("warning"), input, msg})
}

// Planned writes nothing: the summary event holds the plan.
func (l *JSONLog) Planned([]PlanEntry) {}

func (l *JSONLog) Logf(format string, args ...any) {
	if l.Verbosity < Verbose {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emit(jsonLogLine{l.event("log"), fmt.Sprintf(format, args...)})
}

func (l *JSONLog) End(s *Summary) {
	if l.stop != nil {
		close(l.stop)
		l.ticker.Wait()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emit(jsonSummary{l.event("summary"), s})
}
