package convert

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Failure is one input that could not be converted, and why.
type Failure struct {
	Input string
	Err   error
}

// String is the one line a failure gets: a file name or reason holding a
// newline or another control character is escaped, so every failure stays
// on one line of the log, whatever the folder held.
func (f Failure) String() string {
	return fmt.Sprintf("FAIL %s: %s", QuoteName(f.Input), escapeControl(f.Err.Error()))
}

// QuoteName shows a file name as is when it is printable, else Go-quoted
// ("photo\n2.jpg" with the quotes), so that it stays on one line and can
// be told apart from the text around it.
func QuoteName(name string) string {
	if strings.ContainsFunc(name, unicode.IsControl) || !strings.ContainsFunc(name, func(r rune) bool { return r != ' ' }) {
		return strconv.Quote(name)
	}
	return name
}

// escapeControl replaces control characters in a message with Go escapes.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// MarshalJSON writes {"input": ..., "error": ...}.
func (f Failure) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Input string `json:"input"`
		Error string `json:"error"`
	}{f.Input, f.Err.Error()})
}

// Settings are the choices a run was made with, reported in the summary so
// a script can tell what produced its outputs.
type Settings struct {
	Model        string  `json:"model"`
	ModelSHA256  string  `json:"model_sha256"`
	Layout       string  `json:"layout"`
	Range        string  `json:"range"`
	Multiple     int     `json:"multiple"`
	FixedSize    string  `json:"fixed_size,omitempty"`
	MaxSize      int     `json:"max_size"`
	KeepSize     bool    `json:"keep_size"`
	Format       string  `json:"format"`
	Quality      int     `json:"quality"`
	Metadata     string  `json:"metadata"`
	Colour       string  `json:"color"`
	Jobs         JobsDoc `json:"jobs"`
	JobsFrom     string  `json:"jobs_from"` // why these workers: -j, the core-count default, or -j auto's choice
	Session      string  `json:"session"`
	OutputDir    string  `json:"output_dir"`
	MaxPixels    int64   `json:"max_pixels"`
	TimeoutSecs  float64 `json:"timeout_seconds,omitempty"`
	Shard        string  `json:"shard"` // "all", or "K/N"
	ORTVersion   string  `json:"onnxruntime_version"`
	ORTLibrary   string  `json:"onnxruntime_library"`
	ORTTelemetry string  `json:"onnxruntime_telemetry"`
	IntraThreads int     `json:"intra_op_threads"`
	Tile         string  `json:"tile"`         // --tile: auto, off or the side
	TileOverlap  string  `json:"tile_overlap"` // --tile-overlap: pixels, or "model"
}

// JobsDoc is Jobs as JSON.
type JobsDoc struct {
	Decode int `json:"decode"`
	Infer  int `json:"infer"`
	Encode int `json:"encode"`
}

// Summary is the outcome of one convert run: plain data, printed as text
// or JSON by the caller.
type Summary struct {
	Converted       int          `json:"converted"`  // outputs written, duplicates included
	Duplicates      int          `json:"duplicates"` // of those, copied from an identical input
	Skipped         int          `json:"skipped"`    // already up to date
	Failed          int          `json:"failed"`
	NotStarted      int          `json:"not_started"` // left undone by an interrupt or --fail-fast
	Ignored         int          `json:"ignored"`     // non-image files in walked directories
	Failures        []Failure    `json:"failures"`
	Warnings        []Warning    `json:"warnings,omitempty"` // problems that did not fail an input
	Seconds         float64      `json:"seconds"`
	ImagesPerSecond float64      `json:"images_per_second"`
	Interrupted     bool         `json:"interrupted"`
	Settings        Settings     `json:"settings"`
	Budget          *BudgetStats `json:"memory_budget,omitempty"`
	// Tiled are the images that ran as tiles, in completion order.
	Tiled []TileInfo `json:"tiled,omitempty"`
	// DryRun marks a --dry-run's summary: nothing was written, and Plan
	// says what a run would do with each input.
	DryRun bool        `json:"dry_run,omitempty"`
	Plan   []PlanEntry `json:"plan,omitempty"`
}

// Warning is a problem met with an input that did not fail it (a broken
// EXIF block left out, metadata the output format cannot hold).
type Warning struct {
	Input   string `json:"input"`
	Warning string `json:"warning"`
}

// finish fills in the timing figures.
func (s *Summary) finish(wall time.Duration) {
	s.Seconds = wall.Seconds()
	if s.Seconds > 0 {
		s.ImagesPerSecond = float64(s.Converted-s.Duplicates) / s.Seconds
	}
	if s.Failures == nil {
		s.Failures = []Failure{}
	}
}

// WriteText prints the human summary.
func (s *Summary) WriteText(w io.Writer) error {
	if s.DryRun {
		n := s.planCounts()
		_, err := fmt.Fprintf(w, "dry run: would convert %d, copy %d from identical inputs, skip %d up to date; failed %d → %s (nothing written)\n",
			n[ActionConvert], n[ActionCopy], n[ActionSkip], s.Failed, s.Settings.OutputDir)
		return err
	}
	_, err := fmt.Fprintf(w, "converted %d, skipped %d, failed %d", s.Converted, s.Skipped, s.Failed)
	if err != nil {
		return err
	}
	if s.Duplicates > 0 {
		fmt.Fprintf(w, " (%d copied from identical inputs)", s.Duplicates)
	}
	if s.NotStarted > 0 {
		fmt.Fprintf(w, ", not started %d", s.NotStarted)
	}
	_, err = fmt.Fprintf(w, " in %s (%.2f img/s) → %s\n", formatDuration(s.Seconds), s.ImagesPerSecond, s.Settings.OutputDir)
	if err != nil {
		return err
	}
	if s.Interrupted {
		_, err = fmt.Fprintln(w, "interrupted: finished outputs are kept; run the same command again to do the rest")
	}
	return err
}

// WriteJSON prints the summary as one JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func formatDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < time.Minute {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
