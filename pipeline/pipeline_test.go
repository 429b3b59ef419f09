package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
)

// The tests avoid assertions on durations other than lower bounds that
// sleeping guarantees, and wait for conditions by polling with a generous
// deadline, so that a loaded two-core CI machine cannot make them flake.
// None of them use t.Parallel: each checks that the goroutine count returns
// to its starting value.

const deadline = 20 * time.Second

// source yields 0..n-1 (forever if n < 0) and counts what it handed out.
type source struct {
	n      int
	pulled atomic.Int64
	// onPull, if set, runs before each item is yielded.
	onPull func()
}

func (s *source) seq() iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; s.n < 0 || i < s.n; i++ {
			if s.onPull != nil {
				s.onPull()
			}
			s.pulled.Add(1)
			if !yield(i) {
				return
			}
		}
	}
}

// trivial returns stages that pass an int through as "d<i>" and "i<i>".
func trivial() Stages[int, string, string] {
	return Stages[int, string, string]{
		Decode: func(_ context.Context, s int) (string, error) { return fmt.Sprint("d", s), nil },
		Infer:  func(_ context.Context, d string) (string, error) { return "i" + d, nil },
		Encode: func(context.Context, string) error { return nil },
	}
}

// collector records results and checks that each item is reported once.
// done runs on the Run goroutine only, so the map needs no lock: if it
// were ever called concurrently, the race detector would say so.
type collector struct {
	t     *testing.T
	byKey map[int]Result[int]
	order []int
}

func newCollector(t *testing.T) *collector {
	return &collector{t: t, byKey: map[int]Result[int]{}}
}

func (c *collector) done(r Result[int]) error {
	if _, dup := c.byKey[r.Item]; dup {
		c.t.Errorf("item %d reported twice", r.Item)
	}
	c.byKey[r.Item] = r
	c.order = append(c.order, r.Item)
	return nil
}

// run calls Run with a watchdog: a Run that does not return within the
// deadline fails the test with every goroutine's stack instead of hanging.
func run[S, D, I any](t *testing.T, ctx context.Context, cfg Config, items iter.Seq[S], st Stages[S, D, I], done func(Result[S]) error) (Stats, error) {
	t.Helper()
	type out struct {
		s   Stats
		err error
	}
	ch := make(chan out, 1)
	go func() {
		s, err := Run(ctx, cfg, items, st, done)
		ch <- out{s, err}
	}()
	select {
	case o := <-ch:
		return o.s, o.err
	case <-time.After(deadline):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("Run did not return within %v\n%s", deadline, buf)
		panic("unreachable")
	}
}

// noLeaks records the goroutine count and, at cleanup, waits until it is
// back to that value.
func noLeaks(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		t.Helper()
		until := time.Now().Add(deadline)
		for runtime.NumGoroutine() > base {
			if time.Now().After(until) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), base, buf)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// waitFor polls cond until it holds (true) or the deadline passes (false).
// It does not fail the test itself, so it can be used off the test
// goroutine.
func waitFor(cond func() bool) bool {
	until := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(until) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
	return true
}

// checkStats verifies the invariants that hold for every run.
func checkStats(t *testing.T, cfg Config, s Stats, reported int) {
	t.Helper()
	if s.In != reported {
		t.Errorf("Stats.In = %d, but done was called %d times", s.In, reported)
	}
	if s.In != s.OK+s.Failed+s.Canceled {
		t.Errorf("In %d != OK %d + Failed %d + Canceled %d", s.In, s.OK, s.Failed, s.Canceled)
	}
	workers := map[Stage]int{StageDecode: cfg.Decoders, StageInfer: cfg.Inferers, StageEncode: cfg.Encoders}
	prev := s.In
	for _, st := range stages {
		ss := s.Stage(st)
		if ss.Workers != workers[st] {
			t.Errorf("%s: Workers = %d, want %d", st, ss.Workers, workers[st])
		}
		// An item reaches a stage only if it got through the previous one.
		if ss.Items > prev {
			t.Errorf("%s: Items = %d, more than the %d offered", st, ss.Items, prev)
		}
		prev = ss.Items - ss.Failed
		if ss.MaxQueueWait > ss.QueueWait || ss.MaxAdmitWait > ss.AdmitWait {
			t.Errorf("%s: max wait above total: %+v", st, ss)
		}
		for name, d := range map[string]time.Duration{"busy": ss.Busy, "admit": ss.AdmitWait, "idle": ss.Idle, "blocked": ss.Blocked, "queue": ss.QueueWait} {
			if d < 0 {
				t.Errorf("%s: negative %s time %v", st, name, d)
			}
		}
		// Each worker's busy, admit, idle and blocked spans are disjoint
		// and lie within Run.
		if sum, lim := ss.Busy+ss.AdmitWait+ss.Idle+ss.Blocked, time.Duration(ss.Workers)*s.Wall; sum > lim {
			t.Errorf("%s: busy+admit+idle+blocked = %v > workers*wall = %v", st, sum, lim)
		}
		if u := s.Utilization(st); u < 0 || u > 1 {
			t.Errorf("%s: utilization %v out of [0,1]", st, u)
		}
	}
	if s.Encode.Items-s.Encode.Failed < s.OK {
		t.Errorf("OK %d but only %d successful encodes", s.OK, s.Encode.Items-s.Encode.Failed)
	}
}

func TestAllItemsSucceed(t *testing.T) {
	configs := []Config{
		{Decoders: 1, Inferers: 1, Encoders: 1},
		{Decoders: 3, Inferers: 2, Encoders: 4},
		{Decoders: 2, Inferers: 2, Encoders: 2, Queue: 5},
		{Decoders: 1, Inferers: 4, Encoders: 1, Queue: 1},
	}
	for _, cfg := range configs {
		for _, n := range []int{0, 1, 100} {
			t.Run(fmt.Sprintf("%d-%d-%d-q%d/n=%d", cfg.Decoders, cfg.Inferers, cfg.Encoders, cfg.Queue, n), func(t *testing.T) {
				noLeaks(t)
				src := &source{n: n}
				c := newCollector(t)
				var observed [3]atomic.Int64
				st := trivial()
				st.OnStart = func(s Stage, _ int) {
					switch s {
					case StageDecode:
						observed[0].Add(1)
					case StageInfer:
						observed[1].Add(1)
					case StageEncode:
						observed[2].Add(1)
					}
				}
				stats, err := run(t, context.Background(), cfg, src.seq(), st, c.done)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if len(c.byKey) != n || int(src.pulled.Load()) != n {
					t.Fatalf("reported %d, pulled %d, want %d", len(c.byKey), src.pulled.Load(), n)
				}
				for i, r := range c.byKey {
					if r.Err != nil {
						t.Errorf("item %d: %v", i, r.Err)
					}
					if r.Timings.Latency < r.Timings.Decode+r.Timings.Infer+r.Timings.Encode {
						t.Errorf("item %d: latency below the sum of busy times: %+v", i, r.Timings)
					}
				}
				if stats.OK != n {
					t.Errorf("OK = %d, want %d", stats.OK, n)
				}
				for i, s := range stages {
					if got := stats.Stage(s).Items; got != n {
						t.Errorf("%s items = %d, want %d", s, got, n)
					}
					if got := observed[i].Load(); got != int64(n) {
						t.Errorf("OnStart(%s) called %d times, want %d", s, got, n)
					}
				}
				checkStats(t, cfg, stats, len(c.order))
			})
		}
	}
}

var errBoom = errors.New("boom")

// faulty returns stages that misbehave with how for items divisible by 3, at
// the given stage ("admit" for Admit). It also counts releases so tests can
// check that Admit reservations are returned.
func faulty(at string, how func(item int) error) (Stages[int, int, int], *atomic.Int64, *atomic.Int64) {
	var admitted, released atomic.Int64
	hit := func(stage string, v int) error {
		if stage == at && v%3 == 0 {
			return how(v)
		}
		return nil
	}
	return Stages[int, int, int]{
		Decode: func(_ context.Context, s int) (int, error) { return s, hit("decode", s) },
		Admit: func(_ context.Context, d int) (func(), error) {
			if err := hit("admit", d); err != nil {
				return nil, err
			}
			admitted.Add(1)
			return func() { released.Add(1) }, nil
		},
		Infer:  func(_ context.Context, d int) (int, error) { return d, hit("infer", d) },
		Encode: func(_ context.Context, i int) error { return hit("encode", i) },
	}, &admitted, &released
}

func TestStageErrors(t *testing.T) {
	tests := []struct {
		at   string
		want Stage
	}{
		{"decode", StageDecode},
		{"admit", StageInfer},
		{"infer", StageInfer},
		{"encode", StageEncode},
	}
	const n = 30
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			noLeaks(t)
			cfg := Config{Decoders: 2, Inferers: 3, Encoders: 2}
			st, admitted, released := faulty(tc.at, func(v int) error { return fmt.Errorf("item %d: %w", v, errBoom) })
			c := newCollector(t)
			stats, err := run(t, context.Background(), cfg, (&source{n: n}).seq(), st, c.done)
			if err != nil {
				t.Fatalf("Run: %v (item failures must not fail the run)", err)
			}
			if len(c.byKey) != n {
				t.Fatalf("reported %d items, want %d", len(c.byKey), n)
			}
			failed := 0
			for i := range n {
				r := c.byKey[i]
				if i%3 != 0 {
					if r.Err != nil {
						t.Errorf("item %d: unexpected error %v", i, r.Err)
					}
					continue
				}
				failed++
				var se *StageError
				if !errors.As(r.Err, &se) || se.Stage != tc.want {
					t.Errorf("item %d: error %v, want a StageError at %s", i, r.Err, tc.want)
				}
				if !errors.Is(r.Err, errBoom) || r.Canceled() {
					t.Errorf("item %d: error %v should wrap errBoom and not be cancelled", i, r.Err)
				}
			}
			if stats.Failed != failed || stats.OK != n-failed || stats.Canceled != 0 {
				t.Errorf("stats OK/Failed/Canceled = %d/%d/%d, want %d/%d/0", stats.OK, stats.Failed, stats.Canceled, n-failed, failed)
			}
			if got := stats.Stage(tc.want).Failed; got != failed {
				t.Errorf("%s.Failed = %d, want %d", tc.want, got, failed)
			}
			if admitted.Load() != released.Load() {
				t.Errorf("admitted %d, released %d", admitted.Load(), released.Load())
			}
			checkStats(t, cfg, stats, len(c.order))
		})
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		at    string
		want  Stage
		value func(int) any
	}{
		{"decode", StageDecode, func(v int) any { return v }},
		{"admit", StageInfer, func(v int) any { return fmt.Sprint("admit ", v) }},
		{"infer", StageInfer, func(v int) any { return fmt.Errorf("wrapped %d: %w", v, errBoom) }},
		{"encode", StageEncode, func(int) any { return nil }}, // panic(nil) is a *runtime.PanicNilError
	}
	const n = 12
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			noLeaks(t)
			cfg := Config{Decoders: 2, Inferers: 2, Encoders: 2}
			st, admitted, released := faulty(tc.at, func(v int) error { panic(tc.value(v)) })
			c := newCollector(t)
			stats, err := run(t, context.Background(), cfg, (&source{n: n}).seq(), st, c.done)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(c.byKey) != n {
				t.Fatalf("reported %d items, want %d", len(c.byKey), n)
			}
			for i := range n {
				r := c.byKey[i]
				if i%3 != 0 {
					if r.Err != nil {
						t.Errorf("item %d: unexpected error %v", i, r.Err)
					}
					continue
				}
				var se *StageError
				var pe *PanicError
				if !errors.As(r.Err, &se) || se.Stage != tc.want || !errors.As(r.Err, &pe) {
					t.Fatalf("item %d: error %v, want a PanicError inside a StageError at %s", i, r.Err, tc.want)
				}
				if want := tc.value(i); want != nil && fmt.Sprint(pe.Value) != fmt.Sprint(want) {
					t.Errorf("item %d: panic value %v, want %v", i, pe.Value, want)
				}
				// The stack is taken while the panicking frame is live.
				if !bytes.Contains(pe.Stack, []byte("pipeline_test.go")) {
					t.Errorf("item %d: stack does not show the panicking test code:\n%s", i, pe.Stack)
				}
				if r.Canceled() {
					t.Errorf("item %d: a panic must not count as cancelled", i)
				}
			}
			if tc.at == "infer" && !errors.Is(c.byKey[0].Err, errBoom) {
				t.Errorf("panic(err) should unwrap to err: %v", c.byKey[0].Err)
			}
			// A panicking Infer must still give back what Admit reserved.
			if admitted.Load() != released.Load() {
				t.Errorf("admitted %d, released %d", admitted.Load(), released.Load())
			}
			if stats.Failed != n/3 {
				t.Errorf("Failed = %d, want %d", stats.Failed, n/3)
			}
			checkStats(t, cfg, stats, len(c.order))
		})
	}
}

func TestSlowStages(t *testing.T) {
	const (
		n    = 20
		slow = 2 * time.Millisecond
	)
	for _, s := range stages {
		for _, cfg := range []Config{
			{Decoders: 1, Inferers: 1, Encoders: 1},
			{Decoders: 2, Inferers: 3, Encoders: 2, Queue: 1},
		} {
			t.Run(fmt.Sprintf("%s/%d-%d-%d", s, cfg.Decoders, cfg.Inferers, cfg.Encoders), func(t *testing.T) {
				noLeaks(t)
				nap := func(here Stage) {
					if here == s {
						time.Sleep(slow)
					}
				}
				st := Stages[int, int, int]{
					Decode: func(_ context.Context, v int) (int, error) { nap(StageDecode); return v, nil },
					Infer:  func(_ context.Context, v int) (int, error) { nap(StageInfer); return v, nil },
					Encode: func(context.Context, int) error { nap(StageEncode); return nil },
				}
				c := newCollector(t)
				stats, err := run(t, context.Background(), cfg, (&source{n: n}).seq(), st, c.done)
				if err != nil {
					t.Fatal(err)
				}
				if stats.OK != n || len(c.byKey) != n {
					t.Fatalf("OK = %d, reported %d, want %d", stats.OK, len(c.byKey), n)
				}
				// Sleeping guarantees lower bounds, never upper ones.
				if busy := stats.Stage(s).Busy; busy < n*slow {
					t.Errorf("%s busy = %v, want >= %v", s, busy, n*slow)
				}
				for i, r := range c.byKey {
					var d time.Duration
					switch s {
					case StageDecode:
						d = r.Timings.Decode
					case StageInfer:
						d = r.Timings.Infer
					case StageEncode:
						d = r.Timings.Encode
					}
					if d < slow || r.Timings.Latency < slow {
						t.Errorf("item %d: %s time %v / latency %v, want >= %v", i, s, d, r.Timings.Latency, slow)
					}
				}
				checkStats(t, cfg, stats, len(c.order))
			})
		}
	}
}

func TestFailFast(t *testing.T) {
	noLeaks(t)
	errStop := errors.New("stop")
	src := &source{n: -1} // endless: only fail-fast can end the run
	cfg := Config{Decoders: 2, Inferers: 2, Encoders: 2}
	var calls, okBeforeStop int
	seen := map[int]bool{}
	stats, err := run(t, context.Background(), cfg, src.seq(), trivial(), func(r Result[int]) error {
		if seen[r.Item] {
			t.Errorf("item %d reported twice", r.Item)
		}
		seen[r.Item] = true
		calls++
		if calls < 3 {
			okBeforeStop++
			return nil
		}
		if calls > 3 && r.Canceled() && !errors.Is(r.Err, errStop) {
			t.Errorf("cancelled item %d should name the cause: %v", r.Item, r.Err)
		}
		return errStop // keeps failing: only the first error counts
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Run = %v, want errStop", err)
	}
	if int64(calls) != src.pulled.Load() {
		t.Errorf("done called %d times for %d pulled items", calls, src.pulled.Load())
	}
	checkStats(t, cfg, stats, calls)
}

func TestDonePanics(t *testing.T) {
	noLeaks(t)
	cfg := Config{Decoders: 1, Inferers: 1, Encoders: 1}
	calls := 0
	stats, err := run(t, context.Background(), cfg, (&source{n: -1}).seq(), trivial(), func(Result[int]) error {
		calls++
		panic("done is broken")
	})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "done is broken" {
		t.Fatalf("Run = %v, want the PanicError from done", err)
	}
	checkStats(t, cfg, stats, calls)
}

func TestCancelMidRun(t *testing.T) {
	for _, cfg := range []Config{
		{Decoders: 1, Inferers: 1, Encoders: 1},
		{Decoders: 2, Inferers: 3, Encoders: 2, Queue: 4},
	} {
		t.Run(fmt.Sprintf("%d-%d-%d-q%d", cfg.Decoders, cfg.Inferers, cfg.Encoders, cfg.Queue), func(t *testing.T) {
			noLeaks(t)
			cause := errors.New("user pressed ^C")
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)

			// Infer blocks until cancelled; once every inferer is inside
			// it, the pipeline is full and we pull the plug.
			var entered, observed atomic.Int64
			st := trivial()
			st.Infer = func(ctx context.Context, d string) (string, error) {
				entered.Add(1)
				<-ctx.Done()
				observed.Add(1)
				return "", ctx.Err()
			}
			src := &source{n: 10000}
			c := newCollector(t)
			go func() {
				for entered.Load() < int64(cfg.Inferers) {
					time.Sleep(100 * time.Microsecond)
				}
				cancel(cause)
			}()
			stats, err := run(t, ctx, cfg, src.seq(), st, c.done)
			if !errors.Is(err, cause) {
				t.Fatalf("Run = %v, want the cancellation cause", err)
			}
			if observed.Load() != entered.Load() || entered.Load() != int64(cfg.Inferers) {
				t.Errorf("%d Infer calls entered, %d observed ctx; want %d", entered.Load(), observed.Load(), cfg.Inferers)
			}
			if int64(len(c.byKey)) != src.pulled.Load() {
				t.Errorf("reported %d of %d pulled items", len(c.byKey), src.pulled.Load())
			}
			// The feeder holds one item, and the source queue and
			// decoders hold the rest of what was pulled.
			if limit := cfg.MaxLive() + cfg.queue(cfg.Decoders) + 1; len(c.byKey) > limit {
				t.Errorf("pulled %d items with the pipeline stalled, want <= %d", len(c.byKey), limit)
			}
			for i, r := range c.byKey {
				if !r.Canceled() || !errors.Is(r.Err, cause) {
					t.Errorf("item %d: %v, want cancelled with the cause", i, r.Err)
				}
				var se *StageError
				if !errors.As(r.Err, &se) || (se.Stage != StageInfer && se.Stage != StageDecode) {
					t.Errorf("item %d: %v, want a StageError at decode or infer", i, r.Err)
				}
			}
			if stats.Canceled != len(c.byKey) || stats.OK != 0 || stats.Failed != 0 {
				t.Errorf("stats = %+v, want every item cancelled", stats)
			}
			checkStats(t, cfg, stats, len(c.order))
		})
	}
}

// A stage that fails for its own reasons while the run is being cancelled
// is a failure, not a cancellation.
func TestCancelKeepsRealFailures(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := trivial()
	st.Encode = func(ctx context.Context, _ string) error {
		cancel()
		<-ctx.Done()
		return errBoom
	}
	cfg := Config{Decoders: 1, Inferers: 1, Encoders: 1}
	c := newCollector(t)
	stats, err := run(t, ctx, cfg, (&source{n: 50}).seq(), st, c.done)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if stats.Failed != 1 || !errors.Is(c.byKey[0].Err, errBoom) || c.byKey[0].Canceled() {
		t.Errorf("first item: %v (failed=%d), want errBoom as a failure", c.byKey[0].Err, stats.Failed)
	}
	checkStats(t, cfg, stats, len(c.order))
}

func TestCanceledBeforeStart(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls atomic.Int64
	st := trivial()
	st.Decode = func(context.Context, int) (string, error) { calls.Add(1); return "", nil }
	src := &source{n: 10}
	cfg := Config{Decoders: 1, Inferers: 1, Encoders: 1}
	stats, err := run(t, ctx, cfg, src.seq(), st, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if src.pulled.Load() != 0 || calls.Load() != 0 || stats.In != 0 {
		t.Errorf("pulled %d, decoded %d, In %d; want nothing", src.pulled.Load(), calls.Load(), stats.In)
	}
}

func TestDrain(t *testing.T) {
	for _, cfg := range []Config{
		{Decoders: 1, Inferers: 1, Encoders: 1},
		{Decoders: 3, Inferers: 2, Encoders: 3, Queue: 3},
	} {
		t.Run(fmt.Sprintf("%d-%d-%d-q%d", cfg.Decoders, cfg.Inferers, cfg.Encoders, cfg.Queue), func(t *testing.T) {
			noLeaks(t)
			drain := make(chan struct{})
			cfg.Drain = drain
			src := &source{n: -1}
			// Encode is slowed so that the pipeline is full of work
			// when the drain starts, and that work must still finish.
			st := trivial()
			st.Encode = func(context.Context, string) error { time.Sleep(100 * time.Microsecond); return nil }
			c := newCollector(t)
			stats, err := run(t, context.Background(), cfg, src.seq(), st, func(r Result[int]) error {
				if len(c.order) == 5 {
					close(drain)
				}
				return c.done(r)
			})
			if err != nil {
				t.Fatalf("Run = %v, want nil after a drain", err)
			}
			if int64(len(c.byKey)) != src.pulled.Load() {
				t.Errorf("reported %d of %d pulled", len(c.byKey), src.pulled.Load())
			}
			if stats.OK != stats.In || stats.In < 6 {
				t.Errorf("stats %+v: every pulled item should have been finished", stats)
			}
			checkStats(t, cfg, stats, len(c.order))
		})
	}
}

func TestDrainBeforeStart(t *testing.T) {
	noLeaks(t)
	drain := make(chan struct{})
	close(drain)
	src := &source{n: 10}
	stats, err := run(t, context.Background(), Config{Decoders: 1, Inferers: 1, Encoders: 1, Drain: drain}, src.seq(), trivial(), nil)
	if err != nil || stats.In != 0 || src.pulled.Load() != 0 {
		t.Errorf("Run = %v, In %d, pulled %d; want nil and nothing pulled", err, stats.In, src.pulled.Load())
	}
}

// With Encode held shut, the pipeline must fill to exactly Config.MaxLive
// decoded items and no further, and the source must not be pulled more
// than the source queue and the feeder's hand beyond that.
func TestBoundedMemory(t *testing.T) {
	for _, cfg := range []Config{
		{Decoders: 1, Inferers: 1, Encoders: 1},
		{Decoders: 4, Inferers: 2, Encoders: 3},
		{Decoders: 2, Inferers: 3, Encoders: 1, Queue: 1},
		{Decoders: 1, Inferers: 1, Encoders: 1, Queue: 7},
	} {
		t.Run(fmt.Sprintf("%d-%d-%d-q%d", cfg.Decoders, cfg.Inferers, cfg.Encoders, cfg.Queue), func(t *testing.T) {
			noLeaks(t)
			var alive, maxAlive, encoded, maxAhead atomic.Int64
			bump := func(m *atomic.Int64, v int64) {
				for {
					old := m.Load()
					if v <= old || m.CompareAndSwap(old, v) {
						return
					}
				}
			}
			src := &source{n: 300}
			src.onPull = func() { bump(&maxAhead, src.pulled.Load()+1-encoded.Load()) }
			gate := make(chan struct{})
			st := Stages[int, int, int]{
				Decode: func(_ context.Context, v int) (int, error) {
					bump(&maxAlive, alive.Add(1))
					return v, nil
				},
				Infer: func(_ context.Context, v int) (int, error) { return v, nil },
				Encode: func(context.Context, int) error {
					<-gate
					// Counted down before Encode returns, so
					// alive never undercounts what is held.
					encoded.Add(1)
					alive.Add(-1)
					return nil
				},
			}
			go func() {
				if !waitFor(func() bool { return alive.Load() == int64(cfg.MaxLive()) }) {
					t.Errorf("the pipeline never filled: %d alive, want %d", alive.Load(), cfg.MaxLive())
				}
				close(gate)
			}()
			c := newCollector(t)
			stats, err := run(t, context.Background(), cfg, src.seq(), st, c.done)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := maxAlive.Load(), int64(cfg.MaxLive()); got != want {
				t.Errorf("max items alive = %d, want exactly MaxLive = %d", got, want)
			}
			if got, limit := maxAhead.Load(), int64(cfg.MaxLive()+cfg.queue(cfg.Decoders)+1); got > limit {
				t.Errorf("source pulled %d items ahead of encode, want <= %d", got, limit)
			}
			if stats.OK != 300 {
				t.Errorf("OK = %d", stats.OK)
			}
			checkStats(t, cfg, stats, len(c.order))
		})
	}
}

func TestAdmitLimitsInfer(t *testing.T) {
	noLeaks(t)
	const n = 40
	cfg := Config{Decoders: 2, Inferers: 4, Encoders: 2}
	sem := semaphore.NewWeighted(1)
	var waiting, inside, maxInside, releases atomic.Int64
	var first atomic.Bool
	st := Stages[int, int, int]{
		Decode: func(_ context.Context, v int) (int, error) { return v, nil },
		Admit: func(ctx context.Context, _ int) (func(), error) {
			waiting.Add(1)
			defer waiting.Add(-1)
			if err := sem.Acquire(ctx, 1); err != nil {
				return nil, err
			}
			return func() { releases.Add(1); sem.Release(1) }, nil
		},
		Infer: func(_ context.Context, v int) (int, error) {
			cur := inside.Add(1)
			defer inside.Add(-1)
			for {
				old := maxInside.Load()
				if cur <= old || maxInside.CompareAndSwap(old, cur) {
					break
				}
			}
			// Hold the first admission until another worker is
			// queued behind it, so some admit wait is certain.
			if first.CompareAndSwap(false, true) {
				if !waitFor(func() bool { return waiting.Load() > 0 }) {
					t.Error("no second admission attempt")
				}
			}
			return v, nil
		},
		Encode: func(context.Context, int) error { return nil },
	}
	c := newCollector(t)
	stats, err := run(t, context.Background(), cfg, (&source{n: n}).seq(), st, c.done)
	if err != nil {
		t.Fatal(err)
	}
	if maxInside.Load() != 1 {
		t.Errorf("max concurrent Infer = %d, want 1", maxInside.Load())
	}
	if releases.Load() != n || stats.OK != n {
		t.Errorf("releases %d, OK %d, want %d", releases.Load(), stats.OK, n)
	}
	if stats.Infer.AdmitWait <= 0 || stats.Infer.MaxAdmitWait <= 0 {
		t.Errorf("admit wait not recorded: %+v", stats.Infer)
	}
	if stats.Decode.AdmitWait != 0 || stats.Encode.AdmitWait != 0 {
		t.Errorf("admit wait outside infer: %+v", stats)
	}
	checkStats(t, cfg, stats, len(c.order))
}

// An Admit blocked on a semaphore when the run is cancelled comes back with
// ctx's error; the item is cancelled, not failed.
func TestCancelWhileAdmitting(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sem := semaphore.NewWeighted(1)
	var blocked atomic.Int64
	st := Stages[int, int, int]{
		Decode: func(_ context.Context, v int) (int, error) { return v, nil },
		Admit: func(ctx context.Context, _ int) (func(), error) {
			if !sem.TryAcquire(1) {
				blocked.Add(1)
				if err := sem.Acquire(ctx, 1); err != nil {
					return nil, err
				}
			}
			return func() { sem.Release(1) }, nil
		},
		Infer:  func(ctx context.Context, v int) (int, error) { <-ctx.Done(); return 0, ctx.Err() },
		Encode: func(context.Context, int) error { return nil },
	}
	cfg := Config{Decoders: 1, Inferers: 2, Encoders: 1}
	go func() {
		if !waitFor(func() bool { return blocked.Load() > 0 }) {
			t.Error("no admission ever blocked")
		}
		cancel()
	}()
	c := newCollector(t)
	stats, err := run(t, ctx, cfg, (&source{n: 100}).seq(), st, c.done)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if stats.Failed != 0 || stats.Canceled != stats.In {
		t.Errorf("stats %+v: want all cancelled", stats)
	}
	checkStats(t, cfg, stats, len(c.order))
}

func TestIteratorPanics(t *testing.T) {
	noLeaks(t)
	items := func(yield func(int) bool) {
		for i := range 5 {
			if !yield(i) {
				return
			}
		}
		panic("source broke")
	}
	cfg := Config{Decoders: 1, Inferers: 1, Encoders: 1}
	c := newCollector(t)
	stats, err := run(t, context.Background(), cfg, items, trivial(), c.done)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "source broke" {
		t.Fatalf("Run = %v, want the iterator's panic", err)
	}
	if len(c.byKey) != 5 {
		t.Errorf("reported %d items, want the 5 pulled", len(c.byKey))
	}
	checkStats(t, cfg, stats, len(c.order))
}

func TestInvalid(t *testing.T) {
	ok := Config{Decoders: 1, Inferers: 1, Encoders: 1}
	noInfer := trivial()
	noInfer.Infer = nil
	tests := []struct {
		name  string
		cfg   Config
		st    Stages[int, string, string]
		items iter.Seq[int]
	}{
		{"zero config", Config{}, trivial(), (&source{n: 1}).seq()},
		{"no encoders", Config{Decoders: 1, Inferers: 1}, trivial(), (&source{n: 1}).seq()},
		{"negative queue", Config{Decoders: 1, Inferers: 1, Encoders: 1, Queue: -1}, trivial(), (&source{n: 1}).seq()},
		{"missing stage", ok, noInfer, (&source{n: 1}).seq()},
		{"nil items", ok, trivial(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.cfg, tc.items, tc.st, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Run = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestBottleneck(t *testing.T) {
	stage := func(workers int, busy, admit time.Duration) StageStats {
		return StageStats{Workers: workers, Busy: busy, AdmitWait: admit}
	}
	s := time.Second
	tests := []struct {
		name  string
		stats Stats
		want  Stage
	}{
		{"nothing ran", Stats{}, ""},
		{"slow decode", Stats{Wall: s, Decode: stage(1, 900*time.Millisecond, 0), Infer: stage(1, s/2, 0), Encode: stage(1, s/10, 0)}, StageDecode},
		// Infer has more busy time in total but four workers to share it.
		{"per worker", Stats{Wall: s, Decode: stage(1, 600*time.Millisecond, 0), Infer: stage(4, 2*s, 0), Encode: stage(1, 0, 0)}, StageDecode},
		{"admission counts", Stats{Wall: s, Decode: stage(1, s/2, 0), Infer: stage(2, s/2, 1200*time.Millisecond), Encode: stage(1, s/2, 0)}, StageInfer},
		{"tie goes upstream", Stats{Wall: s, Decode: stage(2, s, 0), Infer: stage(1, s/2, 0), Encode: stage(1, s/2, 0)}, StageDecode},
		{"slow encode", Stats{Wall: s, Decode: stage(1, 1, 0), Infer: stage(1, 1, 0), Encode: stage(2, s, 0)}, StageEncode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.stats.Bottleneck(); got != tc.want {
				t.Errorf("Bottleneck = %q, want %q", got, tc.want)
			}
		})
	}
}

func BenchmarkRun(b *testing.B) {
	// Trivial stages: what is measured is the pipeline's own per-item
	// cost (three channel hand-offs, timing, result delivery).
	st := Stages[int, int, int]{
		Decode: func(_ context.Context, v int) (int, error) { return v, nil },
		Infer:  func(_ context.Context, v int) (int, error) { return v, nil },
		Encode: func(context.Context, int) error { return nil },
	}
	for _, cfg := range []Config{
		{Decoders: 1, Inferers: 1, Encoders: 1},
		{Decoders: 4, Inferers: 4, Encoders: 4},
		{Decoders: 4, Inferers: 4, Encoders: 4, Queue: 64},
	} {
		b.Run(fmt.Sprintf("%d-%d-%d-q%d", cfg.Decoders, cfg.Inferers, cfg.Encoders, cfg.Queue), func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			// One Run over b.N items, so ns/op is the per-item cost.
			stats, err := Run(context.Background(), cfg, (&source{n: b.N}).seq(), st, func(Result[int]) error { n++; return nil })
			if err != nil || n != b.N || stats.OK != b.N {
				b.Fatalf("err %v, %d of %d", err, n, b.N)
			}
		})
	}
}
