package modelgen

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"animegan/model/builtin"
)

// sharedModel is the PyTorch export of the same architecture beside the
// checkout (read-only reference; absent on users' machines).
func sharedModel(layout Layout) string {
	return filepath.Join("..", "..", "shared", "models", "animeganv2-arch-"+layout.String()+".onnx")
}

// BenchmarkAnimeGANv2 times our generated AnimeGANv2 against the shared
// PyTorch export at 512x512, 2 intra-op threads, alternating runs, and
// reports both times and their ratio (ours/shared), by mean and by
// fastest run. Without ../shared it times ours alone.
//
//	go test ./modelgen -run '^$' -bench AnimeGANv2 -benchtime 3x
func BenchmarkAnimeGANv2(b *testing.B) {
	for _, layout := range []Layout{NCHW, NHWC} {
		b.Run(layout.String(), func(b *testing.B) {
			ours, err := AnimeGANv2(layout, 1)
			if err != nil {
				b.Fatal(err)
			}
			sessions := []*session{newSession(b, ours, 2)}
			if ref, err := os.ReadFile(sharedModel(layout)); err == nil {
				sessions = append(sessions, newSession(b, ref, 2))
			} else {
				b.Logf("no shared reference model: %v", err)
			}
			x, shape := imageInput(layout, Signed, 1, 512, 512, 1)
			for _, s := range sessions { // warm up
				if _, _, err := s.run(x, shape...); err != nil {
					b.Fatal(err)
				}
			}
			total := make([]time.Duration, len(sessions))
			best := make([]time.Duration, len(sessions))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k, s := range sessions {
					t0 := time.Now()
					if _, _, err := s.run(x, shape...); err != nil {
						b.Fatal(err)
					}
					d := time.Since(t0)
					total[k] += d
					if best[k] == 0 || d < best[k] {
						best[k] = d
					}
				}
			}
			b.StopTimer()
			ourS := total[0].Seconds() / float64(b.N)
			b.ReportMetric(ourS, "ours-s/img")
			if len(sessions) == 2 {
				refS := total[1].Seconds() / float64(b.N)
				b.ReportMetric(refS, "shared-s/img")
				b.ReportMetric(ourS/refS, "ratio")
				// The fastest run of each is the least disturbed by other
				// load on the machine; its ratio is the steadier figure.
				b.ReportMetric(best[0].Seconds()/best[1].Seconds(), "min-ratio")
				b.Logf("%v 512x512: mean ours %.3f s, shared %.3f s, ratio %.3f; fastest ours %.3f s, shared %.3f s, ratio %.3f",
					layout, ourS, refS, ourS/refS, best[0].Seconds(), best[1].Seconds(), best[0].Seconds()/best[1].Seconds())
			}
		})
	}
}

// BenchmarkCartoon times the built-in model at 512x512 on 2 threads.
func BenchmarkCartoon(b *testing.B) {
	s := newSession(b, builtin.Cartoon, 2)
	x, _ := photoLike(512, 512)
	if _, _, err := s.run(x, 1, 512, 512, 3); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.run(x, 1, 512, 512, 3); err != nil {
			b.Fatal(err)
		}
	}
}
