package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrInvalid is wrapped by the error Run returns for an unusable Config or
// Stages.
var ErrInvalid = errors.New("pipeline: invalid configuration")

// ErrCanceled matches (with errors.Is) the error of every item that was
// abandoned because the run was cancelled, as opposed to one that failed.
// The same error also unwraps to the cancellation's cause (context.Canceled,
// context.DeadlineExceeded, the error done returned, ...) or to the stage
// function's own error if it gave up because of the cancellation.
var ErrCanceled = errors.New("pipeline: canceled")

// StageError is the error of a failed or cancelled item: the stage where it
// stopped and why. For an item dropped between stages, Stage is the stage
// it did not get to start.
type StageError struct {
	Stage Stage
	Err   error
}

func (e *StageError) Error() string { return string(e.Stage) + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// PanicError is a panic recovered from a stage function (or Admit, or the
// OnStart observer, or the source iterator), with the stack of the
// goroutine at the point of the panic.
type PanicError struct {
	Value any
	Stack []byte
}

func newPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap exposes the panic value when it is an error, so that
// errors.Is/As can see through a panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// canceledError marks an item as abandoned. It is unexported: callers test
// for it with errors.Is(err, ErrCanceled) and reach the reasons by
// unwrapping: cause is why the run was cancelled (context.Cause), err is
// what the stage function returned if it gave up on noticing it (nil for
// items dropped before their stage started).
type canceledError struct{ cause, err error }

func (e *canceledError) Error() string {
	switch {
	case e.err != nil:
		return "canceled: " + e.err.Error()
	case e.cause != nil:
		return "canceled: " + e.cause.Error()
	}
	return ErrCanceled.Error()
}

func (e *canceledError) Is(target error) bool { return target == ErrCanceled }

func (e *canceledError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.err, e.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// protect calls f, turning a panic into a *PanicError. The stack is taken
// inside the deferred function, while the panicking frames are still on the
// stack, so it shows where the panic happened.
func protect[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newPanicError(p)
		}
	}()
	return f()
}

// classify wraps a stage function's error for the item's Result. An error
// that is the run's cancellation coming back (the function noticed ctx and
// gave up) counts as cancelled, not failed: the item was not done, but
// nothing is known to be wrong with it. A stage may also say so explicitly
// by returning an error wrapping ErrCanceled. A panic is always a failure.
func classify(ctx context.Context, stage Stage, err error) (status, error) {
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, ErrCanceled):
		return statusCanceled, &StageError{Stage: stage, Err: err}
	case ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx))):
		return statusCanceled, &StageError{Stage: stage, Err: &canceledError{cause: context.Cause(ctx), err: err}}
	}
	return statusFailed, &StageError{Stage: stage, Err: err}
}
