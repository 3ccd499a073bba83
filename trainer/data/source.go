package data

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// source yields the wanted fields of an input's records, whatever the
// input's format, so that every format is validated by the same reader code.
// CSV (*table) and Parquet (*parquetSource) implement it.
type source interface {
	// next returns the wanted fields of the next record, in the order of
	// want, or io.EOF. The returned slice is reused by the following call.
	next(dst []string) ([]string, error)
	// errorf returns a bad-input error (*LineError or *RowError) located at
	// the record last returned by next.
	errorf(format string, args ...any) error
	// parseInt parses a base-10 int64 field, tolerating surrounding spaces;
	// failures are errorf errors.
	parseInt(what, s string) (int64, error)
	// where names the position of the record last returned by next, with
	// the input's name: "ratings.csv:17" or
	// "ratings.parquet: row group 2, row 17".
	where() string
	// rowsHint is the number of records the input holds when its format
	// says so up front (Parquet's footer), else 0.
	rowsHint() int64
}

// parquetMagic starts (and ends) every Parquet file.
const parquetMagic = "PAR1"

// openSource opens in as Parquet when it starts with the Parquet magic
// bytes "PAR1", and as CSV with a header row otherwise. want names the
// columns to read (any order; extra columns are ignored; a missing one is an
// error naming it).
//
// Parquet needs random access. When in.Reader is an *os.File of a regular
// file, or implements io.ReaderAt, io.Seeker and Size() int64 (as
// *bytes.Reader, *strings.Reader and *io.SectionReader do), the Parquet file
// is read in place from the current offset to the end; any other reader is
// read into memory first. Either way the rows are decoded one page at a
// time, never the whole file at once.
func openSource(in Input, want []string) (source, error) {
	if in.Reader == nil {
		return nil, fmt.Errorf("%s: nil reader", in.Name)
	}
	if ra, size, ok := sizedReaderAt(in.Reader); ok {
		var magic [len(parquetMagic)]byte
		n, err := ra.ReadAt(magic[:], 0)
		if n == len(magic) && string(magic[:]) == parquetMagic {
			return openParquet(in.Name, ra, size, want)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: reading the first bytes: %w", in.Name, err)
		}
		return openTable(in, want)
	}
	br, ok := in.Reader.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(in.Reader)
	}
	// A Peek error (short input, or a read error that the CSV reader will
	// meet again) just means "not Parquet".
	if magic, _ := br.Peek(len(parquetMagic)); string(magic) == parquetMagic {
		b, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("%s: reading Parquet input: %w", in.Name, err)
		}
		return openParquet(in.Name, bytes.NewReader(b), int64(len(b)), want)
	}
	return openTable(Input{Name: in.Name, Reader: br}, want)
}

// sizedReaderAt returns random access to the rest of r (from its current
// offset) when r offers it.
func sizedReaderAt(r io.Reader) (io.ReaderAt, int64, bool) {
	var (
		ra   io.ReaderAt
		sk   io.Seeker
		size int64
	)
	switch x := r.(type) {
	case interface {
		io.ReaderAt
		io.Seeker
		Size() int64
	}:
		ra, sk, size = x, x, x.Size()
	case *os.File:
		fi, err := x.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return nil, 0, false
		}
		ra, sk, size = x, x, fi.Size()
	default:
		return nil, 0, false
	}
	off, err := sk.Seek(0, io.SeekCurrent)
	if err != nil || off < 0 || off > size {
		return nil, 0, false
	}
	return io.NewSectionReader(ra, off, size-off), size - off, true
}
