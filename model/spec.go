// Package model runs image-to-image ONNX models (AnimeGAN and its kin) with
// ONNX Runtime. It reads a model's conventions from the model itself, turns
// images into the tensors the model wants and back, and knows nothing of
// files or of the command line: callers hand it bytes and images.
package model

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/onnxgraph"
)

// Layout is where a model keeps the colour channels.
type Layout int

const (
	NCHW Layout = iota + 1 // PyTorch exports: [n,3,h,w]
	NHWC                   // TensorFlow exports and AnimeGANv3: [n,h,w,3]
)

func (l Layout) String() string {
	switch l {
	case NCHW:
		return "NCHW"
	case NHWC:
		return "NHWC"
	}
	return "unknown"
}

// Range is the pixel value range a model reads and writes.
type Range int

const (
	// RangeAuto takes the range from the model's metadata (animegan.range),
	// else [-1,1], which every published AnimeGAN export uses.
	RangeAuto   Range = iota
	RangeSigned       // [-1,1]: x/127.5 - 1
	RangeUnit         // [0,1]: x/255, repackaged zoo models
)

func (r Range) String() string {
	switch r {
	case RangeSigned:
		return "[-1,1]"
	case RangeUnit:
		return "[0,1]"
	}
	return "auto"
}

// ParseRange reads a --range flag value.
func ParseRange(s string) (Range, error) {
	switch strings.TrimSpace(s) {
	case "", "auto":
		return RangeAuto, nil
	case "-1,1", "[-1,1]", "signed", "tanh":
		return RangeSigned, nil
	case "0,1", "[0,1]", "unit":
		return RangeUnit, nil
	}
	return RangeAuto, fmt.Errorf("range %q: want auto, -1,1 or 0,1", s)
}

// DefaultMultiple is the side multiple used for dynamic models that do not
// say otherwise: AnimeGANv3 needs 8, and 8 also satisfies AnimeGANv2's
// two stride-2 stages.
const DefaultMultiple = 8

// Metadata keys the project's own models carry (and users may add to theirs).
const (
	MetaRange    = "animegan.range"
	MetaMultiple = "animegan.multiple"
)

// Tensor describes one model input or output as ONNX Runtime reports it.
type Tensor struct {
	Name     string
	Shape    []int64 // -1 for a dynamic dimension
	DataType string
}

// Spec is what was detected about a model, plus the choices that follow from
// it. It is plain data, printed by `animegan inspect`.
type Spec struct {
	Name     string // how the user named the model (a path or "built-in")
	Input    Tensor
	Output   Tensor
	Layout   Layout
	FixedH   int   // >0 when the model only takes one height
	FixedW   int   // >0 when the model only takes one width
	Batch    int64 // -1 dynamic, else fixed (must be 1)
	Multiple int   // sides are floored to a multiple of this when dynamic
	Range    Range
	// Where Range and Multiple came from: "metadata", "flag" or "default".
	RangeSource, MultipleSource string

	IRVersion       int64
	Opsets          []Opset
	Producer        string
	ProducerVersion string
	GraphName       string
	Description     string
	Domain          string
	ModelVersion    int64
	Custom          []KeyValue // model metadata_props, sorted by key

	Initializers    int
	Parameters      int64
	WeightBytes     int64
	ExternalWeights bool
	// Quantization is how the model's weights are quantised ("int8 (QDQ)"),
	// "" for a floating-point model.
	Quantization string

	// ResizeMaxPixels is the largest model input, in pixels, that ONNX
	// Runtime's CPU Resize kernel survives in this graph (see
	// resizeChannelOffsetLimit); 0 when no Resize could be traced.
	ResizeMaxPixels int64

	// Tiling says whether and how the model can run tile by tile.
	Tiling *Tiling
}

// KeyValue is one metadata entry.
type KeyValue struct{ Key, Value string }

// Dynamic reports whether the model takes any image size.
func (s *Spec) Dynamic() bool { return s.FixedH == 0 && s.FixedW == 0 }

// Overrides are the user's answers to what a model file cannot say.
type Overrides struct {
	Range    Range // RangeAuto: metadata, else [-1,1]
	Multiple int   // 0: metadata, else DefaultMultiple
}

// InvalidModelError says why a model cannot be used as an image-to-image model.
type InvalidModelError struct {
	Model  string
	Reason string
}

func (e *InvalidModelError) Error() string {
	return fmt.Sprintf("model %s: %s", e.Model, e.Reason)
}

// ErrInvalidModel matches every *InvalidModelError with errors.Is.
var ErrInvalidModel = errors.New("invalid model")

func (e *InvalidModelError) Is(target error) bool { return target == ErrInvalidModel }

// Inspect reads the model's inputs, outputs and metadata from the file and
// detects its conventions: one float32 image input, one 3-channel image
// output, with the channel axis telling NCHW from NHWC. It reads the
// protobuf itself rather than asking ONNX Runtime, which would build a
// whole session to answer, so a graph ONNX Runtime rejects (an unknown
// operator, mismatched types) passes here and fails in NewSession, or in
// Verify for a command that makes no session of its own.
func Inspect(name string, data []byte, ov Overrides) (*Spec, error) {
	m, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return nil, &InvalidModelError{name, "cannot read it as an ONNX model (truncated, or not ONNX?): " + err.Error()}
	}
	g := graphIOOf(m.Graph)
	ins, outs := g.Inputs, g.Outputs
	if len(outs) > 0 && !g.Shaped[0] {
		// Only ONNX Runtime's shape inference can say what the image
		// output looks like: ask it, the slow way.
		if ins, outs, err = runtimeIO(name, data); err != nil {
			return nil, err
		}
	}
	return inspect(name, m, ins, outs, ov)
}

// inspect is Inspect once the inputs and outputs are known.
func inspect(name string, m *onnxgraph.Info, ins, outs []ort.InputOutputInfo, ov Overrides) (*Spec, error) {
	spec := &Spec{Name: name}
	if err := spec.detect(ins, outs); err != nil {
		return nil, err
	}
	facts := factsOf(m)
	spec.IRVersion, spec.Opsets = facts.IRVersion, facts.Opsets
	spec.Producer, spec.ProducerVersion = facts.Producer, facts.ProducerVersion
	spec.Initializers, spec.Parameters = facts.Initializers, facts.Parameters
	spec.WeightBytes, spec.ExternalWeights = facts.WeightBytes, facts.ExternalWeights
	spec.GraphName, spec.Description, spec.Domain = facts.GraphName, facts.DocString, facts.Domain
	spec.ModelVersion, spec.Custom = facts.ModelVersion, facts.Metadata
	spec.Quantization = facts.Quantization
	spec.ResizeMaxPixels = resizeMaxPixelsOf(m.Graph, spec.Input.Name)
	slices.SortFunc(spec.Custom, func(a, b KeyValue) int { return strings.Compare(a.Key, b.Key) })
	if err := spec.choose(ov); err != nil {
		return nil, err
	}
	spec.Tiling = tilingOf(m, spec.Multiple)
	return spec, nil
}

// runtimeIO has ONNX Runtime read the model's inputs and outputs, which
// it does by building a temporary session.
func runtimeIO(name string, data []byte) (ins, outs []ort.InputOutputInfo, err error) {
	if _, err := Load(""); err != nil {
		return nil, nil, err
	}
	ins, outs, err = ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, nil, &InvalidModelError{name, "ONNX Runtime cannot read it: " + err.Error()}
	}
	return ins, outs, nil
}

func tensorOf(info ort.InputOutputInfo) Tensor {
	return Tensor{Name: info.Name, Shape: append([]int64(nil), info.Dimensions...), DataType: dataTypeName(info.DataType)}
}

// dataTypeName turns ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT into "float32".
func dataTypeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeDouble:
		return "float64"
	case ort.TensorElementDataTypeFloat16:
		return "float16"
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "ONNX_TENSOR_ELEMENT_DATA_TYPE_"))
}

// kindOf says what a value is, for errors: a tensor's element type, else
// the kind of non-tensor value.
func kindOf(info ort.InputOutputInfo) string {
	switch info.OrtValueType {
	case ort.ONNXTypeTensor:
		return dataTypeName(info.DataType)
	case ort.ONNXTypeSparseTensor:
		return "a sparse " + dataTypeName(info.DataType) + " tensor"
	case ort.ONNXTypeSequence:
		return "a sequence"
	case ort.ONNXTypeMap:
		return "a map"
	case ort.ONNXTypeOptional:
		return "an optional"
	case ort.ONNXTypeOpaque:
		return "an opaque value"
	case ort.ONNXTypeUnknown:
		return "untyped"
	}
	return info.OrtValueType.String()
}

func describe(infos []ort.InputOutputInfo) string {
	parts := make([]string, len(infos))
	for i, in := range infos {
		if in.OrtValueType == ort.ONNXTypeTensor {
			parts[i] = fmt.Sprintf("%s %s %s", in.Name, dataTypeName(in.DataType), shapeString(in.Dimensions))
		} else {
			parts[i] = fmt.Sprintf("%s (%s)", in.Name, kindOf(in))
		}
	}
	return strings.Join(parts, ", ")
}

func shapeString(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (s *Spec) detect(ins, outs []ort.InputOutputInfo) error {
	bad := func(format string, args ...any) error {
		return &InvalidModelError{s.Name, fmt.Sprintf(format, args...)}
	}
	if len(ins) != 1 {
		return bad("want exactly one image input, found %d: %s", len(ins), describe(ins))
	}
	if len(outs) < 1 {
		return bad("has no outputs")
	}
	in, out := ins[0], outs[0]
	if in.OrtValueType != ort.ONNXTypeTensor || in.DataType != ort.TensorElementDataTypeFloat {
		return bad("input %s is %s, want a float32 image tensor", in.Name, kindOf(in))
	}
	if len(in.Dimensions) != 4 {
		return bad("input %s has shape %s, want 4 dimensions (NCHW or NHWC)", in.Name, shapeString(in.Dimensions))
	}
	d := in.Dimensions
	switch {
	case d[1] == 3 && d[3] != 3:
		s.Layout = NCHW
	case d[3] == 3 && d[1] != 3:
		s.Layout = NHWC
	case d[1] == 3 && d[3] == 3:
		// A 3x3 image is no photo model; the channel axis of a real model
		// is the one that is 3 while the other spatial side is not.
		return bad("input %s has shape %s: cannot tell the channel axis", in.Name, shapeString(d))
	default:
		return bad("input %s has shape %s: no axis of 3 colour channels (found %s)", in.Name, shapeString(d), channelWord(d))
	}
	if out.OrtValueType != ort.ONNXTypeTensor || out.DataType != ort.TensorElementDataTypeFloat {
		return bad("output %s is %s, want a float32 image tensor", out.Name, kindOf(out))
	}
	if len(out.Dimensions) != 4 {
		return bad("output %s has shape %s, want 4 dimensions", out.Name, shapeString(out.Dimensions))
	}
	ch := out.Dimensions[1]
	if s.Layout == NHWC {
		ch = out.Dimensions[3]
	}
	if ch != 3 && ch >= 0 {
		return bad("output %s has shape %s: %d channels on the %s channel axis, want 3", out.Name, shapeString(out.Dimensions), ch, s.Layout)
	}
	s.Input, s.Output = tensorOf(in), tensorOf(out)
	s.Batch = d[0]
	if s.Batch > 1 {
		return bad("input %s has a fixed batch of %d; only batch 1 or dynamic is supported", in.Name, s.Batch)
	}
	h, w := d[2], d[3]
	if s.Layout == NHWC {
		h, w = d[1], d[2]
	}
	if (h > 0) != (w > 0) {
		return bad("input %s has shape %s: one side fixed and one dynamic is not supported", in.Name, shapeString(d))
	}
	if h > 0 {
		s.FixedH, s.FixedW = int(h), int(w)
	}
	return nil
}

func channelWord(d []int64) string {
	if d[1] == 1 || d[3] == 1 {
		return "1 channel"
	}
	if d[1] < 0 && d[3] < 0 {
		return "both candidate axes dynamic"
	}
	return "no 3-channel axis"
}

func (s *Spec) meta(key string) (string, bool) {
	for _, kv := range s.Custom {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// choose settles range and multiple: the user's flag wins, then the model's
// own metadata, then the family default.
func (s *Spec) choose(ov Overrides) error {
	s.Range, s.RangeSource = RangeSigned, "default"
	if v, ok := s.meta(MetaRange); ok {
		r, err := ParseRange(v)
		if err != nil {
			return &InvalidModelError{s.Name, "metadata " + MetaRange + ": " + err.Error()}
		}
		if r != RangeAuto {
			s.Range, s.RangeSource = r, "metadata"
		}
	}
	if ov.Range != RangeAuto {
		s.Range, s.RangeSource = ov.Range, "flag"
	}

	s.Multiple, s.MultipleSource = DefaultMultiple, "default"
	if v, ok := s.meta(MetaMultiple); ok {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 {
			return &InvalidModelError{s.Name, fmt.Sprintf("metadata %s=%q is not a positive integer", MetaMultiple, v)}
		}
		s.Multiple, s.MultipleSource = m, "metadata"
	}
	if ov.Multiple > 0 {
		s.Multiple, s.MultipleSource = ov.Multiple, "flag"
	}
	return nil
}
