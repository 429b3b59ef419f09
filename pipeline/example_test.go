package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"animegan/pipeline"
)

func ExampleRun() {
	files := []string{"a.jpg", "b.jpg", "broken.jpg", "c.jpg"}
	st := pipeline.Stages[string, []byte, string]{
		Decode: func(_ context.Context, name string) ([]byte, error) {
			if strings.HasPrefix(name, "broken") {
				return nil, fmt.Errorf("%s: not a JPEG", name)
			}
			return []byte(name), nil
		},
		Infer: func(_ context.Context, img []byte) (string, error) {
			return strings.ToUpper(string(img)), nil
		},
		Encode: func(context.Context, string) error { return nil },
	}
	cfg := pipeline.Config{Decoders: 2, Inferers: 1, Encoders: 2}

	var failed []string // done runs on one goroutine: no lock needed
	stats, err := pipeline.Run(context.Background(), cfg, slices.Values(files), st,
		func(r pipeline.Result[string]) error {
			if r.Err != nil {
				failed = append(failed, r.Err.Error())
			}
			return nil
		})
	fmt.Println(err, stats.In, stats.OK, stats.Failed, stats.Canceled)
	fmt.Println(failed)
	// Output:
	// <nil> 4 3 1 0
	// [decode: broken.jpg: not a JPEG]
}
