package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"animegan/convert"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "merge the --json summaries of a sharded convert run into one",
		ArgsUsage: "SUMMARY.json...",
		Description: `Each shard of a sharded run (convert --shard K/N, a Kubernetes Indexed Job or a
Slurm array) writes its own summary with --json. report adds them up: converted,
skipped and failed counts, every failure, the longest shard's time. It exits 1 when
any input failed, a shard was interrupted, or a shard's summary is missing.

Examples:
   animegan report results/summary-*.json
   animegan report --json results/*.json > batch.json`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the merged summary as JSON on stdout"},
		},
		Action: runReport,
	}
}

func runReport(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError{errors.New("report: name the shards' summary files")}
	}
	var sums []convert.ShardSummary
	for _, path := range c.Args().Slice() {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("summary %s: %w", path, err)
		}
		var s convert.Summary
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("summary %s is not a convert --json summary: %w", path, err)
		}
		sums = append(sums, convert.ShardSummary{File: path, Summary: &s})
	}
	m, err := convert.Merge(sums)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	if err := m.WriteText(c.App.ErrWriter); err != nil {
		return err
	}
	if !m.OK() {
		return errSomeFailed
	}
	return nil
}
