package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
   animegan report --json results/*.json > batch.json
   animegan report --json=batch.json results/*.json`,
		Flags: []cli.Flag{
			newJSONFlag("print the merged summary as JSON on stdout, or with =FILE write it to FILE atomically", false),
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
	dest := jsonOf(c)
	if err := dest.check(); err != nil {
		return usageError{err}
	}
	err = dest.write(c.App.Writer, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
	if err != nil {
		return fmt.Errorf("writing the merged summary: %w", err)
	}
	if err := m.WriteText(c.App.ErrWriter); err != nil {
		return err
	}
	if !m.OK() {
		return errSomeFailed
	}
	return nil
}
