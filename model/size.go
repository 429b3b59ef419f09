package model

import "fmt"

// Geometry is how one image passes through the model.
type Geometry struct {
	// ScaledW, ScaledH: the image after --max-size, aspect ratio kept.
	ScaledW, ScaledH int
	// ModelW, ModelH: what is fed to the model — the fixed size of a fixed
	// model, else the scaled size floored to the model's multiple.
	ModelW, ModelH int
}

// Fit decides the geometry for a w x h image whose longest side may be at
// most maxSide (0: no limit). Images are never upscaled to reach maxSide.
// A side that would fall below one multiple is raised to it, so a 4000x3
// strip still yields a valid (if stretched) tensor instead of a zero-sized
// one; the result is scaled back to the strip's shape afterwards.
func (s *Spec) Fit(w, h, maxSide int) (Geometry, error) {
	if w <= 0 || h <= 0 {
		return Geometry{}, fmt.Errorf("image has no pixels (%dx%d)", w, h)
	}
	sw, sh := w, h
	if long := max(w, h); maxSide > 0 && long > maxSide {
		scale := float64(maxSide) / float64(long)
		sw = max(1, int(float64(w)*scale+0.5))
		sh = max(1, int(float64(h)*scale+0.5))
	}
	g := Geometry{ScaledW: sw, ScaledH: sh}
	if !s.Dynamic() {
		g.ModelW, g.ModelH = s.FixedW, s.FixedH
		return g, nil
	}
	m := max(1, s.Multiple)
	g.ModelW = max(m, sw/m*m)
	g.ModelH = max(m, sh/m*m)
	return g, nil
}
