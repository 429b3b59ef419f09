package imageio

import "errors"

// Sentinel errors. Every error returned by Probe and Decode for a bad input
// matches exactly one of them with errors.Is; I/O errors of the reader
// are passed through wrapped.
var (
	// ErrTooLarge: the header claims more pixels than DecodeOptions.MaxPixels.
	ErrTooLarge = errors.New("image too large")
	// ErrUnsupported: the content is not a format this package decodes
	// (message "unsupported format HEIC", "unknown format", ...), or it uses a
	// feature of a supported format that the decoder lacks.
	ErrUnsupported = errors.New("unsupported format")
	// ErrCorrupt: a recognised format whose data is damaged or cut short.
	ErrCorrupt = errors.New("corrupt or truncated")
	// ErrEmpty: the input has no bytes at all.
	ErrEmpty = errors.New("empty file")
)

// formatError is an ErrUnsupported with its own message.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }
func (e *formatError) Unwrap() error { return ErrUnsupported }
