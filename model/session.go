package model

import (
	"context"
	"errors"
	"fmt"
	"image"
	"runtime"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// SessionOptions are the ONNX Runtime settings of one inference session.
type SessionOptions struct {
	IntraOpThreads int  // threads one Run may use; 0 lets ORT choose
	InterOpThreads int  // parallel branches; 1 for these sequential graphs
	Spinning       bool // let idle intra-op threads spin; only when they own their cores
	MemArena       bool // ORT's CPU arena: faster reuse, but RSS stays at the peak
}

// DefaultSessionOptions splits the machine's cores between workers
// inference workers. ONNX Runtime's intra-op pool assumes it owns the cores,
// so N workers x T threads must not exceed them; spinning threads steal time
// from the other workers, so spinning is on only for a single worker.
func DefaultSessionOptions(workers, cores int) SessionOptions {
	if cores < 1 {
		cores = runtime.GOMAXPROCS(0)
	}
	workers = max(1, workers)
	return SessionOptions{
		IntraOpThreads: max(1, cores/workers),
		InterOpThreads: 1,
		Spinning:       workers == 1,
		MemArena:       true,
	}
}

func (o SessionOptions) String() string {
	return fmt.Sprintf("intra-op threads %d, inter-op threads %d, spinning %s, CPU arena %s",
		o.IntraOpThreads, o.InterOpThreads, onOff(o.Spinning), onOff(o.MemArena))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Session runs one model. Run may be called from one goroutine at a time;
// the pipeline gives each inference worker its own Session, so no two
// workers contend for one session's scratch buffers.
type Session struct {
	spec *Spec
	ort  *ort.DynamicAdvancedSession
	opts SessionOptions
}

// NewSession creates an ONNX Runtime session for a model inspected by Inspect.
// This is where ONNX Runtime first reads the model: a graph it rejects
// fails here, naming the model.
func NewSession(spec *Spec, data []byte, opts SessionOptions) (*Session, error) {
	s, err := newORTSession(spec, data, nil, []string{spec.Output.Name}, opts)
	if err != nil {
		return nil, err
	}
	return &Session{spec: spec, ort: s, opts: opts}, nil
}

// newORTSession makes the ONNX Runtime session behind a Session, a Probe
// and the tile sessions: the model's image input followed by the extra
// inputs named (a tile model's statistics), the outputs named, and opts.
func newORTSession(spec *Spec, data []byte, extraInputs, outputs []string, opts SessionOptions) (*ort.DynamicAdvancedSession, error) {
	// Inspect, which no longer touches ONNX Runtime, used to load it for
	// every caller; a caller that did not Load gets the same search here.
	if _, err := Load(""); err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer so.Destroy()
	if err := applyOptions(so, opts); err != nil {
		return nil, fmt.Errorf("model %s: session options: %w", spec.Name, err)
	}
	inputs := append([]string{spec.Input.Name}, extraInputs...)
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, inputs, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("model %s: creating session: %w", spec.Name, err)
	}
	return s, nil
}

// Options are the settings the session was made with.
func (s *Session) Options() SessionOptions { return s.opts }

// Verify has ONNX Runtime load the model once and closes the session
// again, for commands that make no session of their own (inspect, the
// profile parent): Inspect reads only the file, so without this a model
// ONNX Runtime cannot load would pass them. One thread: the session never
// runs, and a thread pool per core is not worth starting for it.
func Verify(spec *Spec, data []byte) error {
	s, err := NewSession(spec, data, SessionOptions{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		return err
	}
	return s.Close()
}

func applyOptions(so *ort.SessionOptions, o SessionOptions) error {
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return err
		}
	}
	if o.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return err
		}
	}
	spin := "0"
	if o.Spinning {
		spin = "1"
	}
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", spin); err != nil {
		return err
	}
	if err := so.AddSessionConfigEntry("session.inter_op.allow_spinning", spin); err != nil {
		return err
	}
	if err := so.SetCpuMemArena(o.MemArena); err != nil {
		return err
	}
	return so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll)
}

// Close releases the session.
func (s *Session) Close() error { return s.ort.Destroy() }

// ErrCanceled is returned by Run when its context ended mid-inference.
var ErrCanceled = errors.New("inference canceled")

// Run feeds one image, already sized to the geometry Fit chose, through the
// model and returns the opaque RGB result. Cancelling ctx terminates the
// ONNX Runtime run in progress (RunOptions.Terminate), so a stuck or
// unwanted inference does not hold its worker.
func (s *Session) Run(ctx context.Context, img *image.NRGBA) (*image.NRGBA, error) {
	outputs := []ort.Value{nil} // ORT allocates: the output shape may differ
	if err := runImage(ctx, s.spec, s.ort, img, nil, outputs); err != nil {
		return nil, err
	}
	if outputs[0] != nil {
		defer outputs[0].Destroy()
	}
	return s.spec.result(outputs[0])
}

// result turns the model's image output back into an image.
func (spec *Spec) result(v ort.Value) (*image.NRGBA, error) {
	out, ok := v.(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("model %s: output %s is %T, want float32 tensor", spec.Name, spec.Output.Name, v)
	}
	res, err := unpack(out.GetData(), out.GetShape(), spec.Layout, spec.Range)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", spec.Name, err)
	}
	return res, nil
}

// runImage packs img into an input tensor (in memory mapped from the
// kernel, see floatBuffer), runs sess on it and the extra inputs, and
// fills outputs (nil entries are allocated by ONNX Runtime; the caller
// destroys every non-nil one, also on error). Cancelling ctx terminates
// the run in progress.
func runImage(ctx context.Context, spec *Spec, sess *ort.DynamicAdvancedSession, img *image.NRGBA, extra []ort.Value, outputs []ort.Value) (err error) {
	defer func() {
		if err != nil {
			for i, o := range outputs {
				if o != nil {
					o.Destroy()
					outputs[i] = nil
				}
			}
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrCanceled, err)
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	shape := ort.NewShape(1, 3, int64(h), int64(w))
	if spec.Layout == NHWC {
		shape = ort.NewShape(1, int64(h), int64(w), 3)
	}
	buf, err := newFloatBuffer(shape.FlattenedSize())
	if err != nil {
		return fmt.Errorf("input tensor %s: %w", shape, err)
	}
	defer buf.free()
	in, err := ort.NewTensor(shape, buf.data)
	if err != nil {
		return fmt.Errorf("input tensor %s: %w", shape, err)
	}
	defer in.Destroy() // before buf.free: deferred calls run last first
	pack(in.GetData(), img, spec.Layout, spec.Range)

	ro, err := ort.NewRunOptions()
	if err != nil {
		return fmt.Errorf("run options: %w", err)
	}
	defer ro.Destroy()
	// Destroying the options while Terminate runs would be a use after
	// free: if the cancel fired, wait for it before the deferred Destroy.
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

	inputs := append([]ort.Value{in}, extra...)
	if runErr := sess.RunWithOptions(inputs, outputs, ro); runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
		}
		return spec.explain(runErr, w, h)
	}
	return nil
}

// explain adds the likely fix to a failed run: a dynamic model that rejects
// a size usually needs a larger multiple (AnimeGANv3 "tiny" models want 16).
func (s *Spec) explain(err error, w, h int) error {
	msg := err.Error()
	sizeRelated := strings.Contains(msg, "broadcast") || strings.Contains(msg, "shape") ||
		strings.Contains(msg, "multiple") || strings.Contains(msg, "dimension")
	if s.Dynamic() && sizeRelated {
		return fmt.Errorf("inference at %dx%d failed: %w (if the model needs sides divisible by more than %d, try --multiple %d)",
			w, h, err, s.Multiple, 2*s.Multiple)
	}
	return fmt.Errorf("inference at %dx%d failed: %w", w, h, err)
}
