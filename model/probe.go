package model

import (
	"context"
	"fmt"
	"image"

	ort "github.com/yalue/onnxruntime_go"
)

// Probe runs a model and hands its caller the values of chosen tensors
// inside it, as calibration needs them. The tensors must be outputs of
// the graph given (the caller adds them); they are read one run at a time
// and released before Run returns.
type Probe struct {
	spec  *Spec
	ort   *ort.DynamicAdvancedSession
	names []string
}

// NewProbe makes a session over data (spec's model with the tensors in
// names exposed as extra outputs).
func NewProbe(spec *Spec, data []byte, names []string, opts SessionOptions) (*Probe, error) {
	s, err := newORTSession(spec, data, nil, names, opts)
	if err != nil {
		return nil, err
	}
	return &Probe{spec: spec, ort: s, names: names}, nil
}

// Close releases the session.
func (p *Probe) Close() error { return p.ort.Destroy() }

// Run feeds one image, packed exactly as Session.Run packs it, and calls
// fn with each probed tensor's values in the order of names. Cancelling
// ctx stops the run in progress.
func (p *Probe) Run(ctx context.Context, img *image.NRGBA, fn func(i int, values []float32) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrCanceled, err)
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	shape := ort.NewShape(1, 3, int64(h), int64(w))
	if p.spec.Layout == NHWC {
		shape = ort.NewShape(1, int64(h), int64(w), 3)
	}
	in, err := ort.NewEmptyTensor[float32](shape)
	if err != nil {
		return fmt.Errorf("input tensor %s: %w", shape, err)
	}
	defer in.Destroy()
	pack(in.GetData(), img, p.spec.Layout, p.spec.Range)
	ro, err := ort.NewRunOptions()
	if err != nil {
		return fmt.Errorf("run options: %w", err)
	}
	defer ro.Destroy()
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		ro.Terminate()
		close(terminated)
	})
	defer func() {
		if !stop() {
			<-terminated
		}
	}()
	outputs := make([]ort.Value, len(p.names))
	runErr := p.ort.RunWithOptions([]ort.Value{in}, outputs, ro)
	defer func() {
		for _, o := range outputs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
		}
		return fmt.Errorf("inference at %dx%d failed: %w", w, h, runErr)
	}
	for i, o := range outputs {
		t, ok := o.(*ort.Tensor[float32])
		if !ok {
			return fmt.Errorf("model %s: tensor %s is %T, want float32", p.spec.Name, p.names[i], o)
		}
		if err := fn(i, t.GetData()); err != nil {
			return err
		}
	}
	return nil
}
