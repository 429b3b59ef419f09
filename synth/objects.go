package synth

import "math"

// cov turns a signed distance (negative inside, scene units) into
// anti-aliased coverage.
func (s *scene) cov(d float64) float64 { return clamp01(0.5 - d/s.px) }

func sdBox(u, v, cu, cv, hw, hh float64) float64 {
	dx, dy := math.Abs(u-cu)-hw, math.Abs(v-cv)-hh
	out := math.Hypot(math.Max(dx, 0), math.Max(dy, 0))
	return out + math.Min(math.Max(dx, dy), 0)
}

func sdCircle(u, v, cu, cv, r float64) float64 { return math.Hypot(u-cu, v-cv) - r }

// light is a Lambert-like factor for a surface facing direction (nx, ny),
// with the sun on the side sunLeft and above.
func (s *scene) light(nx, ny float64) float64 {
	l := nx*s.sunLeft*0.8 - ny*0.6
	return 0.62 + 0.45*math.Max(-0.4, l)
}

type house struct {
	u, base, size      float64
	wall, roof, trim   vec3
	w, h, roofH, sideW float64
	windows            int
	side               float64 // +1: side wall visible on the right
}

func newHouse(r *rng, u, base, size float64) *house {
	walls := []vec3{rgb(232, 225, 210), rgb(200, 90, 70), rgb(240, 236, 225), rgb(215, 190, 140), rgb(170, 190, 205)}
	roofs := []vec3{rgb(150, 55, 45), rgb(70, 70, 80), rgb(110, 70, 50), rgb(60, 90, 70)}
	h := &house{
		u: u, base: base, size: size,
		wall: walls[r.intn(len(walls))], roof: roofs[r.intn(len(roofs))], trim: rgb(245, 245, 240),
		w: size * r.rangeF(0.5, 0.8), h: size * r.rangeF(0.35, 0.5), roofH: size * r.rangeF(0.2, 0.35),
		sideW: size * r.rangeF(0.3, 0.5), windows: 1 + r.intn(3), side: 1,
	}
	if r.float() < 0.5 {
		h.side = -1
	}
	return h
}

func (h *house) box() (float64, float64, float64, float64) {
	ext := h.w/2 + h.sideW + 0.01
	return h.u - ext, h.base - h.h - h.roofH - h.size*0.2 - 0.01, h.u + ext, h.base + 0.01
}

func (h *house) shade(s *scene, u, v float64, c vec3) vec3 {
	top := h.base - h.h
	grime := 0.9 + 0.15*s.n.fbm(u*200, v*200, 3)
	// Side wall, seen at an angle: a parallelogram rising with the roof line.
	sx0 := h.u + h.side*h.w/2
	t := (u - sx0) * h.side / h.sideW
	if t >= 0 && t <= 1 {
		sideTop := top - h.size*0.04*t
		sideBot := h.base - h.size*0.03*t
		d := math.Max(sideTop-v, v-sideBot)
		if a := s.cov(d); a > 0 {
			col := h.wall.scale(s.light(h.side, 0) * 0.8 * grime)
			// One window on the side.
			if math.Abs(t-0.5) < 0.18 && v > sideTop+h.h*0.25 && v < sideTop+h.h*0.6 {
				col = rgb(60, 80, 100).scale(0.8)
			}
			c = c.mix(col, a)
		}
		// Side roof slope.
		ridgeV := top - h.roofH
		d2 := math.Max(ridgeV-h.size*0.02*t-v, v-(top-h.size*0.04*t))
		if a := s.cov(d2); a > 0 && t < 1.02 {
			shingles := 0.85 + 0.2*math.Abs(math.Sin((v-ridgeV)/(h.size*0.012)))
			c = c.mix(h.roof.scale(s.light(0, -1)*shingles*0.95), a)
		}
	}
	// Front wall.
	d := sdBox(u, v, h.u, top+h.h/2, h.w/2, h.h/2)
	if a := s.cov(d); a > 0 {
		col := h.wall.scale(s.light(-h.side*0.3, 0) * grime)
		// Windows and a door.
		ww := h.w / float64(2*h.windows+1)
		for i := 0; i < h.windows; i++ {
			cu := h.u - h.w/2 + ww*(float64(2*i)+1.5)
			wd := sdBox(u, v, cu, top+h.h*0.35, ww*0.38, h.h*0.16)
			col = col.mix(h.trim, s.cov(wd-h.size*0.012))
			glass := rgb(70, 95, 120).mix(s.pal.skyHorizon, 0.35*clamp01((top+h.h*0.35-v)/(h.h*0.16)+0.5))
			col = col.mix(glass, s.cov(wd))
		}
		door := sdBox(u, v, h.u+h.w*0.3, h.base-h.h*0.2, h.w*0.08, h.h*0.2)
		col = col.mix(rgb(90, 55, 35), s.cov(door))
		c = c.mix(col, a)
	}
	// Gable roof over the front: triangle with a small overhang.
	ridgeV := top - h.roofH
	half := h.w/2 + h.size*0.04
	if v >= ridgeV-s.px && v <= top+h.size*0.02 {
		k := (v - ridgeV) / (top - ridgeV)
		d := math.Max(math.Abs(u-h.u)-half*k, math.Max(ridgeV-v, v-(top+h.size*0.02)))
		if a := s.cov(d * 0.8); a > 0 {
			shingles := 0.85 + 0.2*math.Abs(math.Sin((v-ridgeV)/(h.size*0.012)))
			// The gable end is the wall colour with a roof-coloured rim.
			rim := s.cov(-(half*k - math.Abs(u-h.u)) + h.size*0.025)
			col := h.wall.scale(s.light(-h.side*0.3, 0)*0.92*grime).mix(h.roof.scale(shingles), rim)
			c = c.mix(col, a)
		}
	}
	return c
}

func (h *house) shadow(s *scene, u, v float64) float64 {
	if v < h.base-h.size*0.02 || v > h.base+h.size*0.12 {
		return 0
	}
	off := -s.sunLeft * h.size * 0.25
	d := sdBox(u, v, h.u+off, h.base+h.size*0.04, h.w/2+h.sideW/2, h.size*0.05)
	return clamp01(0.5-d/(h.size*0.05)) * 0.8
}

type tree struct {
	u, base, size float64
	blobs         [][3]float64 // centre u, v and radius
	conifer       bool
	leaf, leaf2   vec3
	trunkW        float64
	seed          float64
}

func newTree(r *rng, u, base, size float64) *tree {
	t := &tree{u: u, base: base, size: size, conifer: r.float() < 0.35, trunkW: size * r.rangeF(0.03, 0.05), seed: r.rangeF(0, 100)}
	t.leaf = rgb(35+r.intn(30), 75+r.intn(40), 30+r.intn(20))
	t.leaf2 = rgb(110+r.intn(50), 150+r.intn(40), 60+r.intn(30))
	if !t.conifer {
		n := 4 + r.intn(4)
		cv := base - size*0.62
		for i := 0; i < n; i++ {
			a := 2 * math.Pi * float64(i) / float64(n)
			rad := size * r.rangeF(0.14, 0.22)
			t.blobs = append(t.blobs, [3]float64{u + math.Cos(a)*size*0.17, cv + math.Sin(a)*size*0.13, rad})
		}
		t.blobs = append(t.blobs, [3]float64{u, cv - size*0.05, size * 0.24})
	}
	return t
}

func (t *tree) box() (float64, float64, float64, float64) {
	return t.u - t.size*0.5, t.base - t.size*1.05, t.u + t.size*0.5, t.base + 0.005
}

func (t *tree) shade(s *scene, u, v float64, c vec3) vec3 {
	k := t.size
	// Trunk, tapering upwards, with bark texture.
	tt := (t.base - v) / (k * 0.5)
	if tt >= -0.02 && tt <= 1 {
		hw := t.trunkW * (1 - 0.4*tt)
		d := math.Max(math.Abs(u-t.u)-hw, v-t.base)
		if a := s.cov(d); a > 0 {
			bark := 0.75 + 0.4*s.n.at((u-t.u)/hw*3+t.seed, v/k*40)
			side := s.light((u-t.u)/hw, 0)
			c = c.mix(rgb(85, 60, 40).scale(bark*side), a)
		}
	}
	// Canopy: ragged outline from noise, leaf texture and directional light.
	var d, nx, ny float64
	if t.conifer {
		top := t.base - k
		h := k * 0.85
		y := (v - top) / h
		if y < -0.05 || y > 1.05 {
			return c
		}
		// Three stacked triangles give the layered fir silhouette.
		layer := math.Mod(y*3, 1)
		half := k * 0.28 * (0.35*y + 0.65*layer*math.Sqrt(math.Max(y, 0)))
		rag := (s.n.fbm(u/k*30+t.seed, v/k*30, 3) - 0.5) * k * 0.05
		d = math.Max(math.Abs(u-t.u)-half-rag, math.Max(top-v, v-(top+h)))
		nx, ny = (u-t.u)/(k*0.28), -0.3
	} else {
		d = math.Inf(1)
		for _, b := range t.blobs {
			d = math.Min(d, sdCircle(u, v, b[0], b[1], b[2]))
		}
		if d > k*0.08 {
			return c
		}
		d += (s.n.fbm(u/k*18+t.seed, v/k*18, 4) - 0.5) * k * 0.12
		cu, cv := t.u, t.base-k*0.62
		nx, ny = (u-cu)/(k*0.4), (v-cv)/(k*0.35)
	}
	a := s.cov(d)
	if a <= 0 {
		return c
	}
	leaves := s.n.fbm(u/k*60+t.seed, v/k*60, 4)
	clumps := s.n2.fbm(u/k*8+t.seed, v/k*8, 3)
	lit := clamp01(s.light(nx, ny) - 0.25 + clumps*0.5)
	col := t.leaf.mix(t.leaf2, lit*0.8).scale(0.7 + 0.6*leaves*lit)
	col = col.add(vec3{s.pal.warm, s.pal.warm * 0.5, 0}.scale(lit * 0.5))
	// Holes in the foliage near the edge show the sky through.
	if leaves < 0.3 && d > -k*0.04 {
		a *= 0.4
	}
	return c.mix(col, a)
}

func (t *tree) shadow(s *scene, u, v float64) float64 {
	if v < t.base-t.size*0.05 || v > t.base+t.size*0.15 {
		return 0
	}
	off := -s.sunLeft * t.size * 0.35
	du := (u - t.u - off) / (t.size * 0.45)
	dv := (v - t.base - t.size*0.03) / (t.size * 0.06)
	return clamp01(1.2-math.Sqrt(du*du+dv*dv)) * 0.8 * (0.8 + 0.2*s.n.at(u*80, v*80))
}

type person struct {
	u, base, h       float64
	shirt, pants     vec3
	skin, hair       vec3
	armSwing, facing float64
}

func newPerson(r *rng, u, base, h float64) *person {
	shirts := []vec3{rgb(200, 40, 40), rgb(40, 80, 170), rgb(240, 200, 60), rgb(240, 240, 235), rgb(40, 140, 90), rgb(230, 120, 40)}
	pants := []vec3{rgb(40, 50, 80), rgb(60, 60, 60), rgb(150, 130, 100), rgb(25, 25, 30)}
	skins := []vec3{rgb(240, 200, 170), rgb(200, 150, 110), rgb(140, 95, 65), rgb(95, 65, 45)}
	hairs := []vec3{rgb(40, 30, 25), rgb(120, 80, 40), rgb(200, 170, 110), rgb(20, 20, 20)}
	return &person{
		u: u, base: base, h: h * 0.22,
		shirt: shirts[r.intn(len(shirts))], pants: pants[r.intn(len(pants))],
		skin: skins[r.intn(len(skins))], hair: hairs[r.intn(len(hairs))],
		armSwing: r.rangeF(-0.3, 0.3), facing: r.rangeF(-1, 1),
	}
}

func (p *person) box() (float64, float64, float64, float64) {
	return p.u - p.h*0.4, p.base - p.h*1.05, p.u + p.h*0.4, p.base + 0.005
}

func (p *person) shade(s *scene, u, v float64, c vec3) vec3 {
	h := p.h
	x := (u - p.u) / h
	side := s.light(x*4, 0)
	// Legs.
	for _, lx := range []float64{-0.07, 0.07} {
		d := sdBox(u, v, p.u+lx*h, p.base-h*0.23, h*0.05, h*0.23) - h*0.01
		c = c.mix(p.pants.scale(side), s.cov(d))
	}
	// Shoes.
	for _, lx := range []float64{-0.07, 0.07} {
		d := sdBox(u, v, p.u+lx*h+p.facing*h*0.02, p.base-h*0.015, h*0.06, h*0.015)
		c = c.mix(rgb(30, 30, 30), s.cov(d))
	}
	// Arms.
	for _, ax := range []float64{-0.17, 0.17} {
		cu := p.u + ax*h + p.armSwing*h*0.1*math.Copysign(1, ax)
		d := sdBox(u, v, cu, p.base-h*0.56, h*0.04, h*0.17) - h*0.01
		c = c.mix(p.shirt.scale(side*0.9), s.cov(d))
		hd := sdCircle(u, v, cu, p.base-h*0.38, h*0.035)
		c = c.mix(p.skin.scale(side), s.cov(hd))
	}
	// Torso with a fold shading.
	d := sdBox(u, v, p.u, p.base-h*0.6, h*0.12, h*0.16) - h*0.03
	folds := 0.9 + 0.1*s.n.fbm(u/h*6, v/h*6, 3)
	c = c.mix(p.shirt.scale(side*folds), s.cov(d))
	// Neck, head and hair.
	c = c.mix(p.skin.scale(side*0.85), s.cov(sdBox(u, v, p.u, p.base-h*0.8, h*0.03, h*0.04)))
	hc := p.base - h*0.9
	c = c.mix(p.skin.scale(s.light(x*6, (v-hc)/h*6)), s.cov(sdCircle(u, v, p.u+p.facing*h*0.01, hc, h*0.075)))
	hairD := math.Max(sdCircle(u, v, p.u, hc-h*0.01, h*0.08), v-(hc-h*0.02+p.facing*(u-p.u)*0.2))
	c = c.mix(p.hair.scale(0.8+0.3*s.n.at(u/h*40, v/h*40)), s.cov(hairD))
	return c
}

func (p *person) shadow(s *scene, u, v float64) float64 {
	if v < p.base-p.h*0.03 || v > p.base+p.h*0.1 {
		return 0
	}
	off := -s.sunLeft * p.h * 0.3
	du := (u - p.u - off) / (p.h * 0.35)
	dv := (v - p.base - p.h*0.02) / (p.h * 0.04)
	return clamp01(1.1-math.Sqrt(du*du+dv*dv)) * 0.8
}
