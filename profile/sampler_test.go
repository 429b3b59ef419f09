package profile

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// allocEnv makes the test binary, re-executed, a child that holds a known
// amount of touched memory until its stdin closes.
const allocEnv = "ANIMEGAN_PROFILE_TEST_ALLOC_MIB"

func TestMain(m *testing.M) {
	if s := os.Getenv(allocAfterStdinEnv); s != "" {
		io.ReadAll(os.Stdin) // the level's configuration, as a level reads it first
		mib, _ := strconv.Atoi(s)
		buf := make([]byte, mib<<20)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		os.Exit(int(buf[len(buf)-1]))
	}
	if s := os.Getenv(enforceEnv); s != "" {
		enforceChild(s)
		os.Exit(0)
	}
	if s := os.Getenv(allocEnv); s != "" {
		mib, _ := strconv.Atoi(s)
		buf := make([]byte, mib<<20)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		os.Stdout.WriteString("ready\n")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
		buf[len(buf)-1] = 2                        // keep buf alive until here
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSamplerSeesChildMemory runs a child holding 300 MiB and checks that
// the sampler, from outside, sees at least that much resident.
func TestSamplerSeesChildMemory(t *testing.T) {
	const mib = 300
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), allocEnv+"="+strconv.Itoa(mib))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v", line, err)
	}

	var seen int
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{Pid: cmd.Process.Pid, Interval: 100 * time.Millisecond, Cores: 2, OnSample: func(Sample) {
		seen++
		if seen == 3 {
			cancel()
		}
	}}
	samples := s.Run(ctx)
	if len(samples) < 3 {
		t.Fatalf("%d samples", len(samples))
	}
	u := Summarize(samples, 0)
	if u.RSSPeak < mib<<20 || u.RSSPeak > 4*mib<<20 {
		t.Errorf("peak RSS %s, want about %d MiB", Bytes(u.RSSPeak), mib)
	}
	if u.AvailableMin == 0 {
		t.Errorf("no system available memory read")
	}
	if u.CPUPercent < 0 || u.CPUPercent > 100 {
		t.Errorf("CPU %.1f%% of all cores", u.CPUPercent)
	}

	// Once the child is gone, Run ends on its own.
	stdin.Close()
	cmd.Wait()
	if rest := s.Run(context.Background()); len(rest) != 0 {
		t.Errorf("%d samples of an exited process", len(rest))
	}
}

func TestReadPSI(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, text string
		some, full float64
	}{
		{"kernel format", "some avg10=12.50 avg60=3.00 avg300=1.00 total=123\nfull avg10=4.25 avg60=1.00 avg300=0.00 total=45\n", 12.5, 4.25},
		{"calm", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0, 0},
		{"missing", "", -1, -1},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name)
		if tc.text != "" {
			if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if some, full := readPSI(p); some != tc.some || full != tc.full {
			t.Errorf("%s: some %v full %v, want %v %v", tc.name, some, full, tc.some, tc.full)
		}
	}
}

func TestSummarize(t *testing.T) {
	ss := []Sample{
		{At: 0, RSS: 100, Available: 1000, SwapUsed: 10, MajorFaults: 5, PSISome: 0, PSIFull: 0},
		{At: time.Second, CPUPercent: 90, RSS: 300, Available: 800, SwapUsed: 10, MajorFaults: 5, PSISome: 1, PSIFull: 0},
		{At: 2 * time.Second, CPUPercent: 50, RSS: 200, Available: 900, SwapUsed: 30, MajorFaults: 9, PSISome: 3, PSIFull: 1},
		{At: 3 * time.Second, CPUPercent: 70, RSS: 200, Available: 950, SwapUsed: 20, MajorFaults: 12, PSISome: 2, PSIFull: 0},
	}
	u := Summarize(ss, 2*time.Second)
	want := Usage{Samples: 4, CPUPercent: 60, RSSPeak: 300, RSSMean: 200, AvailableMin: 800, SwapRise: 20,
		MajorFaults: 7, PSISomeMax: 3, PSIFullMax: 1, MeasuredSecond: 2}
	if u != want {
		t.Errorf("Summarize:\n got %+v\nwant %+v", u, want)
	}
}
