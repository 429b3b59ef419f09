package profile

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"animegan/pipeline"
)

// WriteTable prints the sweep as a table, plateau and pressure rows marked,
// and the verdict below it.
func WriteTable(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "jobs\tL:I:E\timg/s\t± \tp50\tp95\tCPU%\tpeak RSS\tmin avail\tPSI\tadmitted\tfailed\tbottleneck\tstatus\t\t")
	for _, l := range sortedLevels(r.Levels) {
		var marks []string
		if l.Jobs == r.PlateauJobs {
			marks = append(marks, "← plateau")
		}
		if r.PressureJobs != nil && l.Jobs == *r.PressureJobs {
			marks = append(marks, "← pressure: "+r.PressureSignal)
		}
		if l.Jobs == r.RecommendedJobs && l.Jobs != r.PlateauJobs {
			marks = append(marks, "← recommended")
		}
		psi := "n/a"
		if l.PSISomeMax >= 0 {
			psi = fmt.Sprintf("%.1f%%", l.PSISomeMax)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.2f\t%.2f\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n",
			l.Jobs, l.Workers, l.IPS, l.Spread, millis(l.LatencyP50), millis(l.LatencyP95), l.CPUPercent,
			Bytes(l.RSSPeak), Bytes(l.AvailableMin), psi, orDash(budgetAdmitted(l)), l.Failed, orDash(string(l.Bottleneck)), l.Status,
			strings.Join(marks, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, l := range sortedLevels(r.Levels) {
		if l.Error != "" {
			fmt.Fprintf(w, "-j %d: %s\n", l.Jobs, l.Error)
		}
	}
	for _, v := range r.Verdict {
		fmt.Fprintln(w, v)
	}
	if r.StoppedAt != "" {
		fmt.Fprintln(w, "Sweep stopped: "+r.StoppedAt+".")
	}
	for _, l := range sortedLevels(r.Levels) {
		if l.Budget != nil {
			fmt.Fprintf(w, "convert's memory budget: %s (%s), one inference estimated at %s + %.1f KB/pixel (%s); \"admitted\" is the most inferences it let run at once.\n",
				Bytes(uint64(l.Budget.Limit)), l.Budget.Source, Bytes(uint64(l.Budget.CostBase)), l.Budget.CostPerPixel/1024, l.Budget.CostSource)
			break
		}
	}
	_, err := fmt.Fprintf(w, "Memory limit %s (%s); cgroup: %s.\n", Bytes(r.Memory.Limit), r.Memory.LimitSource, r.Cgroup)
	return err
}

func budgetLimit(l Level) string {
	if l.Budget == nil {
		return ""
	}
	return strconv.FormatInt(l.Budget.Limit, 10)
}

func budgetAdmitted(l Level) string {
	if l.Budget == nil {
		return ""
	}
	return strconv.Itoa(l.Budget.PeakConcurrency)
}

func millis(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1fs", v/1000)
	}
	return fmt.Sprintf("%.0fms", v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedLevels(ls []Level) []Level {
	s := slices.Clone(ls)
	slices.SortStableFunc(s, func(a, b Level) int { return a.Jobs - b.Jobs })
	return s
}

// CSVColumns are the --csv header, in order. Scripts depend on the names:
// add columns at the end, never rename.
var CSVColumns = []string{
	"jobs", "decode_workers", "infer_workers", "encode_workers", "status",
	"images_per_second", "images_per_second_spread", "stable", "windows", "images", "failed",
	"latency_p50_ms", "latency_p95_ms", "latency_max_ms", "cpu_percent",
	"rss_peak_bytes", "rss_mean_bytes", "mem_available_min_bytes",
	"psi_some_avg10_max", "psi_full_avg10_max", "swap_rise_bytes", "major_faults", "oom_kills",
	"bottleneck", "decode_utilization", "infer_utilization", "encode_utilization", "infer_admit_wait_s",
	"pressure_signals", "plateau", "pressure", "recommended", "error",
	"mem_budget_bytes", "budget_peak_admitted",
}

// WriteCSV writes one row per level, sorted by jobs, checking every write.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	write := func(rec []string) error {
		if err := cw.Write(rec); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	}
	if err := write(CSVColumns); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, l := range sortedLevels(r.Levels) {
		util := func(s string) string { return f(round(l.Stages[pipeline.Stage(s)].Utilization, 4)) }
		rec := []string{
			strconv.Itoa(l.Jobs), strconv.Itoa(l.Workers.Decode), strconv.Itoa(l.Workers.Infer), strconv.Itoa(l.Workers.Encode), l.Status,
			f(round(l.IPS, 4)), f(round(l.Spread, 4)), strconv.FormatBool(l.Stable), strconv.Itoa(len(l.Windows)), strconv.Itoa(l.Images), strconv.Itoa(l.Failed),
			f(round(l.LatencyP50, 1)), f(round(l.LatencyP95, 1)), f(round(l.LatencyMax, 1)), f(round(l.CPUPercent, 1)),
			u(l.RSSPeak), u(l.RSSMean), u(l.AvailableMin),
			f(l.PSISomeMax), f(l.PSIFullMax), u(l.SwapRise), u(l.MajorFaults), u(l.OOMKills),
			string(l.Bottleneck), util("decode"), util("infer"), util("encode"), f(round(l.Stages["infer"].AdmitWaitS, 3)),
			strings.Join(l.Signals, ";"),
			strconv.FormatBool(l.Jobs == r.PlateauJobs),
			strconv.FormatBool(r.PressureJobs != nil && l.Jobs == *r.PressureJobs),
			strconv.FormatBool(l.Jobs == r.RecommendedJobs),
			l.Error,
			budgetLimit(l), budgetAdmitted(l),
		}
		if err := write(rec); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the whole result, indented.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
