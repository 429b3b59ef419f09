package modelgen

import (
	"image"
	"image/color"
	"math"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/internal/ortest"
)

// session is a real ORT session over one model.
type session struct {
	s       *ort.DynamicAdvancedSession
	in, out []string
}

func newSession(t testing.TB, model []byte, threads int) *session {
	t.Helper()
	ortest.Init(t)
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		t.Fatalf("io info: %v", err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			t.Fatal(err)
		}
		if err := opts.SetInterOpNumThreads(1); err != nil {
			t.Fatal(err)
		}
	}
	var in, out []string
	for _, i := range ins {
		in = append(in, i.Name)
	}
	for _, o := range outs {
		out = append(out, o.Name)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, in, out, opts)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &session{s: s, in: in, out: out}
}

// run feeds one float32 tensor and returns the first output.
func (s *session) run(x []float32, shape ...int64) ([]float32, []int64, error) {
	in, err := ort.NewTensor(ort.NewShape(shape...), x)
	if err != nil {
		return nil, nil, err
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(s.out))
	if err := s.s.Run([]ort.Value{in}, outs); err != nil {
		return nil, nil, err
	}
	defer func() {
		for _, o := range outs {
			o.Destroy()
		}
	}()
	y, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, errNotFloat
	}
	return append([]float32(nil), y.GetData()...), append([]int64(nil), y.GetShape()...), nil
}

type testError string

func (e testError) Error() string { return string(e) }

const errNotFloat = testError("output is not float32")

// nhwcFromImage converts an image to NHWC [1,H,W,3] in [-1,1].
func nhwcFromImage(img image.Image) ([]float32, int, int) {
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	x := make([]float32, h*w*3)
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			r, g, bb, _ := img.At(b.Min.X+j, b.Min.Y+i).RGBA()
			k := (i*w + j) * 3
			x[k] = float32(r)/32767.5 - 1
			x[k+1] = float32(g)/32767.5 - 1
			x[k+2] = float32(bb)/32767.5 - 1
		}
	}
	return x, h, w
}

func to8(v float32) uint8 {
	f := math.Round(float64(v+1) * 127.5)
	return uint8(math.Max(0, math.Min(255, f)))
}

// imageFromNHWC converts NHWC [1,H,W,3] in [-1,1] to an RGBA image.
func imageFromNHWC(x []float32, h, w int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			k := (i*w + j) * 3
			img.Set(j, i, color.RGBA{to8(x[k]), to8(x[k+1]), to8(x[k+2]), 255})
		}
	}
	return img
}
