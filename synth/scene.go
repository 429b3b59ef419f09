// Package synth makes photo-like pictures for demos and tests, so that the
// project needs no photographs from elsewhere. Everything is deterministic:
// the same seed and size always give the same pixels.
package synth

import (
	"image"
	"math"
	"runtime"
	"sync"
)

// palette is the lighting of a scene.
type palette struct {
	skyTop, skyHorizon, sun, haze vec3
	light                         float64 // overall exposure
	clouds                        float64 // cloud cover threshold (lower = more clouds)
	warm                          float64 // warmth added to lit surfaces
}

var palettes = []palette{
	{rgb(38, 92, 178), rgb(170, 205, 235), rgb(255, 250, 235), rgb(175, 200, 225), 1.0, 0.56, 0.0},    // clear day
	{rgb(52, 78, 140), rgb(250, 180, 110), rgb(255, 220, 150), rgb(225, 170, 130), 0.9, 0.6, 0.12},    // golden hour
	{rgb(110, 122, 140), rgb(190, 196, 204), rgb(235, 235, 230), rgb(180, 186, 195), 0.85, 0.42, 0.0}, // overcast
	{rgb(40, 40, 100), rgb(236, 140, 130), rgb(255, 200, 170), rgb(170, 130, 150), 0.75, 0.62, 0.08},  // dusk
	{rgb(60, 120, 200), rgb(190, 220, 240), rgb(255, 255, 240), rgb(190, 210, 230), 1.05, 0.5, 0.02},  // hazy noon
}

// scene holds everything decided from the seed; coordinates are in units of
// the image height (v from 0 at the top to 1 at the bottom, u from 0 to
// aspect).
type scene struct {
	n, n2        *noise
	pal          palette
	aspect       float64
	horizon      float64
	sunU, sunV   float64
	ranges       []ridge
	lake         bool
	shore        float64
	path         bool
	pathU        float64
	objects      []object // drawn in order (far to near)
	px           float64  // one pixel in scene units
	noiseSeed    uint64
	sensorSigma  float64
	vignette     float64
	grassHue     vec3
	grassDry     vec3
	sunLeft      float64 // -1 sun on the left, +1 on the right
	contrastCurv float64
}

type ridge struct {
	base, amp, freq, off, haze float64
	col                        vec3
	snow                       bool
	top, slope                 []float64 // per pixel column
}

// object is a thing standing on the ground: it changes the colour under it.
type object interface {
	box() (u0, v0, u1, v1 float64)
	shade(s *scene, u, v float64, under vec3) vec3
}

// Scene renders a deterministic, photo-like landscape of w×h pixels: sky
// with sun and clouds, hazy mountain ranges, a lake or a meadow with a path,
// houses, trees and people, lit from the sun's side, with vignetting and
// sensor noise. Different seeds give different compositions and lighting.
func Scene(seed int64, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, max(w, 0), max(h, 0)))
	if w <= 0 || h <= 0 {
		return img
	}
	s := newScene(seed, w, h)
	rows := make(chan int, h)
	for y := 0; y < h; y++ {
		rows <- y
	}
	close(rows)
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for y := range rows {
				s.renderRow(img, y, w)
			}
		}()
	}
	wg.Wait()
	return img
}

func newScene(seed int64, w, h int) *scene {
	r := newRNG(seed)
	s := &scene{
		n:           newNoise(r.next()),
		n2:          newNoise(r.next()),
		pal:         palettes[r.intn(len(palettes))],
		aspect:      float64(w) / float64(h),
		px:          1 / float64(h),
		noiseSeed:   r.next(),
		sensorSigma: r.rangeF(1.2, 2.4),
		vignette:    r.rangeF(0.18, 0.35),
	}
	if float64(w) < float64(h) {
		s.horizon = r.rangeF(0.5, 0.62)
	} else {
		s.horizon = r.rangeF(0.48, 0.64)
	}
	s.sunU = r.rangeF(0.1, 0.9) * s.aspect
	s.sunV = r.rangeF(0.12, s.horizon-0.12)
	s.sunLeft = 1
	if s.sunU < s.aspect/2 {
		s.sunLeft = -1
	}
	s.grassHue = rgb(60+r.intn(30), 110+r.intn(30), 40+r.intn(20))
	s.grassDry = rgb(150+r.intn(40), 150+r.intn(30), 80+r.intn(20))
	s.contrastCurv = r.rangeF(0.1, 0.3)
	// Mountain ranges, far to near.
	nr := 1 + r.intn(3)
	for i := 0; i < nr; i++ {
		t := float64(i) / float64(max(1, nr))
		rd := ridge{
			base: s.horizon - r.rangeF(0.02, 0.05)*(1-t),
			amp:  r.rangeF(0.08, 0.22) * (1 - 0.45*t),
			freq: r.rangeF(1.2, 3.5),
			off:  r.rangeF(0, 200),
			haze: 0.65 - 0.4*t,
			col:  rgb(70+r.intn(40), 80+r.intn(30), 90+r.intn(40)),
			snow: i == 0 && r.float() < 0.6,
		}
		if i == nr-1 && r.float() < 0.6 { // a green foothill in front
			rd.col = rgb(50+r.intn(30), 85+r.intn(30), 50+r.intn(20))
			rd.amp *= 0.5
			rd.haze *= 0.6
			rd.snow = false
		}
		s.ranges = append(s.ranges, rd)
	}
	for i := range s.ranges {
		rd := &s.ranges[i]
		rd.top, rd.slope = make([]float64, w), make([]float64, w)
		ridged := func(x float64) float64 { return 1 - math.Abs(2*s.n2.fbm(x, rd.off, 6)-1) }
		for px := 0; px < w; px++ {
			x := (float64(px)+0.5)*s.px*rd.freq + rd.off
			rd.top[px] = rd.base - rd.amp*ridged(x)
			rd.slope[px] = (ridged(x+0.01) - ridged(x-0.01)) * s.sunLeft
		}
	}
	s.lake = r.float() < 0.4
	if s.lake {
		s.shore = s.horizon + r.rangeF(0.08, 0.16)
	}
	s.path = !s.lake && r.float() < 0.6
	s.pathU = r.rangeF(0.3, 0.7) * s.aspect
	// Objects stand on the ground; sort by their base so nearer ones are drawn last.
	ground0 := s.horizon + 0.02
	if s.lake {
		ground0 = s.shore + 0.02
	}
	var objs []object
	nHouses := r.intn(3)
	for i := 0; i < nHouses; i++ {
		base := r.rangeF(ground0, ground0+0.12)
		objs = append(objs, newHouse(r, r.rangeF(0.05, 0.95)*s.aspect, base, (base-s.horizon)*r.rangeF(2.2, 3.2)))
	}
	nTrees := 2 + r.intn(6)
	for i := 0; i < nTrees; i++ {
		// Mostly in the middle distance, a few close to the camera.
		base := ground0 + (0.97-ground0)*math.Pow(r.float(), 1.6)
		u := r.rangeF(-0.05, 1.05) * s.aspect
		if s.path && math.Abs(u-s.pathCenter(base)) < s.pathHalfWidth(base)+0.05 {
			u += s.pathHalfWidth(base) + 0.15
		}
		objs = append(objs, newTree(r, u, base, math.Min(0.75, (base-s.horizon)*r.rangeF(1.4, 2.4)+0.02)))
	}
	nPeople := r.intn(3)
	for i := 0; i < nPeople; i++ {
		base := r.rangeF(ground0+0.1, 0.97)
		u := r.rangeF(0.15, 0.85) * s.aspect
		if s.path {
			u = s.pathCenter(base) + r.rangeF(-0.5, 0.5)*s.pathHalfWidth(base)
		}
		objs = append(objs, newPerson(r, u, base, (base-s.horizon)*r.rangeF(1.1, 1.4)))
	}
	// Insertion sort by base (bottom edge) keeps this deterministic.
	for i := 1; i < len(objs); i++ {
		for j := i; j > 0; j-- {
			_, _, _, a := objs[j-1].box()
			_, _, _, b := objs[j].box()
			if a <= b {
				break
			}
			objs[j-1], objs[j] = objs[j], objs[j-1]
		}
	}
	s.objects = objs
	return s
}

func (s *scene) pathCenter(v float64) float64 {
	t := (v - s.horizon) / (1 - s.horizon)
	return s.pathU + 0.25*s.aspect*(t*t)*math.Sin(3*t+s.pathU)
}

func (s *scene) pathHalfWidth(v float64) float64 {
	return 0.004 + 0.28*(v-s.horizon)/(1-s.horizon)
}

func (s *scene) renderRow(img *image.NRGBA, y, w int) {
	row := img.Pix[y*img.Stride : y*img.Stride+4*w]
	v := (float64(y) + 0.5) * s.px
	for x := 0; x < w; x++ {
		u := (float64(x) + 0.5) * s.px
		c := s.color(x, u, v)
		// Vignette, tone curve, then sensor noise (luma and a little chroma).
		du, dv := u/s.aspect-0.5, v-0.5
		vig := 1 - s.vignette*(du*du+dv*dv)*2
		// Near-Gaussian noise from the bytes of one hash (sums of uniforms).
		h := hash2(int64(x), int64(y), s.noiseSeed)
		bt := func(i uint) float64 { return float64((h >> (8 * i)) & 0xFF) }
		luma := (bt(0) + bt(1) + bt(2) + bt(3) - 510) / 147.8 * s.sensorSigma / 255
		for i := 0; i < 3; i++ {
			t := clamp01(c[i] * vig * s.pal.light)
			t = t + s.contrastCurv*t*(1-t)*(t-0.5)*2 // gentle S-curve
			t += luma + (bt(4+uint(i))+bt(5+uint(i))-255)/104.5*0.6/255
			row[4*x+i] = uint8(clamp01(t)*255 + 0.5)
		}
		row[4*x+3] = 255
	}
}

// color is the scene's colour at (u, v) before camera effects.
func (s *scene) color(x int, u, v float64) vec3 {
	var c vec3
	switch {
	case v > s.horizon+s.px:
		// Opaque ground: nothing behind it shows (the lake mirrors the sky itself).
		c = s.ground(x, u, v, c)
	default:
		// Start from the nearest mountain range that fully covers this pixel.
		first := -1
		for i := len(s.ranges) - 1; i >= 0; i-- {
			if v > s.ranges[i].top[x]+s.px {
				first = i
				break
			}
		}
		if first < 0 {
			c = s.sky(u, v)
		}
		for i := max(first, 0); i < len(s.ranges); i++ {
			c = s.mountain(&s.ranges[i], x, u, v, c)
		}
		if v > s.horizon-s.px {
			c = s.ground(x, u, v, c)
		}
	}
	for _, o := range s.objects {
		u0, v0, u1, v1 := o.box()
		if u >= u0 && u <= u1 && v >= v0 && v <= v1 {
			c = o.shade(s, u, v, c)
		}
	}
	return c
}

func (s *scene) sky(u, v float64) vec3 {
	p := s.pal
	t := clamp01(v / s.horizon)
	c := p.skyTop.mix(p.skyHorizon, math.Pow(t, 1.6))
	du, dv := u-s.sunU, (v-s.sunV)*1.1
	d := math.Sqrt(du*du + dv*dv)
	glow := 0.45*math.Exp(-d*9) + 0.22*math.Exp(-d*2.5)
	c = c.add(p.sun.scale(glow))
	// Clouds: stretched fractal noise, thinner toward the horizon.
	n := s.n.fbm(u*2.2+3, v*6.5, 6)
	dens := smoothstep(p.clouds, p.clouds+0.2, n) * (1 - smoothstep(0.6*s.horizon, s.horizon, v))
	if dens > 0 {
		// Lit from the sun's side: compare with noise shifted toward the sun.
		n2 := s.n.fbm((u-0.03*s.sunLeft)*2.2+3, (v+0.02)*6.5, 6)
		lit := clamp01(0.6 + (n-n2)*6)
		cloud := rgb(120, 125, 140).mix(p.sun.scale(0.97), lit).mix(p.skyHorizon, 0.25)
		c = c.mix(cloud, dens*0.92)
	}
	if d < 0.035 { // the sun disc, soft-edged and behind thin cloud
		c = c.mix(vec3{1, 1, 0.97}, smoothstep(0.035, 0.025, d)*(1-dens*0.8))
	}
	return c
}

func (s *scene) mountain(r *ridge, x int, u, v float64, under vec3) vec3 {
	top := r.top[x]
	if v < top-2*s.px {
		return under
	}
	cov := clamp01((v-top)/s.px + 0.5)
	slope := r.slope[x]
	tex := s.n.fbm(u*25, v*40, 4)
	c := r.col.scale(0.75 + 0.35*tex + 0.6*slope)
	if r.snow {
		snowline := top + r.amp*0.25*(0.6+0.8*s.n.fbm(u*12, v*12, 3))
		c = c.mix(rgb(235, 238, 245).scale(0.8+0.4*clamp01(0.5+slope*3)), smoothstep(snowline+0.01, snowline-0.01, v))
	}
	c = c.add(vec3{s.pal.warm, s.pal.warm * 0.5, 0}.scale(0.5))
	haze := r.haze * (1 - 0.5*clamp01((v-top)/0.2))
	c = c.mix(s.pal.haze, haze)
	return under.mix(c, cov)
}

func (s *scene) ground(x int, u, v float64, under vec3) vec3 {
	d := v - s.horizon
	if d < -s.px {
		return under
	}
	cov := clamp01(d/s.px + 0.5)
	depth := 1 / (d + 0.03) // perspective: far is compressed
	gx, gy := (u-s.aspect/2)*depth, depth
	patch := s.n.fbm(gx*0.9, gy*0.9, 5)
	c := s.grassHue.mix(s.grassDry, smoothstep(0.35, 0.8, patch))
	// Grass detail, only where it is big enough not to alias.
	near := clamp01(d / (1 - s.horizon))
	blades := s.n2.at(u*420, v*90) - 0.5
	c = c.scale(0.85 + 0.3*s.n.fbm(gx*6, gy*6, 3) + blades*0.35*near)
	if s.lake && v < s.shore+0.01 {
		c = s.water(x, u, v, c)
	}
	if s.path {
		pc, hw := s.pathCenter(v), s.pathHalfWidth(v)
		edge := (math.Abs(u-pc) - hw) / s.px
		wob := (s.n.at(gx*8, gy*8) - 0.5) * hw * 0.25 / s.px
		pcov := clamp01(0.5 - (edge + wob))
		if pcov > 0 {
			pebbles := s.n2.fbm(u*300*near+gx, v*200, 3)
			dirt := rgb(165, 140, 105).scale(0.8 + 0.35*pebbles)
			c = c.mix(dirt, pcov)
		}
	}
	// Light: brighter near, hazier far.
	c = c.scale(0.8 + 0.3*near).add(vec3{s.pal.warm, s.pal.warm * 0.6, 0}.scale(0.4))
	c = c.mix(s.pal.haze, 0.45*(1-smoothstep(0, 0.12, d)))
	// Shadows of the objects, cast away from the sun.
	for _, o := range s.objects {
		if sh, ok := o.(shadower); ok {
			c = c.scale(1 - 0.45*sh.shadow(s, u, v))
		}
	}
	return under.mix(c, cov)
}

func (s *scene) water(x int, u, v float64, ground vec3) vec3 {
	shore := s.shore + 0.012*(s.n.fbm(u*4, 3, 3)-0.5)
	if v > shore {
		return ground
	}
	d := v - s.horizon
	ripple := (s.n.fbm(u*3/(d+0.01), v*400, 3) - 0.5) * 0.02 * (d + 0.02) * 20
	rv := 2*s.horizon - v + ripple
	refl := s.sky(u+ripple, rv)
	for i := range s.ranges {
		r := &s.ranges[i]
		mirrorTop := 2*s.horizon - r.top[x]
		if v < mirrorTop {
			refl = refl.mix(r.col.mix(s.pal.haze, r.haze), 0.8)
		}
	}
	deep := rgb(30, 60, 70)
	c := refl.scale(0.8).mix(deep, 0.25+0.4*clamp01(d*5))
	edge := smoothstep(shore-0.006, shore, v)
	return c.mix(ground.scale(0.6), edge)
}

type shadower interface {
	shadow(s *scene, u, v float64) float64
}
