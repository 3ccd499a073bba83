package runner

import (
	"errors"
	"fmt"
	"io"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// ErrBadInput is wrapped by every error that a retry cannot fix: an invalid
// spec, data that cannot be opened or parsed, an unknown architecture, a
// model artifact that does not load or whose digest differs from the
// spec's, a dataset that does not fit the model. ExitCode maps it to
// runspec.ExitBadInput, so the Job fails at once instead of retrying.
var ErrBadInput = errors.New("bad input")

// badInputError carries a message and marks it as bad input without
// prefixing the message (it ends up in a cohort's condition).
type badInputError struct{ err error }

func (e *badInputError) Error() string   { return e.err.Error() }
func (e *badInputError) Unwrap() []error { return []error{e.err, ErrBadInput} }

// badInput returns an error wrapping ErrBadInput, formatted like fmt.Errorf
// (%w works).
func badInput(format string, args ...any) error {
	return &badInputError{err: fmt.Errorf(format, args...)}
}

// asBadInput marks err as bad input (nil stays nil).
func asBadInput(err error) error {
	if err == nil || errors.Is(err, ErrBadInput) {
		return err
	}
	return &badInputError{err: err}
}

// storageError wraps a storage error with context and marks it as bad input
// when it is permanent (missing object, access denied, malformed URI); other
// storage errors (network, throttling) stay retryable.
func storageError(err error, format string, args ...any) error {
	wrapped := fmt.Errorf(format+": %w", append(args, err)...)
	if storage.Permanent(err) {
		return asBadInput(wrapped)
	}
	return wrapped
}

// ExitCode maps an error of Run to the trainer's exit code: runspec.ExitOK
// for nil, runspec.ExitBadInput for errors wrapping ErrBadInput,
// runspec.ExitFailure (retry) for anything else.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return runspec.ExitOK
	case errors.Is(err, ErrBadInput):
		return runspec.ExitBadInput
	default:
		return runspec.ExitFailure
	}
}

// ioErrReader remembers the first read error other than io.EOF, so that a
// parser's failure can be told apart: the data is malformed (bad input) or
// the storage failed under it (classified by storage.Permanent).
type ioErrReader struct {
	r   io.Reader
	err error
}

func (r *ioErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// classifyRead turns a parser error into a classified error: a storage
// failure under the parser keeps the storage classification, anything else
// is malformed input.
func classifyRead(r *ioErrReader, err error, format string, args ...any) error {
	if r.err != nil {
		return storageError(r.err, format, args...)
	}
	return badInput(format+": %w", append(args, err)...)
}
