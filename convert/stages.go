package convert

import (
	"context"
	"fmt"
	"image"
	"io"
	"sync/atomic"

	"animegan/imageio"
	"animegan/pipeline"
)

// StageHooks are what a caller of Stages decides about its items; the rest
// of the per-image work is convert's, the same for every caller.
type StageHooks[T any] struct {
	// Photo says which file an item is and the format its result is
	// encoded in (OutputFormatFor gives convert's rule).
	Photo func(item T) (path string, format OutputFormat)
	// Store keeps an item's result; encode writes it, in the item's
	// format, to any writer. convert writes the output file atomically;
	// profile writes to io.Discard, leaving the file write out of its
	// measurement.
	Store func(item T, encode func(io.Writer) error) error
	// Warn, if set, hears the problems met with an item that did not
	// fail it (metadata that could not be kept, a colour profile that
	// could not be applied). convert reports them with the item's result.
	Warn func(item T, msg string)
	// Tiled, if set, hears how an item that ran as tiles was tiled, once
	// its inference succeeded.
	Tiled func(item T, info TileInfo)
	// Total is how many items the run will feed: the one that starts
	// inference last gets the wide session (see Turn). 0 means an
	// open-ended run, where every inference is Steady.
	Total int
}

// InFlight carries an item through the stages: decoded, then inferred.
type InFlight[T any] struct {
	Item    T
	Format  OutputFormat
	Decoded *Decoded
	Result  *image.NRGBA
	// Meta and Colour outlive Decoded, for the encoder: the photo's
	// metadata for its output and how its colours were read.
	Meta   *imageio.Metadata
	Colour imageio.Colour
}

// Stages are convert's per-image stages on eng, for pipeline.Run: decode
// and fit to the model (keeping transparency only for formats that carry
// it), admit
// under the memory budget, infer, encode. convert and profile both run
// exactly these, so a profile measures what convert does.
func Stages[T any](eng *Engine, h StageHooks[T]) pipeline.Stages[T, *InFlight[T], *InFlight[T]] {
	left := newCountdown(h.Total)
	return pipeline.Stages[T, *InFlight[T], *InFlight[T]]{
		Decode: func(_ context.Context, item T) (*InFlight[T], error) {
			path, format := h.Photo(item)
			d, err := eng.Decode(path, format.KeepsAlpha())
			if err != nil {
				left.drop()
				return &InFlight[T]{Item: item, Format: format, Decoded: d}, err
			}
			if h.Warn != nil {
				for _, w := range d.Warnings {
					h.Warn(item, w)
				}
			}
			return &InFlight[T]{Item: item, Format: format, Decoded: d, Meta: d.Meta, Colour: d.Colour}, nil
		},
		Admit: func(ctx context.Context, f *InFlight[T]) (func(), error) {
			return eng.Admit(ctx, f.Decoded)
		},
		Infer: func(ctx context.Context, f *InFlight[T]) (*InFlight[T], error) {
			img, err := eng.Infer(ctx, f.Decoded, left.start())
			if info, ok := f.Decoded.Tiled(); ok && err == nil && h.Tiled != nil {
				h.Tiled(f.Item, info)
			}
			f.Result = img
			f.Decoded = nil // let the decoded photo go while the result is encoded
			return f, err
		},
		Encode: func(_ context.Context, f *InFlight[T]) error {
			return h.Store(f.Item, func(w io.Writer) error {
				return eng.EncodeResult(w, f.Result, f.Format, f.Meta, f.Colour, func(format string, args ...any) {
					if h.Warn != nil {
						h.Warn(f.Item, fmt.Sprintf(format, args...))
					}
				})
			})
		},
	}
}

// countdown tells the inference that starts the last photo of a run. It
// only ever overestimates what is left (a photo that fails after decoding
// still counts), so a photo it calls Last really is the last to start. A
// countdown from 0 (an open-ended run) never calls one Last.
type countdown struct{ left atomic.Int64 }

func newCountdown(n int) *countdown {
	c := &countdown{}
	c.left.Store(int64(n))
	return c
}

// drop counts a photo that will never reach inference.
func (c *countdown) drop() { c.left.Add(-1) }

// start counts a photo starting inference and says whether it is the last.
func (c *countdown) start() Turn {
	if c.left.Add(-1) == 0 {
		return Last
	}
	return Steady
}
