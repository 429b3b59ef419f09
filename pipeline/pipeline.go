// Package pipeline runs items through three stages — decode, infer, encode —
// each served by a fixed pool of goroutines connected by bounded channels.
//
// The package knows nothing about images or models: the stage functions are
// supplied by the caller. What it provides is the plumbing that is easy to
// get subtly wrong: bounded memory, back-pressure, cancellation that never
// loses an item, panic isolation, and enough timing data to tell which stage
// limits throughput.
//
// Shape of a run:
//
//	items ─▶ feeder ─src─▶ decoders ─dec─▶ inferers ─inf─▶ encoders
//	                          │               │               │
//	                          └───────────────┴───────────────┴──▶ results ─▶ done
//
// Every item pulled from the source produces exactly one Result, delivered
// to done on the goroutine that called Run. Successful items leave through
// the encoders; failed or cancelled ones leave from wherever they stopped.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Stage names one of the three stages. The values are stable strings so they
// can go straight into logs and reports.
type Stage string

const (
	StageDecode Stage = "decode"
	StageInfer  Stage = "infer"
	StageEncode Stage = "encode"
)

// stages lists the stages in pipeline order; ties in Bottleneck are broken
// by this order.
var stages = [...]Stage{StageDecode, StageInfer, StageEncode}

// Config sizes the pipeline. The zero value is not valid: every stage needs
// at least one worker, so that a forgotten field fails loudly instead of
// silently serialising a stage.
type Config struct {
	// Workers per stage; each must be at least 1. The pool is fixed for the
	// whole run: no goroutine is ever started per item.
	Decoders, Inferers, Encoders int

	// Queue is the capacity of each channel between stages (source→decode,
	// decode→infer, infer→encode). Zero means "the worker count of the
	// stage the channel feeds", which is enough to keep every worker of
	// that stage busy while upstream produces the next batch, without
	// letting upstream run far ahead. Negative is invalid.
	Queue int

	// Drain, when closed, stops the pipeline from pulling new items from
	// the source. Items already pulled run to completion normally, and Run
	// returns nil once they have been reported. Contrast with cancelling
	// ctx, which also aborts items in flight. A nil Drain never fires.
	Drain <-chan struct{}
}

// queue returns the capacity of the channel feeding a stage of the given
// worker count.
func (c Config) queue(workers int) int {
	if c.Queue > 0 {
		return c.Queue
	}
	return workers
}

// MaxLive is the most items that can be alive at once between the start of
// Decode and the end of Encode: one per worker (a worker holds a single item
// whether it is running the stage, waiting for admission, or waiting to hand
// the item on) plus the capacity of the two channels between the stages.
// Multiply by the size of a decoded image to bound the pipeline's memory.
//
// Items that are only pulled (not yet decoded) are not counted: the feeder
// holds one and the source channel up to Queue more, but those are source
// values (typically file names), not decoded data.
func (c Config) MaxLive() int {
	return c.Decoders + c.queue(c.Inferers) + c.Inferers + c.queue(c.Encoders) + c.Encoders
}

func (c Config) validate() error {
	if c.Decoders < 1 || c.Inferers < 1 || c.Encoders < 1 {
		return fmt.Errorf("%w: need at least one worker per stage (decoders=%d inferers=%d encoders=%d)",
			ErrInvalid, c.Decoders, c.Inferers, c.Encoders)
	}
	if c.Queue < 0 {
		return fmt.Errorf("%w: negative queue capacity %d", ErrInvalid, c.Queue)
	}
	return nil
}

// Stages holds the caller's functions. Each stage function is called from
// several worker goroutines at once (as many as that stage has workers), so
// it must be safe for concurrent use. All of them receive the run's context,
// which is cancelled when the caller's ctx is, or when done fails; a
// long-running function should watch it.
//
// A panic in any of these functions becomes the item's error (a
// *PanicError inside a *StageError) and the run carries on.
type Stages[S, D, I any] struct {
	// Decode turns a source item (say, a file path) into decoded data.
	Decode func(ctx context.Context, src S) (D, error)

	// Admit is optional. It runs in the infer worker before Infer and may
	// block, for instance on a weighted semaphore keyed on the memory the
	// inference will need. On success it returns a release function (nil
	// is allowed) that is called once Infer has returned, even if Infer
	// panicked. Time spent in Admit is reported as admit wait, separately
	// from Infer's busy time. An Admit error fails the item at StageInfer.
	Admit func(ctx context.Context, d D) (release func(), err error)

	// Infer runs the model.
	Infer func(ctx context.Context, d D) (I, error)

	// Encode writes the result. An item whose Encode returns nil is
	// reported as successful.
	Encode func(ctx context.Context, i I) error

	// OnStart is optional: an observer called by a worker just before it
	// runs a stage function on an item (for StageInfer, after admission).
	// It is called concurrently from many workers and its time counts as
	// the stage's busy time, so keep it short and thread-safe. For
	// progress counting use done, which runs on a single goroutine.
	OnStart func(stage Stage, src S)
}

func (st Stages[S, D, I]) validate() error {
	if st.Decode == nil || st.Infer == nil || st.Encode == nil {
		return fmt.Errorf("%w: Decode, Infer and Encode are required", ErrInvalid)
	}
	return nil
}

// Result reports what happened to one item.
type Result[S any] struct {
	Item S

	// Err is nil on success. Otherwise it is a *StageError naming the
	// stage where the item stopped. If a stage function panicked, the
	// StageError wraps a *PanicError. If the item was abandoned because
	// the run was cancelled (it never ran, or its stage function returned
	// the context's error), errors.Is(Err, ErrCanceled) is true — use
	// Canceled to tell "not done" apart from "failed".
	Err error

	Timings Timings
}

// Canceled reports whether the item was abandoned by cancellation rather
// than failed: it may well succeed if submitted again.
func (r Result[S]) Canceled() bool { return errors.Is(r.Err, ErrCanceled) }

// Timings breaks down where one item spent its time. Fields for stages the
// item never reached are zero.
type Timings struct {
	// DecodeWait, InferWait and EncodeWait are the time from when the
	// item was ready for the stage (pulled from the source, or finished
	// by the previous stage) until a worker of the stage took it. This
	// includes any time the upstream worker spent blocked on a full
	// channel: from the item's point of view that is all waiting for the
	// stage.
	DecodeWait, InferWait, EncodeWait time.Duration

	// Decode, Infer and Encode are the time spent inside the stage
	// function (busy time).
	Decode, Infer, Encode time.Duration

	// AdmitWait is the time spent in Stages.Admit.
	AdmitWait time.Duration

	// Latency is the time from pulling the item from the source until its
	// result was handed to done.
	Latency time.Duration
}

func (t *Timings) setWait(s Stage, d time.Duration) {
	switch s {
	case StageDecode:
		t.DecodeWait = d
	case StageInfer:
		t.InferWait = d
	case StageEncode:
		t.EncodeWait = d
	}
}

func (t *Timings) setBusy(s Stage, d time.Duration) {
	switch s {
	case StageDecode:
		t.Decode = d
	case StageInfer:
		t.Infer = d
	case StageEncode:
		t.Encode = d
	}
}

// Run pulls items from the source and passes each through Decode, (Admit,)
// Infer and Encode, then calls done with its Result.
//
// done is called exactly once for every item pulled from items, always on
// the goroutine that called Run, so it needs no locking; done may be nil. If
// done returns an error the run fails fast: in-flight work is cancelled, no
// more items are pulled, and Run returns that error. done is still called
// for the items that were already in the pipeline (mostly with cancelled
// results), so the caller's accounting stays complete; its return value is
// ignored from then on.
//
// Per-item failures, including panics, do not stop the run; they are
// reported through done and counted in Stats.
//
// Stopping early: closing cfg.Drain stops pulling and lets in-flight items
// finish (Run returns nil); cancelling ctx aborts in-flight work too — stage
// functions see their context cancelled and items that had not finished are
// reported with errors matching ErrCanceled — and Run returns
// context.Cause(ctx). Either way Run returns only after every goroutine it
// started has exited.
//
// The source is ranged over on a goroutine of its own. The pipeline can only
// stop it between items: an iterator that blocks (waiting on a channel, say)
// should watch ctx itself. A panic in the iterator stops the run as if ctx
// had been cancelled and Run returns it as a *PanicError.
//
// Run returns an error wrapping ErrInvalid, without pulling any item, if cfg
// or st is unusable.
func Run[S, D, I any](ctx context.Context, cfg Config, items iter.Seq[S], st Stages[S, D, I], done func(Result[S]) error) (Stats, error) {
	if err := cfg.validate(); err != nil {
		return Stats{}, err
	}
	if err := st.validate(); err != nil {
		return Stats{}, err
	}
	if items == nil {
		return Stats{}, fmt.Errorf("%w: nil items", ErrInvalid)
	}
	start := time.Now()

	// Two layers of cancellation: failCtx lets the collector (which is not
	// part of the errgroup: it is this goroutine) cancel everything with
	// done's error as the cause; the errgroup's context additionally
	// cancels if the feeder returns an error (an iterator panic).
	failCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	g, gctx := errgroup.WithContext(failCtx)

	r := &runner[S]{
		ctx: gctx,
		// Results are small (source item, error, timings), so a buffer
		// the size of the worker pools is cheap and keeps workers from
		// stalling on every slow call to done.
		results: make(chan message[S], cfg.Decoders+cfg.Inferers+cfg.Encoders),
	}
	// Every goroutine that can report a result must finish before results
	// is closed: the feeder plus all workers.
	r.producers.Store(int32(1 + cfg.Decoders + cfg.Inferers + cfg.Encoders))

	src := make(chan envelope[S, struct{}], cfg.queue(cfg.Decoders))
	dec := make(chan envelope[S, D], cfg.queue(cfg.Inferers))
	inf := make(chan envelope[S, I], cfg.queue(cfg.Encoders))

	var (
		decStats = make([]StageStats, cfg.Decoders)
		infStats = make([]StageStats, cfg.Inferers)
		encStats = make([]StageStats, cfg.Encoders)
		// Written by the feeder, read after g.Wait.
		feederCut bool
	)

	g.Go(func() error { return feed(r, cfg.Drain, items, src, &feederCut) })

	// Adapt the three stage functions to one shape so a single generic
	// worker loop serves all pools.
	decode := func(ctx context.Context, _ struct{}, src S) (D, error) { return st.Decode(ctx, src) }
	infer := func(ctx context.Context, d D, _ S) (I, error) { return st.Infer(ctx, d) }
	encode := func(ctx context.Context, i I, _ S) (struct{}, error) { return struct{}{}, st.Encode(ctx, i) }

	// Each pool owns its output channel; the last of its workers to exit
	// closes it, which is what lets the next pool's range loops end.
	decPool := newPool(cfg.Decoders, func() { close(dec) })
	infPool := newPool(cfg.Inferers, func() { close(inf) })
	encPool := newPool(cfg.Encoders, nil)
	for i := range cfg.Decoders {
		g.Go(func() error {
			work(r, decPool, StageDecode, src, dec, nil, decode, st.OnStart, &decStats[i])
			return nil
		})
	}
	for i := range cfg.Inferers {
		g.Go(func() error {
			work(r, infPool, StageInfer, dec, inf, st.Admit, infer, st.OnStart, &infStats[i])
			return nil
		})
	}
	for i := range cfg.Encoders {
		g.Go(func() error {
			work(r, encPool, StageEncode, inf, nil, nil, encode, st.OnStart, &encStats[i])
			return nil
		})
	}

	// Collect on this goroutine, so done is never called concurrently. The
	// loop always runs until results is closed, even after done fails:
	// that is what allows workers to send results without selecting on
	// ctx.Done() and still never block forever.
	var (
		stats   Stats
		doneErr error
	)
	for m := range r.results {
		res := m.res
		res.Timings.Latency = time.Since(m.pulled)
		stats.In++
		switch m.status {
		case statusOK:
			stats.OK++
		case statusFailed:
			stats.Failed++
		case statusCanceled:
			stats.Canceled++
		}
		if done == nil {
			continue
		}
		// A panic in done is treated like done returning an error,
		// rather than unwinding out of Run and stranding the workers
		// on a results channel nobody reads.
		_, err := protect(func() (struct{}, error) { return struct{}{}, done(res) })
		if err != nil && doneErr == nil {
			var pe *PanicError
			if errors.As(err, &pe) {
				err = fmt.Errorf("pipeline: done: %w", err)
			}
			doneErr = err
			fail(err)
		}
	}
	feedErr := g.Wait()

	stats.Decode = merge(decStats)
	stats.Infer = merge(infStats)
	stats.Encode = merge(encStats)
	stats.Wall = time.Since(start)

	switch {
	case doneErr != nil:
		return stats, doneErr
	case feedErr != nil:
		return stats, feedErr
	case ctx.Err() != nil && (feederCut || stats.Canceled > 0):
		// Only report the cancellation if it actually cut the run short;
		// a ctx cancelled after the last item finished changed nothing.
		return stats, context.Cause(ctx)
	}
	return stats, nil
}

// status is how the collector counts a result, decided where the result is
// produced so the collector need not walk error chains.
type status uint8

const (
	statusOK status = iota
	statusFailed
	statusCanceled
)

// message carries a result to the collector.
type message[S any] struct {
	res    Result[S]
	status status
	pulled time.Time
}

// envelope carries an item between stages together with its bookkeeping.
// V is the item's current form: nothing yet, then D, then I.
type envelope[S, V any] struct {
	src S
	val V
	t   Timings
	// pulled is when the feeder took the item from the source.
	pulled time.Time
	// ready is when the item became ready for the next stage; queue wait
	// is measured from here. It is set before the channel send, because
	// after a successful send the envelope belongs to the receiver.
	ready time.Time
}

// runner holds what the goroutines of one run share.
type runner[S any] struct {
	ctx       context.Context
	results   chan message[S]
	producers atomic.Int32
}

// producerDone is called by each goroutine that may send on results, as the
// last thing it does; the last one closes the channel.
func (r *runner[S]) producerDone() {
	if r.producers.Add(-1) == 0 {
		close(r.results)
	}
}

// report hands a result to the collector. It deliberately does not select
// on ctx.Done(): every pulled item must be reported, and the collector
// keeps receiving until results is closed, so this send cannot block
// forever.
func (r *runner[S]) report(m message[S]) {
	r.results <- m
}

// canceled builds the error for an item dropped at stage s.
func (r *runner[S]) canceled(s Stage) error {
	return &StageError{Stage: s, Err: &canceledError{cause: context.Cause(r.ctx)}}
}

// feed ranges over the source, sending each item to the decoders, until the
// source ends, Drain is closed or the run is cancelled.
func feed[S any](r *runner[S], drain <-chan struct{}, items iter.Seq[S], out chan<- envelope[S, struct{}], cut *bool) (err error) {
	// Registered first so it runs last, after the panic is recovered.
	defer r.producerDone()
	defer close(out)
	defer func() {
		if v := recover(); v != nil {
			*cut = true
			err = fmt.Errorf("pipeline: items iterator: %w", newPanicError(v))
		}
	}()

	drained := func() bool {
		select {
		case <-drain:
			return true
		default:
			return false
		}
	}
	if drained() {
		return nil
	}
	if r.ctx.Err() != nil {
		*cut = true
		return nil
	}
	for s := range items {
		now := time.Now()
		e := envelope[S, struct{}]{src: s, pulled: now, ready: now}
		select {
		case out <- e:
		case <-r.ctx.Done():
			*cut = true
			r.report(message[S]{res: Result[S]{Item: s, Err: r.canceled(StageDecode)}, status: statusCanceled, pulled: now})
			return nil
		}
		// Checked after the send, not before the next pull: with a push
		// iterator the next item is already pulled when the loop body
		// starts, and a pulled item must then be processed.
		if r.ctx.Err() != nil {
			*cut = true
			return nil
		}
		if drained() {
			return nil
		}
	}
	return nil
}

// pool counts the live workers of one stage so that the last to exit can
// close the stage's output channel.
type pool struct {
	live    atomic.Int32
	closeFn func()
}

func newPool(workers int, closeFn func()) *pool {
	p := &pool{closeFn: closeFn}
	p.live.Store(int32(workers))
	return p
}

func (p *pool) exit() {
	if p.live.Add(-1) == 0 && p.closeFn != nil {
		p.closeFn()
	}
}

// work is the loop of one worker of one stage. It takes items from in until
// in is closed, runs fn (after admit, if given) on each, and sends the
// output to out, or reports it as a success if out is nil (the last stage).
// Failures are reported directly to the collector.
//
// After cancellation it keeps draining in, reporting each item as
// cancelled without running fn: that is how items still sitting in the
// channels reach done, and it is quick, so upstream can exit promptly.
func work[S, In, Out any](
	r *runner[S], p *pool, stage Stage,
	in <-chan envelope[S, In], out chan<- envelope[S, Out],
	admit func(context.Context, In) (func(), error),
	fn func(ctx context.Context, val In, src S) (Out, error),
	onStart func(Stage, S),
	slot *StageStats,
) {
	// Statistics stay in a local variable and are published once at exit:
	// no sharing, no atomics on the per-item path. g.Wait orders the write
	// before Run reads it.
	var st StageStats
	st.Workers = 1
	defer r.producerDone()
	defer p.exit()
	defer func() { *slot = st }()

	ctx := r.ctx
	idleFrom := time.Now()
	for e := range in {
		took := time.Now()
		st.Idle += took.Sub(idleFrom)
		wait := took.Sub(e.ready)
		e.t.setWait(stage, wait)
		st.QueueWait += wait
		st.MaxQueueWait = max(st.MaxQueueWait, wait)

		m, ok := step(ctx, r, stage, &e, admit, fn, onStart, &st)
		switch {
		case !ok:
			handoff := time.Now()
			r.report(m.message)
			st.Blocked += time.Since(handoff)
		case out == nil:
			handoff := time.Now()
			r.report(message[S]{res: Result[S]{Item: e.src, Timings: e.t}, status: statusOK, pulled: e.pulled})
			st.Blocked += time.Since(handoff)
		default:
			next := envelope[S, Out]{src: e.src, val: m.val, t: e.t, pulled: e.pulled, ready: time.Now()}
			select {
			case out <- next:
			case <-ctx.Done():
				// The item finished this stage but will not
				// start the next: report it as dropped there.
				r.report(message[S]{
					res:    Result[S]{Item: e.src, Err: r.canceled(nextStage(stage)), Timings: e.t},
					status: statusCanceled, pulled: e.pulled,
				})
			}
			st.Blocked += time.Since(next.ready)
		}
		idleFrom = time.Now()
	}
	st.Idle += time.Since(idleFrom)
}

// stepResult is either a value for the next stage (ok) or a message for the
// collector (!ok).
type stepResult[S, Out any] struct {
	message[S]
	val Out
}

// step runs one item through admission and the stage function, updating the
// item's timings and the worker's statistics.
func step[S, In, Out any](
	ctx context.Context, r *runner[S], stage Stage, e *envelope[S, In],
	admit func(context.Context, In) (func(), error),
	fn func(ctx context.Context, val In, src S) (Out, error),
	onStart func(Stage, S),
	st *StageStats,
) (stepResult[S, Out], bool) {
	var zero stepResult[S, Out]
	fail := func(s status, err error) (stepResult[S, Out], bool) {
		if s == statusFailed {
			st.Failed++
		}
		zero.message = message[S]{res: Result[S]{Item: e.src, Err: err, Timings: e.t}, status: s, pulled: e.pulled}
		return zero, false
	}
	if ctx.Err() != nil {
		return fail(statusCanceled, r.canceled(stage))
	}

	st.Items++
	var release func()
	if admit != nil {
		t0 := time.Now()
		rel, err := protect(func() (func(), error) { return admit(ctx, e.val) })
		w := time.Since(t0)
		e.t.AdmitWait = w
		st.AdmitWait += w
		st.MaxAdmitWait = max(st.MaxAdmitWait, w)
		if err != nil {
			return fail(classify(ctx, stage, fmt.Errorf("admit: %w", err)))
		}
		release = rel
	}

	t0 := time.Now()
	v, err := protect(func() (Out, error) {
		// Deferred so that a panicking Infer still gives back what
		// Admit reserved.
		if release != nil {
			defer release()
		}
		// Admission can take long and may succeed just as the run is
		// cancelled; don't start an Infer that might not watch ctx.
		if admit != nil {
			if err := ctx.Err(); err != nil {
				var none Out
				return none, err
			}
		}
		if onStart != nil {
			onStart(stage, e.src)
		}
		return fn(ctx, e.val, e.src)
	})
	busy := time.Since(t0)
	e.t.setBusy(stage, busy)
	st.Busy += busy
	if err != nil {
		return fail(classify(ctx, stage, err))
	}
	zero.val = v
	return zero, true
}

func nextStage(s Stage) Stage {
	switch s {
	case StageDecode:
		return StageInfer
	case StageInfer:
		return StageEncode
	}
	return s
}
