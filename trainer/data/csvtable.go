package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Input is a named stream of CSV text or a Parquet file (recognised by its
// leading magic bytes "PAR1"; see openSource for when it is read in place).
// Name is used in error messages ("ratings.csv:17: ..."); with the file
// helpers it is the path.
type Input struct {
	Name   string
	Reader io.Reader
}

// table reads a CSV file with a header row naming its columns.
type table struct {
	name   string
	r      *csv.Reader
	header []string
	col    []int // col[k] is the column index of the k-th wanted name
	line   int   // line of the record last returned by next
}

// openTable reads the header and finds the wanted columns (any order; extra
// columns are ignored). A missing, empty or duplicated column name is an
// error at line 1.
func openTable(in Input, want []string) (*table, error) {
	if in.Reader == nil {
		return nil, fmt.Errorf("%s: nil reader", in.Name)
	}
	r := csv.NewReader(in.Reader)
	r.ReuseRecord = true
	// FieldsPerRecord 0: every row must have as many fields as the header.
	header, err := r.Read()
	if err == io.EOF {
		return nil, lineErrorf(in.Name, 1, "empty file, want header %s", strings.Join(want, ","))
	}
	if err != nil {
		return nil, csvError(in.Name, err)
	}
	header = slices.Clone(header)
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // byte-order mark from spreadsheet exports
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	t := &table{name: in.Name, r: r, header: header, col: make([]int, len(want)), line: 1}
	seen := make(map[string]int, len(header))
	for i, h := range header {
		if j, dup := seen[h]; dup {
			return nil, lineErrorf(in.Name, 1, "header names column %q twice (columns %d and %d)", h, j+1, i+1)
		}
		seen[h] = i
	}
	for k, w := range want {
		i, ok := seen[w]
		if !ok {
			return nil, lineErrorf(in.Name, 1, "header %q lacks column %q (want %s)", strings.Join(header, ","), w, strings.Join(want, ","))
		}
		t.col[k] = i
	}
	return t, nil
}

// next returns the wanted fields of the next record, in the order of want,
// or io.EOF. The returned slice is reused by the following call.
func (t *table) next(dst []string) ([]string, error) {
	rec, err := t.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, csvError(t.name, err)
	}
	t.line, _ = t.r.FieldPos(0)
	if t.isHeader(rec) {
		return nil, lineErrorf(t.name, t.line, "header row repeated")
	}
	dst = dst[:0]
	for _, i := range t.col {
		dst = append(dst, rec[i])
	}
	return dst, nil
}

func (t *table) isHeader(rec []string) bool {
	for i := range rec {
		if strings.TrimSpace(rec[i]) != t.header[i] {
			return false
		}
	}
	return true
}

func (t *table) errorf(format string, args ...any) error {
	return lineErrorf(t.name, t.line, format, args...)
}

// where is "NAME:LINE" of the record last returned by next.
func (t *table) where() string { return fmt.Sprintf("%s:%d", t.name, t.line) }

// csvError turns an encoding/csv error into a LineError.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &LineError{File: name, Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("%s: %w", name, err)
}

// parseInt parses a base-10 int64, tolerating surrounding spaces.
func (t *table) parseInt(what, s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, t.errorf("%s %q is out of the int64 range", what, s)
		}
		return 0, t.errorf("%s %q is not an integer", what, s)
	}
	return v, nil
}

// openFile opens path for a loader; the caller closes it.
func openFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening input: %w", err)
	}
	return f, nil
}

// rowsHint is 0: a CSV file does not say how many records it holds.
func (t *table) rowsHint() int64 { return 0 }
