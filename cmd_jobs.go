package main

import (
	"fmt"
	"strconv"
	"strings"

	"animegan/convert"
	"animegan/profile"
)

// jobsAuto is the -j value that takes the workers from the latest matching
// `animegan profile` run.
const jobsAuto = "auto"

// resolveJobs reads -j into o.Jobs and says in o.JobsFrom where they came
// from. "auto" takes the recommendation of the latest profile saved in the
// cache folder for the same model, settings that change the cost
// (--max-size, --keep-size, --threads, --mem-budget) and machine (CPU
// model, cores, memory limit); without one, the core-count default.
func resolveJobs(flag string, o *convert.Options) error {
	flag = strings.TrimSpace(flag)
	switch flag {
	case "":
		o.Jobs = convert.DefaultJobs(o.Cores)
		o.JobsFrom = "core-count default " + o.Jobs.String()
		return nil
	case jobsAuto:
		n, why := autoJobs(o)
		if n == 0 {
			o.Jobs = convert.DefaultJobs(o.Cores)
			o.JobsFrom = why + ": core-count default " + o.Jobs.String()
			return nil
		}
		jobs, err := convert.ParseJobs(strconv.Itoa(n), o.Cores)
		if err != nil {
			return err
		}
		o.Jobs, o.JobsFrom = jobs, why+": -j "+strconv.Itoa(n)+" ("+jobs.String()+")"
		return nil
	}
	jobs, err := convert.ParseJobs(flag, o.Cores)
	if err != nil {
		return fmt.Errorf("%w; or -j auto", err)
	}
	o.Jobs, o.JobsFrom = jobs, "-j "+flag
	return nil
}

// autoJobs is the recommended -j of the latest matching profile (0 when
// none) and why.
func autoJobs(o *convert.Options) (int, string) {
	dir, err := profile.CacheDir()
	if err != nil {
		return 0, "no profile to use (" + err.Error() + ")"
	}
	key := profile.Key{
		ModelSHA256: profile.ModelSHA256(o.ModelData), MaxSide: o.MaxSide, KeepSize: o.KeepSize,
		Threads: o.Threads, MemBudget: o.MemBudget, Machine: profile.ThisMachine(o.Cores),
		Tile: o.Tile.String(), TileOverlap: o.Tile.OverlapString(),
	}
	hit, why := profile.Latest(dir, key)
	if hit == nil {
		return 0, why
	}
	return hit.Result.RecommendedJobs, fmt.Sprintf("profile of %s matched (%s)", hit.Result.Started.Local().Format("2006-01-02 15:04"), hit.Path)
}
