package data

import (
	"errors"
	"fmt"
)

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

// RowError is a problem in a Parquet input. RowGroup and Row are 1-based
// (Row counts within the row group); Row is 0 when the problem concerns a
// whole row group, and both are 0 when it concerns the file (not Parquet
// after the magic bytes, truncated, a missing column or a column of the
// wrong type). Error() reads "FILE: row group G, row R: message".
type RowError struct {
	File     string // name of the input, as given by the caller
	RowGroup int
	Row      int64
	Err      error
}

func (e *RowError) Error() string { return fmt.Sprintf("%s: %v", e.location(), e.Err) }

// location is "FILE: row group G, row R", or less when not at one row.
func (e *RowError) location() string {
	switch {
	case e.RowGroup > 0 && e.Row > 0:
		return fmt.Sprintf("%s: row group %d, row %d", e.File, e.RowGroup, e.Row)
	case e.RowGroup > 0:
		return fmt.Sprintf("%s: row group %d", e.File, e.RowGroup)
	}
	return e.File
}

func (e *RowError) Unwrap() error { return e.Err }

// IsInputError reports whether err is, or wraps, a *LineError or a
// *RowError: the input is malformed (bad input), as opposed to an input
// that could not be read.
func IsInputError(err error) bool {
	var le *LineError
	var re *RowError
	return errors.As(err, &le) || errors.As(err, &re)
}
