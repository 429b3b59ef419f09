// Package optimize makes an int8 model from a float one, calibrated on the
// user's own photos, and proves it before keeping it: it wires model
// (sessions, probes), convert (the photo preparation convert itself uses),
// calibrate (statistics), quantize (the graph rewrite) and atomicfile.
package optimize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"animegan/atomicfile"
	"animegan/calibrate"
	"animegan/convert"
	"animegan/internal/sysmem"
	"animegan/model"
	"animegan/onnxgraph"
	"animegan/quantize"
)

// Defaults of the command's flags.
const (
	DefaultSamples = 16
	DefaultMaxSide = 512
	DefaultMinPSNR = 30.0
)

// Metadata keys an optimised model carries besides the source's own.
const (
	MetaQuantization = "animegan.quantization"
	MetaSourceSHA256 = "animegan.source_sha256"
	MetaMethod       = "animegan.calibration.method"
	MetaPhotos       = "animegan.calibration.photos"
	MetaMaxSide      = "animegan.calibration.max_size"
	MetaPSNR         = "animegan.psnr_db"
)

// Options say what to optimise, on what, and how.
type Options struct {
	ModelPath string
	Data      []byte
	Overrides model.Overrides
	Photos    []string // files and folders, as convert takes them
	Out       string   // "" is ModelPath with .int8.onnx
	Samples   int      // photos to calibrate on
	MaxSide   int      // photos are fitted as convert --max-size fits them
	Method    calibrate.Method
	MinPSNR   float64
	Cores     int
	// MemBudget bounds the memory calibration and the check take, as
	// convert --mem-budget does: 0 convert.DefaultBudget, -1 none, else
	// bytes.
	MemBudget int64
	Log       io.Writer // progress and findings; nil: silent

	budget *convert.Budget // the fp32 engine's, nil when off
}

// Result is what a run found and did.
type Result struct {
	Out          string
	Calibrated   int           // photos calibrated on
	Checked      []PhotoCheck  // the held-back photos
	MeanPSNR     float64       // dB, over Checked
	WorstPSNR    float64       // dB
	FP32, INT8   time.Duration // summed inference time over Checked
	Skipped      []convert.Failure
	Nodes        int // operators quantised
	Passes       int // calibration passes over the photos (more than 1 under a tight memory budget)
	SizeIn, Size int64
}

// Speedup is fp32 time over int8 time on the checked photos.
func (r *Result) Speedup() float64 {
	if r.INT8 <= 0 {
		return 0
	}
	return float64(r.FP32) / float64(r.INT8)
}

// PhotoCheck is one held-back photo converted with both models.
type PhotoCheck struct {
	Path       string
	W, H       int // the model's input size
	PSNR       float64
	FP32, INT8 time.Duration
}

// SetupError is bad input: nothing was written (exit 2).
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// QualityError is a model below --min-psnr: nothing was written (exit 1).
type QualityError struct {
	Worst, Mean, Min float64
	Photo            string
}

func (e *QualityError) Error() string {
	return fmt.Sprintf("int8 model refused: PSNR from fp32 is %.1f dB mean, %.1f dB worst (%s), below --min-psnr %.1f dB; nothing written",
		e.Mean, e.Worst, e.Photo, e.Min)
}

// DefaultOut is where the optimised model goes unless -o says otherwise:
// beside the input, MODEL.int8.onnx.
func DefaultOut(modelPath string) string {
	base := strings.TrimSuffix(modelPath, filepath.Ext(modelPath))
	return base + ".int8.onnx"
}

func setup(format string, args ...any) error {
	return &SetupError{fmt.Errorf(format, args...)}
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// Run optimises the model: calibrate, quantise, check against fp32 on
// held-back photos, write. Cancelling ctx stops it with nothing written.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Samples <= 0 {
		o.Samples = DefaultSamples
	}
	if o.MaxSide <= 0 {
		o.MaxSide = DefaultMaxSide
	}
	if o.Cores <= 0 {
		o.Cores = runtime.GOMAXPROCS(0)
	}
	if o.Out == "" {
		o.Out = DefaultOut(o.ModelPath)
	}
	if same(o.Out, o.ModelPath) {
		return nil, setup("-o %s is the input model: the optimised model needs a file of its own", o.Out)
	}
	spec, err := model.Inspect(o.ModelPath, o.Data, o.Overrides)
	if err != nil {
		return nil, &SetupError{err}
	}
	info, err := onnxgraph.Read(o.Data)
	if err != nil {
		return nil, setup("model %s: %w", o.ModelPath, err)
	}
	m := info.Model()
	plan, err := quantize.NewPlan(m)
	if err != nil {
		return nil, setup("model %s: %w", o.ModelPath, err)
	}
	res := &Result{Out: o.Out, Nodes: len(plan.Targets), SizeIn: int64(len(o.Data))}

	// The fp32 engine decodes the photos as convert does, under convert's
	// memory budget (a photo whose inference cannot fit is skipped, named,
	// with the --max-size that would fit), and its cost model sizes the
	// calibration passes.
	fp32, err := convert.NewEngine(spec, o.Data, convert.EngineOptions{MaxSide: o.MaxSide, Workers: 1,
		Session: model.DefaultSessionOptions(1, o.Cores), MemBudget: o.MemBudget, Cores: o.Cores})
	if err != nil {
		return nil, &SetupError{err}
	}
	defer fp32.Close()
	o.budget = fp32.Budget()
	calib, held, err := o.photos(ctx, fp32, res)
	if err != nil {
		return nil, err
	}
	res.Calibrated = len(calib)
	o.logf("calibrating %d Conv/ConvTranspose/MatMul/Gemm operators on %d photos (%s, --max-size %d); checking on %d held back\n",
		len(plan.Targets), len(calib), o.Method, o.MaxSide, len(held))

	ranges, err := o.calibrate(ctx, spec, m, plan, calib, res)
	if err != nil {
		return nil, err
	}
	if err := quantize.Quantize(m, plan, ranges); err != nil {
		return nil, fmt.Errorf("quantising %s: %w", o.ModelPath, err)
	}
	sum := sha256.Sum256(o.Data)
	m.SetMetadata(MetaQuantization, "int8 QDQ: per-channel symmetric int8 weights, int32 biases, uint8 activations")
	m.SetMetadata(MetaSourceSHA256, hex.EncodeToString(sum[:]))
	m.SetMetadata(MetaMethod, o.Method.String())
	m.SetMetadata(MetaPhotos, strconv.Itoa(len(calib)))
	m.SetMetadata(MetaMaxSide, strconv.Itoa(o.MaxSide))
	for _, kv := range spec.Custom { // keep what the model said of itself
		if kv.Key == model.MetaRange || kv.Key == model.MetaMultiple {
			m.SetMetadata(kv.Key, kv.Value)
		}
	}
	int8Data, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("writing the int8 graph: %w", err)
	}

	// The result goes to a temporary file beside -o; it is renamed into
	// place only once it has converted the held-back photos well enough.
	err = atomicfile.Write(o.Out, 0o644, func(w io.Writer) error {
		if err := o.check(ctx, fp32, spec, int8Data, held, res); err != nil {
			return err
		}
		m.SetMetadata(MetaPSNR, fmt.Sprintf("mean %.2f, worst %.2f over %d held-back photos", res.MeanPSNR, res.WorstPSNR, len(res.Checked)))
		final, err := m.Marshal()
		if err != nil {
			return err
		}
		res.Size = int64(len(final))
		_, err = w.Write(final)
		return err
	})
	if err != nil {
		var qe *QualityError
		if errors.As(err, &qe) {
			return res, qe
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("interrupted; nothing written: %w", ctx.Err())
		}
		return res, err
	}
	return res, nil
}

// same reports whether two paths name one file (or would).
func same(a, b string) bool {
	if fa, err := os.Stat(a); err == nil {
		if fb, err := os.Stat(b); err == nil {
			return os.SameFile(fa, fb)
		}
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// decoded is one usable photo, prepared as convert prepares it.
type decoded struct {
	path string
	d    *convert.Decoded
}

// photos lists and decodes the photos: the calibration set, and a part held
// back for the quality check. Unreadable photos are named and skipped.
func (o *Options) photos(ctx context.Context, e *convert.Engine, res *Result) (calib, held []decoded, err error) {
	listing := convert.Collect(o.Photos, "")
	res.Skipped = append(res.Skipped, listing.Problems...)
	hold := max(1, o.Samples/4)
	want := o.Samples + hold
	var usable []decoded
	for _, in := range listing.Inputs {
		if len(usable) == want {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		d, err := e.Decode(in.Path, false)
		if err != nil {
			res.Skipped = append(res.Skipped, convert.Failure{Input: in.Path, Err: err})
			o.logf("skipping %s: %v\n", convert.QuoteName(in.Path), err)
			continue
		}
		usable = append(usable, decoded{in.Path, d})
	}
	if len(usable) == 0 {
		var b strings.Builder
		for _, f := range res.Skipped {
			fmt.Fprintf(&b, "\n  %s", f)
		}
		if len(listing.Inputs) == 0 && len(listing.Problems) == 0 {
			return nil, nil, setup("--calibrate %s: no photos found", strings.Join(o.Photos, " "))
		}
		return nil, nil, setup("--calibrate: no usable photos:%s", b.String())
	}
	if len(usable) == 1 {
		o.logf("only one usable photo: it is calibrated on and checked on\n")
		return usable, usable, nil
	}
	hold = min(hold, max(1, len(usable)/5))
	return usable[:len(usable)-hold], usable[len(usable)-hold:], nil
}

// exposeActivations is m's graph with the named activations added as
// outputs, so that a run hands them over. m itself is left as it was.
func exposeActivations(m *onnxgraph.Model, names []string) ([]byte, error) {
	g := m.Graph
	outputs := g.Outputs
	g.Outputs = slices.Clone(outputs)
	for _, name := range names {
		if !slices.ContainsFunc(outputs, func(v onnxgraph.ValueInfo) bool { return v.Name == name }) {
			g.Outputs = append(g.Outputs, onnxgraph.ValueInfo{Name: name, DType: onnxgraph.Float})
		}
	}
	data, err := m.Marshal()
	g.Outputs = outputs
	if err != nil {
		return nil, fmt.Errorf("exposing the activations: %w", err)
	}
	return data, nil
}

// probedActivations are the plan's activations calibration has to see:
// all but the graph inputs, whose range is the model's pixel range.
func probedActivations(m *onnxgraph.Model, plan *quantize.Plan) []string {
	inputs := map[string]bool{}
	for _, in := range m.Graph.Inputs {
		inputs[in.Name] = true
	}
	var probed []string
	for _, a := range plan.Activations {
		if !inputs[a] {
			probed = append(probed, a)
		}
	}
	return probed
}

// calibrate runs the fp32 model with the activations exposed as outputs
// over the calibration photos and chooses their ranges. The exposed
// activations are all alive at the end of a run, on top of the
// inference's own memory (AnimeGANv2 at 512x512: 3.1 GB in all), so under
// a memory budget they are exposed in groups, one pass over the photos
// per group (passes).
func (o *Options) calibrate(ctx context.Context, spec *model.Spec, m *onnxgraph.Model, plan *quantize.Plan, photos []decoded, res *Result) (map[string]quantize.Range, error) {
	probed := probedActivations(m, plan)
	col := calibrate.NewCollector(probed, o.Method)
	passes := [][]int{make([]int, len(probed))}
	for i := range probed {
		passes[0][i] = i
	}
	if o.budget != nil {
		var err error
		if passes, err = o.passes(ctx, spec, m, probed, photos); err != nil {
			return nil, err
		}
	}
	res.Passes = len(passes)
	if len(passes) > 1 {
		o.logf("calibrating in %d passes over the photos: the activations of one pass fit the memory budget (%s, %s)\n",
			len(passes), sysmem.FormatBytes(o.budget.Limit), o.budget.Source)
	}
	so := model.SessionOptions{IntraOpThreads: o.Cores, InterOpThreads: 1, MemArena: true}
	bar := o.bar(len(passes)*len(photos), "calibrating")
	for _, pass := range passes {
		names := make([]string, len(pass))
		for j, i := range pass {
			names[j] = probed[i]
		}
		if err := o.calibratePass(ctx, spec, m, names, photos, so, func(j int, v []float32) {
			col.Add(pass[j], v)
		}, bar); err != nil {
			return nil, err
		}
	}
	bar.Finish()
	ranges := col.Ranges()
	// A graph input's range is the model's pixel range.
	lo := float32(-1)
	if spec.Range == model.RangeUnit {
		lo = 0
	}
	for _, in := range m.Graph.Inputs {
		if slices.Contains(plan.Activations, in.Name) {
			ranges[in.Name] = quantize.Range{Min: lo, Max: 1}
		}
	}
	return ranges, nil
}

// calibratePass runs every photo through a session exposing names and
// hands add each tensor's values (j: its index in names). The session is
// closed before it returns, so that its memory is free for the next pass.
func (o *Options) calibratePass(ctx context.Context, spec *model.Spec, m *onnxgraph.Model, names []string, photos []decoded,
	so model.SessionOptions, add func(j int, v []float32), bar *progressbar.ProgressBar) error {
	data, err := exposeActivations(m, names)
	if err != nil {
		return err
	}
	probe, err := model.NewProbe(spec, data, names, so)
	if err != nil {
		return &SetupError{err}
	}
	defer func() {
		probe.Close()
		sysmem.ReleaseFreed() // the next pass's session starts from here
	}()
	for _, p := range photos {
		if err := probe.Run(ctx, p.d.Img, func(j int, v []float32) error {
			add(j, v)
			return ctx.Err()
		}); err != nil {
			return fmt.Errorf("calibrating on %s: %w", p.path, err)
		}
		// The run's Go copies are garbage now: collect them and give the
		// memory back before the next run makes as many again.
		debug.FreeOSMemory()
		if bar != nil {
			bar.Add(1)
		}
	}
	return nil
}

// passes splits the probed activations, in graph order, into groups whose
// values fit the memory budget beside one inference at the largest
// calibration photo's size. Each activation's size per model input pixel
// is measured by one run at a small size (convolutional models' tensors
// grow with the pixels).
func (o *Options) passes(ctx context.Context, spec *model.Spec, m *onnxgraph.Model, probed []string, photos []decoded) ([][]int, error) {
	perPixel, err := o.valuesPerPixel(ctx, spec, m, probed)
	if err != nil {
		return nil, err
	}
	var px int64
	var worst decoded
	for _, p := range photos {
		if p.d.Pixels() > px {
			px, worst = p.d.Pixels(), p
		}
	}
	groups, need := groupBySize(perPixel, px, o.budget.Limit-o.budget.Cost.Bytes(px))
	if groups != nil {
		var total float64
		for _, pp := range perPixel {
			total += pp * float64(px) * 4
		}
		o.logf("the %d activations take about %s at %d pixels, beside an inference of about %s (%s)\n", len(probed),
			sysmem.FormatBytes(int64(total)), px, sysmem.FormatBytes(o.budget.Cost.Bytes(px)), o.budget.Cost)
		return groups, nil
	}
	w, h := worst.d.Geom.ModelW, worst.d.Geom.ModelH
	msg := fmt.Sprintf("calibrating at %dx%d (%s) needs about %s for an inference and its largest activation, more than the memory budget %s (%s)",
		w, h, worst.path, sysmem.FormatBytes(o.budget.Cost.Bytes(px)+need), sysmem.FormatBytes(o.budget.Limit), o.budget.Source)
	if spec.Dynamic() {
		mult := max(1, spec.Multiple)
		for side := min(o.MaxSide, max(w, h)) / mult * mult; side >= mult; side -= mult {
			g, err := spec.Fit(worst.d.Source.X, worst.d.Source.Y, side)
			if err != nil {
				continue
			}
			p := int64(g.ModelW) * int64(g.ModelH)
			if _, n := groupBySize(perPixel, p, o.budget.Limit/10*9-o.budget.Cost.Bytes(p)); n == 0 {
				return nil, setup("%s: use --max-size %d or less, or raise --mem-budget", msg, side)
			}
		}
	}
	return nil, setup("%s: raise --mem-budget", msg)
}

// copiesPerActivation is how many times an exposed activation is held at
// the end of a run: ONNX Runtime's output (its arena keeps the space until
// the session closes) and the Go copy onnxruntime_go makes of every
// output. Measured on AnimeGANv2 at 512x360 with all 50 exposed (997 MiB
// of values): 2.14 GB in all, where inference alone is about 0.47 GB.
const copiesPerActivation = 2

// groupBySize packs tensors of perPixel values per pixel, at px pixels,
// into consecutive groups of at most room bytes, each exposed tensor
// counted copiesPerActivation times. When one tensor alone is larger than
// room it returns nil and that tensor's bytes.
func groupBySize(perPixel []float64, px, room int64) (groups [][]int, tooLarge int64) {
	var cur []int
	var used int64
	for i, pp := range perPixel {
		n := int64(pp * float64(px) * 4 * copiesPerActivation)
		if n > room {
			return nil, n
		}
		if used+n > room && len(cur) > 0 {
			groups = append(groups, cur)
			cur, used = nil, 0
		}
		cur = append(cur, i)
		used += n
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups, 0
}

// valuesPerPixel measures how many values each probed activation holds
// per model input pixel: one run of the model with all of them exposed,
// on a grey image at a small size (a fixed-size model's own), cheap
// whatever the budget.
func (o *Options) valuesPerPixel(ctx context.Context, spec *model.Spec, m *onnxgraph.Model, probed []string) ([]float64, error) {
	w, h := spec.FixedW, spec.FixedH
	if spec.Dynamic() {
		mult := max(1, spec.Multiple)
		w = max(64/mult, 2) * mult
		h = w
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	perPixel := make([]float64, len(probed))
	err := o.calibratePass(ctx, spec, m, probed, []decoded{{path: "a grey test image", d: &convert.Decoded{Img: img}}},
		model.SessionOptions{IntraOpThreads: o.Cores, InterOpThreads: 1}, func(j int, v []float32) {
			perPixel[j] = float64(len(v)) / float64(w*h)
		}, nil)
	if err != nil {
		return nil, fmt.Errorf("measuring the activations' sizes: %w", err)
	}
	return perPixel, nil
}

func (o *Options) bar(n int, what string) *progressbar.ProgressBar {
	w := o.Log
	if w == nil {
		w = io.Discard
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(200*time.Millisecond))
}

// check converts the held-back photos with both models, as convert does,
// and measures how far apart the results are and how long each took.
// The fp32 model converts them all first and its session is closed before
// the int8 model's is made: ONNX Runtime's arena keeps a session's peak
// until it closes, and two at once would need twice the memory.
func (o *Options) check(ctx context.Context, fp32 *convert.Engine, spec *model.Spec, int8Data []byte, held []decoded, res *Result) error {
	spec8, err := model.Inspect(o.Out, int8Data, o.Overrides)
	if err != nil {
		return err
	}
	bar := o.bar(2*len(held), "checking")
	// One untimed run first: the first inference of a session pays for
	// its allocations.
	run := func(e *convert.Engine, which string) ([]*image.NRGBA, []time.Duration, error) {
		if _, err := e.Infer(ctx, held[0].d, convert.Steady); err != nil {
			return nil, nil, fmt.Errorf("checking on %s%s: %w", held[0].path, which, err)
		}
		outs := make([]*image.NRGBA, len(held))
		times := make([]time.Duration, len(held))
		for i, p := range held {
			start := time.Now()
			outs[i], err = e.Infer(ctx, p.d, convert.Steady)
			times[i] = time.Since(start)
			if err != nil {
				return nil, nil, fmt.Errorf("checking on %s%s: %w", p.path, which, err)
			}
			bar.Add(1)
		}
		return outs, times, nil
	}
	ref, tf, err := run(fp32, "")
	fp32.Close()
	sysmem.ReleaseFreed()
	if err != nil {
		return err
	}
	q, err := convert.NewEngine(spec8, int8Data, convert.EngineOptions{MaxSide: o.MaxSide, Workers: 1,
		Session: model.DefaultSessionOptions(1, o.Cores), MemBudget: -1, Cores: o.Cores})
	if err != nil {
		return fmt.Errorf("the int8 model does not load: %w", err)
	}
	defer q.Close()
	got, ti, err := run(q, " with the int8 model")
	if err != nil {
		return err
	}
	bar.Finish()
	res.MeanPSNR, res.WorstPSNR = 0, math.Inf(1)
	worst := ""
	for i, p := range held {
		psnr := PSNR(ref[i], got[i])
		res.Checked = append(res.Checked, PhotoCheck{Path: p.path, W: p.d.Geom.ModelW, H: p.d.Geom.ModelH, PSNR: psnr, FP32: tf[i], INT8: ti[i]})
		res.FP32 += tf[i]
		res.INT8 += ti[i]
		res.MeanPSNR += psnr / float64(len(held))
		if psnr < res.WorstPSNR {
			res.WorstPSNR, worst = psnr, p.path
		}
	}
	if res.WorstPSNR < o.MinPSNR {
		return &QualityError{Worst: res.WorstPSNR, Mean: res.MeanPSNR, Min: o.MinPSNR, Photo: worst}
	}
	return nil
}

// MaxPSNR stands for identical images, whose PSNR is infinite.
const MaxPSNR = 100.0

// PSNR is the peak signal-to-noise ratio of b against a over the RGB
// channels of 8-bit images of one size, in dB (MaxPSNR when equal).
func PSNR(a, b *image.NRGBA) float64 {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	if b.Rect.Dx() != w || b.Rect.Dy() != h {
		return 0
	}
	var sum float64
	for y := range h {
		ra := a.Pix[y*a.Stride : y*a.Stride+4*w]
		rb := b.Pix[y*b.Stride : y*b.Stride+4*w]
		for i := 0; i < len(ra); i += 4 {
			for c := range 3 {
				d := float64(ra[i+c]) - float64(rb[i+c])
				sum += d * d
			}
		}
	}
	if sum == 0 {
		return MaxPSNR
	}
	mse := sum / float64(3*w*h)
	return min(MaxPSNR, 10*math.Log10(255*255/mse))
}
