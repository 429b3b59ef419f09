package profile

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"image"
	"image/png"
	"os"
	"slices"
	"strings"
	"testing"
)

// recorded is a sweep as Run would return it, levels deliberately out of
// order.
func recorded() *Result {
	ls := []Level{lv(2, 1.93, true, 929<<20), lv(1, 1.47, true, 544<<20), lv(4, 1.86, false, 3500<<20)}
	ls = append(ls, Level{Jobs: 3, Status: StatusFailed, Error: `boom, "quoted"`})
	m := Memory{Total: 24 * gib, Limit: 4 * gib, LimitSource: "--mem-limit"}
	for i := range ls {
		ls[i].Signals = Signals(&ls[i], m, DefaultThresholds)
	}
	r := &Result{Cores: 2, Memory: m, Thresholds: DefaultThresholds, Levels: ls, Settings: Settings{Model: "test", MaxSide: 512}}
	r.Decision = Decide(sortedLevels(ls), DefaultThresholds)
	r.Verdict = Verdict(sortedLevels(ls), r.Decision, m)
	return r
}

func TestCSVReadBack(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, recorded()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], CSVColumns) || len(rows) != 5 {
		t.Fatalf("header %v, %d rows", rows[0], len(rows))
	}
	col := func(name string) int { return slices.Index(CSVColumns, name) }
	var jobs []string
	for _, r := range rows[1:] {
		jobs = append(jobs, r[col("jobs")])
	}
	if !slices.Equal(jobs, []string{"1", "2", "3", "4"}) {
		t.Errorf("jobs column %v, want sorted", jobs)
	}
	row2, row3, row4 := rows[2], rows[3], rows[4]
	if row2[col("images_per_second")] != "1.93" || row2[col("plateau")] != "true" || row2[col("recommended")] != "true" {
		t.Errorf("row -j 2: %v", row2)
	}
	if row3[col("error")] != `boom, "quoted"` || row3[col("status")] != StatusFailed {
		t.Errorf("row -j 3: %v", row3)
	}
	if row4[col("pressure")] != "true" || row4[col("pressure_signals")] != SignalRSS {
		t.Errorf("row -j 4: %v", row4)
	}
}

// failWriter fails after n bytes, like a full disk.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, os.ErrClosed
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWritersReportErrors(t *testing.T) {
	r := recorded()
	if err := WriteCSV(&failWriter{n: 600}, r); err == nil {
		t.Error("WriteCSV on a failing writer: no error")
	}
	if err := WriteJSON(&failWriter{n: 100}, r); err == nil {
		t.Error("WriteJSON on a failing writer: no error")
	}
}

func TestJSONReadBack(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, recorded()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Levels []struct {
			Jobs   int     `json:"jobs"`
			IPS    float64 `json:"images_per_second"`
			P50    float64 `json:"latency_p50_ms"`
			P95    float64 `json:"latency_p95_ms"`
			CPU    float64 `json:"cpu_percent"`
			RSS    uint64  `json:"rss_peak_bytes"`
			Failed int     `json:"failed"`
			Status string  `json:"status"`
		} `json:"levels"`
		Plateau     int      `json:"plateau_jobs"`
		Pressure    *int     `json:"pressure_jobs"`
		Signal      string   `json:"pressure_signal"`
		Recommended int      `json:"recommended_jobs"`
		Verdict     []string `json:"verdict"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Levels) != 4 || got.Plateau != 2 || got.Pressure == nil || *got.Pressure != 4 ||
		got.Signal != SignalRSS || got.Recommended != 2 || len(got.Verdict) == 0 {
		t.Errorf("read back %+v", got)
	}
	if got.Levels[0].Jobs != 2 || got.Levels[0].RSS != 929<<20 || got.Levels[3].Status != StatusFailed {
		t.Errorf("levels %+v", got.Levels)
	}

	// No pressure: pressure_jobs is null, not 0.
	r := recorded()
	r.PressureJobs = nil
	b.Reset()
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"pressure_jobs": null`) {
		t.Error(`no "pressure_jobs": null when there is no pressure`)
	}
}

func TestPlotReadBack(t *testing.T) {
	r := recorded()
	for _, format := range []string{"svg", "png"} {
		var b bytes.Buffer
		if err := WritePlot(&b, r, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		switch format {
		case "svg":
			var doc struct {
				XMLName xml.Name
				Width   string `xml:"width,attr"`
			}
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil || doc.XMLName.Local != "svg" {
				t.Fatalf("svg: %v, root %q", err, doc.XMLName.Local)
			}
			for _, want := range []string{"images / s", "peak RSS (GiB)", "plateau (-j 2)", "pressure: rss (-j 4)"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("svg lacks %q", want)
				}
			}
		case "png":
			img, err := png.Decode(&b)
			if err != nil {
				t.Fatal(err)
			}
			if sz := img.Bounds().Size(); sz.X < 600 || sz.Y < 600 {
				t.Errorf("png %v", sz)
			}
			if uniform(img) {
				t.Error("png is blank")
			}
		}
	}
	if _, err := PlotFormat("x.pdf"); err == nil {
		t.Error("PlotFormat accepted .pdf")
	}
}

func uniform(img image.Image) bool {
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			if img.At(x, y) != first {
				return false
			}
		}
	}
	return true
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, recorded()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"← plateau", "← pressure: rss", "Use -j 2.", "-j 3: boom"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
