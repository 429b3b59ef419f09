package convert

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"animegan/model"
)

// Action is what a run does with one input.
type Action string

const (
	ActionConvert Action = "convert" // through the model
	ActionSkip    Action = "skip"    // its output is up to date
	ActionCopy    Action = "copy"    // an identical input's output is copied
	ActionFail    Action = "fail"    // it cannot be converted (missing, unreadable, ...)
)

// PlanEntry is what a run would do with one input, and why (--dry-run).
type PlanEntry struct {
	Input  string `json:"input"`
	Output string `json:"output,omitempty"` // the output file; "" when the input has none
	Action Action `json:"action"`
	Reason string `json:"reason"`
	// Renamed says why Output is not the input's plain mirror (a
	// collision with another input's output).
	Renamed string `json:"renamed,omitempty"`
	// Tiled says how a photo to convert would run as tiles, or how the
	// up-to-date output of one skipped was made as tiles.
	Tiled *TileInfo `json:"tiled,omitempty"`
	// Estimated says Tiled comes from an assumed memory cost, not the
	// calibrated one the run will use (PlanCostSource).
	Estimated bool `json:"estimated,omitempty"`
}

// dryRun plans like Run and writes nothing: no output folder, no journal,
// no temp-file clean-up. It reads the journals and stats and hashes the
// inputs, as a real run's planning does.
func dryRun(ctx context.Context, o *Options, spec *model.Spec, rt *model.Runtime, outDir string, r Reporter, start time.Time) (*Summary, error) {
	sum := &Summary{DryRun: true, Settings: settingsOf(o, spec, rt, outDir)}
	listing := collectAll(o, outDir)
	sum.Ignored = listing.Ignored
	man, err := ReadManifest(outDir, o.Shard)
	if err != nil {
		return nil, setupErr("output directory %s: %w", outDir, err)
	}
	j := &job{opts: o, spec: spec, outDir: outDir, manifest: man, reporter: r, sum: sum}
	targets := shardTargets(o, listing)
	j.computeFingerprints(targets)
	pl := j.plan(ctx, targets)

	var plan []PlanEntry
	add := func(t *task, a Action, why string) {
		plan = append(plan, PlanEntry{Input: t.Path, Output: j.outPath(&t.Target), Action: a, Reason: why, Renamed: t.Renamed})
	}
	for _, f := range listing.Problems {
		plan = append(plan, PlanEntry{Input: f.Input, Action: ActionFail, Reason: f.Err.Error()})
		j.fail(f.Input, f.Err)
	}
	for _, t := range pl.upToDate {
		add(t, ActionSkip, t.why)
		plan[len(plan)-1].Tiled = t.tiled // how the output was made
	}
	for _, t := range pl.copies {
		add(t, ActionCopy, t.why)
	}
	planner, err := tilePlanner(o, spec, pl.leaders)
	if err != nil {
		return nil, err
	}
	if planner != nil {
		defer planner.Close()
	}
	// Where the run would calibrate the model's memory, --tile auto's
	// choices are estimates: say so once, and on every line they decide
	// (--tile N's tiles are the user's, whatever the memory).
	estimated := ""
	if planner != nil && o.Tile.Mode == TileAuto && planner.Budget() != nil && planner.Budget().Cost.Source == PlanCostSource {
		estimated = " (estimated: a dry run does not calibrate the model's memory; the run does, and may tile differently)"
		r.Logf("dry run: memory per inference assumed at %s, budget %s; the run calibrates it (two small inferences) and decides which photos run as tiles by that",
			planner.Budget().Cost, formatBytes(planner.Budget().Limit))
	}
	for _, t := range pl.leaders {
		if info, tiled, err := planTiles(planner, t.Path); err != nil {
			add(t, ActionFail, err.Error()+estimated)
			j.fail(t.Path, err)
			continue
		} else if tiled {
			info.Input = t.Path
			add(t, ActionConvert, t.why+"; as "+info.String()+estimated)
			plan[len(plan)-1].Tiled = &info
			plan[len(plan)-1].Estimated = estimated != ""
		} else {
			add(t, ActionConvert, t.why)
		}
		for _, f := range t.followers {
			add(f, ActionCopy, f.why)
		}
	}
	targetOf := make(map[string]*Target, len(targets))
	for i := range targets {
		targetOf[targets[i].Path] = &targets[i]
	}
	for _, f := range pl.failures {
		e := PlanEntry{Input: f.Input, Action: ActionFail, Reason: f.Err.Error()}
		if t := targetOf[f.Input]; t != nil {
			e.Output, e.Renamed = j.outPath(t), t.Renamed
		}
		plan = append(plan, e)
		j.fail(f.Input, f.Err)
	}
	slices.SortStableFunc(plan, func(a, b PlanEntry) int { return strings.Compare(a.Input, b.Input) })
	sum.Plan = plan
	sum.Skipped = pl.skipped
	sum.Interrupted = ctx.Err() != nil
	sum.finish(time.Since(start))
	r.Planned(plan)
	r.End(sum)
	return sum, nil
}

// tilePlanner is an engine that makes no session, for saying which photos
// would run as tiles: nil when none can (--tile off, a model of one fixed
// size, nothing to convert). It runs no model: where a real run would
// calibrate the budget's cost (two small inferences, seconds and up to
// the budget's memory), it assumes the cost (PlanCostSource), and the
// plan says its tiles are estimates.
func tilePlanner(o *Options, spec *model.Spec, leaders []*task) (*Engine, error) {
	if o.Tile.Mode == TileOff || !spec.Dynamic() || len(leaders) == 0 {
		return nil, nil
	}
	eo := o.EngineOptions()
	eo.PlanOnly = true
	eng, err := NewEngine(spec, o.ModelData, eo)
	if err != nil {
		return nil, &SetupError{err}
	}
	return eng, nil
}

func planTiles(eng *Engine, path string) (TileInfo, bool, error) {
	if eng == nil {
		return TileInfo{}, false, nil
	}
	return eng.PlanTiles(path)
}

// writePlan prints one line per planned input:
//
//	convert photos/a.jpg → out/a.jpg (no earlier output)
func writePlan(w io.Writer, plan []PlanEntry) error {
	for _, e := range plan {
		line := fmt.Sprintf("%-7s %s", e.Action, QuoteName(e.Input))
		if e.Output != "" {
			line += " → " + QuoteName(e.Output)
		}
		why := escapeControl(e.Reason)
		if e.Renamed != "" {
			why += "; renamed: " + escapeControl(e.Renamed)
		}
		if _, err := fmt.Fprintf(w, "%s (%s)\n", line, why); err != nil {
			return err
		}
	}
	return nil
}

// planCounts counts the plan's entries by action.
func (s *Summary) planCounts() map[Action]int {
	n := make(map[Action]int)
	for _, e := range s.Plan {
		n[e.Action]++
	}
	return n
}
