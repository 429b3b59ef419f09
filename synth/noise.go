package synth

import "math"

func sqrt(x float64) float64 { return math.Sqrt(x) }

// rng is a small deterministic generator (splitmix64), so scenes do not
// depend on the standard library's random number algorithms.
type rng struct{ s uint64 }

// newRNG hashes the seed first, so nearby seeds give unrelated sequences.
func newRNG(seed int64) *rng { return &rng{s: hash2(seed, 0x5EED, 0x632BE59BD9B4E019)} }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// rangeF returns a value in [lo, hi).
func (r *rng) rangeF(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// intn returns a value in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// hash2 mixes two integers and a seed into 64 pseudo-random bits.
func hash2(x, y int64, seed uint64) uint64 {
	z := uint64(x)*0x9E3779B97F4A7C15 ^ uint64(y)*0xC2B2AE3D27D4EB4F ^ seed
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// noise is 2-D value noise on a 256×256 wrapping lattice.
type noise struct {
	v [256 * 256]float32
}

func newNoise(seed uint64) *noise {
	n := &noise{}
	for i := range n.v {
		n.v[i] = float32(hash2(int64(i), 7, seed)>>40) / (1 << 24)
	}
	return n
}

func fade(t float64) float64 { return t * t * t * (t*(t*6-15) + 10) }

// at returns smooth noise in [0, 1].
func (n *noise) at(x, y float64) float64 {
	fx, fy := math.Floor(x), math.Floor(y)
	ix, iy := int(int64(fx))&255, int(int64(fy))&255
	tx, ty := fade(x-fx), fade(y-fy)
	x1, y1 := (ix+1)&255, (iy+1)&255
	a := float64(n.v[iy<<8|ix])
	b := float64(n.v[iy<<8|x1])
	c := float64(n.v[y1<<8|ix])
	d := float64(n.v[y1<<8|x1])
	top := a + (b-a)*tx
	bot := c + (d-c)*tx
	return top + (bot-top)*ty
}

// fbm sums octaves of noise; the result is in [0, 1].
func (n *noise) fbm(x, y float64, octaves int) float64 {
	sum, amp, norm := 0.0, 1.0, 0.0
	for i := 0; i < octaves; i++ {
		sum += amp * n.at(x, y)
		norm += amp
		amp *= 0.5
		// Rotate-ish offset between octaves hides the lattice.
		x, y = x*2.03+17.1, y*1.97-9.3
	}
	return sum / norm
}

// gauss returns a standard normal sample derived from a hash.
func gauss(h uint64) float64 {
	u1 := (float64(h>>40) + 0.5) / (1 << 24)
	u2 := float64(h&0xFFFFFF) / (1 << 24)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// clamp01 limits v to [0, 1]; NaN becomes 0.
func clamp01(v float64) float64 {
	if v > 0 {
		return math.Min(1, v)
	}
	return 0
}

func smoothstep(a, b, x float64) float64 {
	t := clamp01((x - a) / (b - a))
	return t * t * (3 - 2*t)
}

func mix(a, b, t float64) float64 { return a + (b-a)*t }

type vec3 [3]float64

func (a vec3) mix(b vec3, t float64) vec3 {
	return vec3{mix(a[0], b[0], t), mix(a[1], b[1], t), mix(a[2], b[2], t)}
}

func (a vec3) scale(s float64) vec3 { return vec3{a[0] * s, a[1] * s, a[2] * s} }

func (a vec3) add(b vec3) vec3 { return vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }

func rgb(r, g, b int) vec3 { return vec3{float64(r) / 255, float64(g) / 255, float64(b) / 255} }
