package tilegraph

import (
	"math"

	"animegan/onnxgraph"
)

// Axes along which a value's size follows the image's height or width.
const (
	spH uint8 = 1 << iota
	spW
)

// dim is one axis of a value, or one element of a shape vector: its size
// when known (c >= 0), which image sides it grows with (sp), and how many
// input pixels one step along it spans (jump, 0 when not an image axis or
// unknown). An axis that merges several (a Reshape to [N,1,-1]) carries
// the union of their sides.
type dim struct {
	c    int64
	sp   uint8
	jump float64
}

// unk marks a size or element that is not known.
const unk = math.MinInt64

// value is what the analysis knows of one tensor.
type value struct {
	// dims is the shape; nil when the rank is unknown.
	dims []dim
	// img: the value depends on the image's pixels (not only on its size).
	img bool
	// ints holds the elements of a small integer tensor (a shape, axes,
	// sizes) when they can be followed; nil otherwise. A scalar has one
	// element and rank 0.
	ints []dim
	// floats holds a small constant float tensor's values (Resize scales).
	floats []float32
	// rf is the receptive field along each image side, in input pixels:
	// how many input pixels one element of this value depends on.
	rf float64
	// rfUnknown: some operator on the path could not be traced.
	rfUnknown bool
}

// spatial reports whether any axis grows with the image.
func (v *value) spatial() bool {
	for _, d := range v.dims {
		if d.sp != 0 {
			return true
		}
	}
	return false
}

// jump is the input pixels per step of the value's image axes (the largest
// over them), 1 for a value without one.
func (v *value) jump() float64 {
	j := 0.0
	for _, d := range v.dims {
		if d.sp != 0 && d.jump > j {
			j = d.jump
		}
	}
	if j == 0 {
		return 1
	}
	return j
}

// imageAxes lists the axes of v that grow with the image.
func (v *value) imageAxes() []int {
	var axes []int
	for i, d := range v.dims {
		if d.sp != 0 {
			axes = append(axes, i)
		}
	}
	return axes
}

// constValue turns an initializer or Constant tensor into a value.
func constValue(t *onnxgraph.Tensor) *value {
	v := &value{dims: make([]dim, len(t.Dims)), rf: 1}
	for i, d := range t.Dims {
		v.dims[i] = dim{c: d}
	}
	n := t.Len()
	if n > 64 || t.External {
		return v
	}
	switch t.DType {
	case onnxgraph.Int64, onnxgraph.Int32:
		for _, x := range tensorInts(t) {
			v.ints = append(v.ints, dim{c: x})
		}
		if int64(len(v.ints)) != n {
			v.ints = nil
		}
	case onnxgraph.Float:
		if f, err := t.Float32s(); err == nil && int64(len(f)) == n {
			v.floats = f
		}
	}
	return v
}

// tensorInts decodes an int64 or int32 tensor.
func tensorInts(t *onnxgraph.Tensor) []int64 {
	if t.Int64s != nil {
		return t.Int64s
	}
	var out []int64
	switch t.DType {
	case onnxgraph.Int64:
		for i := 0; i+8 <= len(t.Raw); i += 8 {
			var x uint64
			for b := 7; b >= 0; b-- {
				x = x<<8 | uint64(t.Raw[i+b])
			}
			out = append(out, int64(x))
		}
	case onnxgraph.Int32:
		for i := 0; i+4 <= len(t.Raw); i += 4 {
			x := uint32(t.Raw[i]) | uint32(t.Raw[i+1])<<8 | uint32(t.Raw[i+2])<<16 | uint32(t.Raw[i+3])<<24
			out = append(out, int64(int32(x)))
		}
	}
	return out
}

// broadcast is the shape of an elementwise result (numpy rules), nil when
// an operand's rank is unknown.
func broadcast(vs ...*value) []dim {
	rank := 0
	for _, v := range vs {
		if v.dims == nil {
			return nil
		}
		rank = max(rank, len(v.dims))
	}
	out := make([]dim, rank)
	for i := range out {
		out[i] = dim{c: 1}
	}
	for _, v := range vs {
		off := rank - len(v.dims)
		for i, d := range v.dims {
			o := &out[off+i]
			sp, j := o.sp|d.sp, max(o.jump, d.jump)
			if (d.sp != 0 && o.sp == 0) || (o.sp == 0 && o.c == 1) {
				*o = d
			}
			o.sp, o.jump = sp, j
		}
	}
	return out
}

// arith combines two shape elements for Add/Sub/Mul/Div on shape vectors.
func arith(op string, a, b dim) dim {
	r := dim{c: -1, sp: a.sp | b.sp}
	if a.c != unk && b.c != unk {
		switch op {
		case "Add":
			r.c = a.c + b.c
		case "Sub":
			r.c = a.c - b.c
		case "Mul":
			r.c = a.c * b.c
		case "Div":
			if b.c != 0 {
				r.c = a.c / b.c
			}
		}
	}
	// An image side divided or multiplied by a constant keeps a known
	// pixel step: H/4 steps 4 pixels of H.
	switch {
	case a.sp != 0 && b.sp == 0 && b.c > 0 && a.jump > 0:
		switch op {
		case "Mul":
			r.jump = a.jump / float64(b.c)
		case "Div":
			r.jump = a.jump * float64(b.c)
		case "Add", "Sub":
			r.jump = a.jump
		}
	case b.sp != 0 && a.sp == 0 && a.c > 0 && b.jump > 0 && op == "Mul":
		r.jump = b.jump / float64(a.c)
	}
	return r
}

// normAxis turns a possibly negative axis into an index, -1 when out of
// range.
func normAxis(a int64, rank int) int {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return -1
	}
	return int(a)
}

// bigEnd reports whether a Slice end means "to the end" (INT_MAX-style).
func bigEnd(e int64) bool { return e >= math.MaxInt32 }
