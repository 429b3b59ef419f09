package tilegraph

import (
	"fmt"
	"image"
	"math"
	"slices"

	"animegan/onnxgraph"
)

// Resample is a Resize whose sampling positions depend on the size of the
// whole image, which the tile model therefore samples at the whole
// image's coordinates.
//
// With coordinate_transformation_mode=align_corners (what PyTorch's
// interpolate(..., align_corners=True) exports, as in AnimeGANv2's two
// upsamplings) output pixel j of an L_out-pixel axis reads input position
// j·(L_in-1)/(L_out-1): the factor depends on the length, so a tile reads
// at its own factor and the whole image at the image's. Measured on the
// trained AnimeGANv2 (1024x768, 512 px tiles, exact statistics) this
// misregistration of the upsampled features, up to half a low-resolution
// pixel all over each tile, left tiles 33.9 dB from the untiled result;
// the same model rewritten to half_pixel tiled to 70.9 dB, and with the
// region of interest below to 71.2 dB (README "How a model is tiled").
//
// The tile model pads the Resize's input by one pixel on each image side
// (edge mode: the clamping align_corners does at the image's own edge)
// and switches it to tf_crop_and_resize with a region of interest, a
// graph input set per tile by ROI, that puts each output pixel where the
// whole image's Resize would read it. The modes that do not depend on the
// length (half_pixel, asymmetric, pytorch_half_pixel) need nothing: with
// tile origins on the model's multiple (tiling.NewGrid) a tile reads what
// the whole image reads.
type Resample struct {
	Node  string // the Resize node's name
	Input string // the tile model's region-of-interest input
	Rank  int    // the Resize input's rank (the region has 2·Rank values)
	Axes  []ResampleAxis
}

// ResampleAxis is one image axis of a Resample's input.
type ResampleAxis struct {
	Axis     int     // the tensor axis
	Vertical bool    // grows with the image's height (else its width)
	In, Out  float64 // input pixels per step of the Resize's input and of its output
}

// ROI is the region of interest the tile model's Resize needs for the
// tile r of an image of the given size (both in input pixels): for each
// image axis the start and end, as fractions of the padded input, of the
// line through the whole image's sampling positions over the tile's
// output. r and the image's size must be whole steps of both levels (a
// tile at a multiple of the model's size multiple is).
func (s *Resample) ROI(r image.Rectangle, size image.Point) ([]float32, error) {
	roi := make([]float64, 2*s.Rank)
	for i := range s.Rank {
		roi[s.Rank+i] = 1
	}
	for _, ax := range s.Axes {
		n, x, l := size.X, r.Min.X, r.Dx()
		if ax.Vertical {
			n, x, l = size.Y, r.Min.Y, r.Dy()
		}
		level := func(px int, step float64) (float64, error) {
			v := float64(px) / step
			if v != math.Trunc(v) {
				return 0, fmt.Errorf("Resize node %q: %d px is not a whole number of its %g px steps", s.Node, px, step)
			}
			return v, nil
		}
		var v [6]float64
		var err error
		for k, q := range []struct {
			px   int
			step float64
		}{{n, ax.In}, {n, ax.Out}, {x, ax.In}, {x, ax.Out}, {l, ax.In}, {l, ax.Out}} {
			if v[k], err = level(q.px, q.step); err != nil {
				return nil, err
			}
		}
		// lIn counts the pad: at least 2.
		nIn, nOut, pIn, pOut, lIn, lOut := v[0], v[1], v[2], v[3], v[4]+2, v[5]
		// align_corners' factor for the whole image
		factor := 0.0
		if nOut > 1 {
			factor = (nIn - 1) / (nOut - 1)
		}
		// Local padded position of output pixel j: the whole image's
		// (pOut+j)·factor, less the tile's input origin, plus the pad.
		off := pOut*factor - pIn + 1
		start, end := off/(lIn-1), off/(lIn-1)
		if lOut > 1 {
			end = start + factor*(lOut-1)/(lIn-1)
		}
		roi[ax.Axis], roi[s.Rank+ax.Axis] = start, end
	}
	out := make([]float32, len(roi))
	for i, v := range roi {
		out[i] = float32(v)
	}
	return out, nil
}

// resample records an align_corners Resize of the image (see Resample),
// or refuses one that crops by a fraction of the image.
func (a *analysis) resample(n *onnxgraph.Node, x, out *value) {
	if n.OpType != "Resize" || a.opset < 11 || !x.img || !x.spatial() {
		return
	}
	switch attrString(n, "coordinate_transformation_mode", "half_pixel") {
	case "tf_crop_and_resize":
		a.refuse("Resize node %q crops a fraction of the image (tf_crop_and_resize)", nodeName(n))
		return
	case "align_corners":
	default:
		return
	}
	r := &resample{node: n, Resample: Resample{Node: nodeName(n), Rank: len(x.dims)}}
	for i, d := range x.dims {
		if d.sp == 0 {
			continue
		}
		if d.sp != spH && d.sp != spW || d.jump <= 0 || i >= len(out.dims) || out.dims[i].jump <= 0 {
			a.refuse("Resize node %q samples with align_corners along an axis the analysis cannot place in the image", nodeName(n))
			return
		}
		r.Axes = append(r.Axes, ResampleAxis{Axis: i, Vertical: d.sp == spH, In: d.jump, Out: out.dims[i].jump})
	}
	a.resamples = append(a.resamples, r)
}

// resample is a Resample with its node.
type resample struct {
	Resample
	node *onnxgraph.Node
}

// rewriteResample is the nodes that replace r's Resize n in the tile
// model: its input padded by one pixel per image side, and the Resize in
// tf_crop_and_resize mode with the region of interest from graph input
// roi, to the size the original would give.
func rewriteResample(g *onnxgraph.Graph, opset int64, r *resample, n *onnxgraph.Node, roi string) []*onnxgraph.Node {
	nodes := capture(g, func() {
		pads := make([]int64, 2*r.Rank)
		for _, ax := range r.Axes {
			pads[ax.Axis], pads[r.Rank+ax.Axis] = 1, 1
		}
		x := n.Inputs[0]
		padded := g.Op("Pad", []string{x, g.Vec(pads...)}, onnxgraph.String("mode", "edge"))
		in := func(i int) string {
			if i < len(n.Inputs) {
				return n.Inputs[i]
			}
			return ""
		}
		scales, sizes := in(2), in(3)
		if sizes == "" && scales != "" {
			// The padded input would scale to a larger size: the
			// original's size, floor(L·scale), as sizes instead.
			shape := g.Op("Cast", []string{g.Op("Shape", []string{x})}, onnxgraph.Int("to", int64(onnxgraph.Float)))
			sizes = g.Op("Cast", []string{g.Op("Floor", []string{g.Op("Mul", []string{shape, scales})})}, onnxgraph.Int("to", int64(onnxgraph.Int64)))
			scales = ""
			if opset < 13 { // scales is a required input before opset 13: empty
				scales = g.Floats([]int64{0})
			}
		}
		attrs := slices.Clone(n.Attrs)
		for i := range attrs {
			if attrs[i].Name == "coordinate_transformation_mode" {
				attrs[i] = onnxgraph.String("coordinate_transformation_mode", "tf_crop_and_resize")
			}
		}
		g.Op("Resize", []string{padded, roi, scales, sizes}, attrs...)
	})
	// Node names must be unique too, and the builder only knows the
	// graph's value names: name them after the node they replace.
	for i, m := range nodes {
		m.Name = fmt.Sprintf("%s/tile_%s_%d", nodeName(n), m.OpType, i)
	}
	return nodes
}
