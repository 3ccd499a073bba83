package data

import "fmt"

// LineError is a problem at one line of one input file. Error() reads
// "FILE:LINE: message", the form editors and CI logs link to.
type LineError struct {
	File string // name of the input, as given by the caller
	Line int    // 1-based line number
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

func lineErrorf(file string, line int, format string, args ...any) error {
	return &LineError{File: file, Line: line, Err: fmt.Errorf(format, args...)}
}
