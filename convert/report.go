package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Failure) UnmarshalJSON(b []byte) error {
	var v struct {
		Input string `json:"input"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	f.Input, f.Err = v.Input, errors.New(v.Error)
	return nil
}

// ShardSummary is one shard's --json summary, named by the file it came from.
type ShardSummary struct {
	File string
	*Summary
}

// Merged is the outcome of a sharded run, from every shard's summary.
type Merged struct {
	Shards      int       `json:"shards"`
	Summaries   int       `json:"summaries"`
	Missing     []int     `json:"missing_shards"`  // shard indexes without a summary
	Repeated    []int     `json:"repeated_shards"` // shard indexes with more than one (the last file wins)
	Interrupted []string  `json:"interrupted"`     // files of shards that did not finish
	Converted   int       `json:"converted"`
	Duplicates  int       `json:"duplicates"`
	Skipped     int       `json:"skipped"`
	Failed      int       `json:"failed"`
	NotStarted  int       `json:"not_started"`
	Failures    []Failure `json:"failures"`
	Warnings    []Warning `json:"warnings,omitempty"`
	// Seconds is the longest shard's time (the batch's wall time when they
	// ran together); ShardSeconds adds them up.
	Seconds      float64 `json:"seconds"`
	ShardSeconds float64 `json:"shard_seconds"`
}

// OK reports whether the batch is complete: every shard reported, none was
// interrupted, and no input failed.
func (m *Merged) OK() bool {
	return len(m.Missing) == 0 && len(m.Interrupted) == 0 && m.Failed == 0 && m.NotStarted == 0
}

// Merge combines shard summaries. They must agree on the shard count; an
// unsharded summary counts as shard 0 of 1.
func Merge(sums []ShardSummary) (*Merged, error) {
	if len(sums) == 0 {
		return nil, errors.New("no summaries")
	}
	m := &Merged{Summaries: len(sums), Failures: []Failure{}}
	byIndex := map[int]ShardSummary{}
	for _, s := range sums {
		sh := Shard{0, 1}
		if s.Settings.Shard != "" && s.Settings.Shard != "all" {
			var err error
			if sh, err = ParseShard(s.Settings.Shard); err != nil {
				return nil, fmt.Errorf("%s: %w", s.File, err)
			}
		}
		if m.Shards == 0 {
			m.Shards = sh.Count
		} else if sh.Count != m.Shards {
			return nil, fmt.Errorf("%s is shard %s, but the others are of %d shards", s.File, sh, m.Shards)
		}
		if _, dup := byIndex[sh.Index]; dup {
			m.Repeated = append(m.Repeated, sh.Index)
		}
		byIndex[sh.Index] = s
	}
	for k := range m.Shards {
		s, ok := byIndex[k]
		if !ok {
			m.Missing = append(m.Missing, k)
			continue
		}
		m.Converted += s.Converted
		m.Duplicates += s.Duplicates
		m.Skipped += s.Skipped
		m.Failed += s.Failed
		m.NotStarted += s.NotStarted
		m.Failures = append(m.Failures, s.Failures...)
		m.Warnings = append(m.Warnings, s.Warnings...)
		m.Seconds = max(m.Seconds, s.Seconds)
		m.ShardSeconds += s.Seconds
		if s.Interrupted {
			m.Interrupted = append(m.Interrupted, s.File)
		}
	}
	slices.SortFunc(m.Failures, func(a, b Failure) int { return strings.Compare(a.Input, b.Input) })
	slices.SortStableFunc(m.Warnings, func(a, b Warning) int { return strings.Compare(a.Input, b.Input) })
	return m, nil
}

// WriteText prints the merged outcome for people.
func (m *Merged) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%d shards, %d summaries: converted %d, skipped %d, failed %d", m.Shards, m.Summaries, m.Converted, m.Skipped, m.Failed)
	if m.NotStarted > 0 {
		fmt.Fprintf(w, ", not started %d", m.NotStarted)
	}
	fmt.Fprintf(w, "; longest shard %s, all shards %s\n", formatDuration(m.Seconds), formatDuration(m.ShardSeconds))
	for _, f := range m.Failures {
		fmt.Fprintln(w, f)
	}
	if len(m.Warnings) > 0 {
		fmt.Fprintf(w, "%d warnings (listed with --json)\n", len(m.Warnings))
	}
	if len(m.Missing) > 0 {
		fmt.Fprintf(w, "missing summaries for shards %v: those shards did not finish, or their summaries were not collected\n", m.Missing)
	}
	if len(m.Repeated) > 0 {
		fmt.Fprintf(w, "more than one summary for shards %v: the last one given counts\n", m.Repeated)
	}
	for _, f := range m.Interrupted {
		fmt.Fprintf(w, "interrupted: %s (run that shard again to finish it)\n", f)
	}
	_, err := fmt.Fprintln(w, map[bool]string{true: "complete", false: "INCOMPLETE"}[m.OK()])
	return err
}
