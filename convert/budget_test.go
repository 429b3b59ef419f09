package convert

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBudgetAdmits(t *testing.T) {
	cost := CostModel{Base: 100, PerPixel: 1}
	cases := []struct {
		name     string
		limit    int64
		pixels   []int64
		wantPeak int // most admitted at once when all ask together
	}{
		{"all fit", 10_000, []int64{900, 900, 900, 900}, 4},
		{"two at a time", 2_000, []int64{900, 900, 900, 900}, 2},
		{"one at a time", 1_500, []int64{900, 900, 900}, 1},
		{"larger than the budget runs alone", 500, []int64{5_000, 100}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBudget(tc.limit, "test", cost)
			var inFlight, peak atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, px := range tc.pixels {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					release, err := b.Acquire(context.Background(), px)
					if err != nil {
						t.Error(err)
						return
					}
					n := inFlight.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(20 * time.Millisecond) // hold it so others must wait or join
					inFlight.Add(-1)
					release()
					release() // a second release is harmless
				}()
			}
			close(start)
			wg.Wait()
			if int(peak.Load()) > tc.wantPeak {
				t.Fatalf("peak %d admitted at once, want at most %d", peak.Load(), tc.wantPeak)
			}
			st := b.Stats()
			if st.PeakConcurrency > tc.wantPeak || st.PeakBytes > tc.limit {
				t.Fatalf("stats %+v exceed the budget", st)
			}
		})
	}
}

func TestBudgetCancel(t *testing.T) {
	b := newBudget(1000, "test", CostModel{PerPixel: 1})
	release, err := b.Acquire(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Acquire(ctx, 10); err == nil {
		t.Fatal("a cancelled wait must fail")
	}
	release()
	if _, err := b.Acquire(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
}
