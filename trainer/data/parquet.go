package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet inputs hold the same columns as the CSV ones, found by name (top
// level, any order; extra columns are ignored). Each value is turned into the
// text the CSV reader would have seen, so that both formats share the
// validation of the readers:
//
//   - BYTE_ARRAY columns are read as strings; INT32 and INT64 ones as decimal
//     integers (unsigned when annotated so). Ids (user, item, userId,
//     movieId), categories, title and genres may be either.
//   - label: BOOLEAN, INT32, INT64, FLOAT or DOUBLE, 0 or 1.
//   - rating: FLOAT or DOUBLE (or INT32/INT64 for whole stars).
//   - timestamp: INT64 or INT32 seconds, or a TIMESTAMP column in any unit,
//     converted to whole seconds (rounded down).
//
// Columns may be required or optional, but a null value is an error, as are
// repeated (list) columns and other logical types (DECIMAL, DATE, ...).
// Problems are *RowErrors naming the file and, where there is one, the row
// group and the row within it, both 1-based.

// parquetBatch is how many values of a column are decoded at a time.
const parquetBatch = 256

// parquetSource is a source reading a Parquet file one page per column at a
// time.
type parquetSource struct {
	name   string
	ra     *errReaderAt
	groups []parquet.RowGroup
	cols   []parquetColumn // one per wanted name, in the order of want
	group  int             // index of the current row group; -1 before the first
	row    int64           // rows of the current group returned so far
	rows   int64           // rows in the current group
	curs   []valueCursor   // one per cols entry, within the current group
}

// parquetColumn is a wanted column of the file.
type parquetColumn struct {
	name   string
	index  int // leaf column index in the file schema
	format func(parquet.Value) string
}

// rowsHint is the file's row count, from its footer.
func (s *parquetSource) rowsHint() int64 {
	var n int64
	for _, g := range s.groups {
		n += g.NumRows()
	}
	return n
}

// openParquet opens the Parquet file held by r and finds the wanted columns.
func openParquet(name string, r io.ReaderAt, size int64, want []string) (_ source, err error) {
	s := &parquetSource{name: name, ra: &errReaderAt{r: r, size: size}, group: -1}
	defer s.recoverPanic(&err)
	if err := checkParquetFooter(s.ra, size); err != nil {
		return nil, s.wrap(fmt.Errorf("not a readable Parquet file: %w", err))
	}
	f, err := parquet.OpenFile(s.ra, size,
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, s.wrap(fmt.Errorf("not a readable Parquet file: %w", err))
	}
	schema := f.Schema()
	names := topLevelNames(schema)
	for _, w := range want {
		leaf, ok := schema.Lookup(w)
		if !ok && slices.Contains(names, w) || ok && leaf.MaxRepetitionLevel > 0 {
			return nil, s.errorf("column %q is a group or list; want one value per row", w)
		}
		if !ok {
			return nil, s.errorf("no column %q (want columns %s, found %s)",
				w, strings.Join(want, ","), strings.Join(names, ","))
		}
		conv, err := parquetFormat(w, leaf.Node.Type())
		if err != nil {
			return nil, s.errorf("column %q: %w", w, err)
		}
		s.cols = append(s.cols, parquetColumn{name: w, index: leaf.ColumnIndex, format: conv})
	}
	s.groups = f.RowGroups()
	s.curs = make([]valueCursor, len(s.cols))
	return s, nil
}

// checkParquetFooter checks the trailer (footer length and magic) before
// parquet-go reads it: parquet-go allocates the footer length it finds,
// up to 4 GiB, before it checks it against the file size.
func checkParquetFooter(r io.ReaderAt, size int64) error {
	const trailer = 4 + len(parquetMagic) // footer length, magic
	if size < int64(len(parquetMagic)+trailer) {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var b [trailer]byte
	if _, err := r.ReadAt(b[:], size-int64(trailer)); err != nil && err != io.EOF {
		return fmt.Errorf("reading the footer: %w", err)
	}
	if string(b[4:]) != parquetMagic {
		return fmt.Errorf("no magic bytes %q at the end (truncated, or encrypted)", parquetMagic)
	}
	if n := int64(binary.LittleEndian.Uint32(b[:4])); n > size-int64(len(parquetMagic)+trailer) {
		return fmt.Errorf("footer length %d exceeds the file's %d bytes (truncated?)", n, size)
	}
	return nil
}

func topLevelNames(schema *parquet.Schema) []string {
	var names []string
	for _, f := range schema.Fields() {
		names = append(names, f.Name())
	}
	return names
}

// next implements source.
func (s *parquetSource) next(dst []string) (_ []string, err error) {
	defer s.recoverPanic(&err)
	for s.row >= s.rows {
		if err := s.nextGroup(); err != nil {
			return nil, err
		}
	}
	s.row++
	dst = dst[:0]
	for k := range s.cols {
		c := &s.cols[k]
		v, err := s.curs[k].next()
		if err == io.EOF {
			return nil, s.errorf("column %q ends before the row group's %d rows", c.name, s.rows)
		}
		if err != nil {
			return nil, s.wrap(fmt.Errorf("column %q: %w", c.name, err))
		}
		if v.IsNull() {
			return nil, s.errorf("%s is null", c.name)
		}
		dst = append(dst, c.format(v))
	}
	return dst, nil
}

// nextGroup moves to the next row group, or returns io.EOF after the last.
func (s *parquetSource) nextGroup() error {
	for i := range s.curs {
		s.curs[i].close()
	}
	if s.group+1 >= len(s.groups) {
		s.group, s.row, s.rows = len(s.groups), 0, 0
		return io.EOF
	}
	s.group++
	s.row = 0
	g := s.groups[s.group]
	s.rows = g.NumRows()
	if s.rows < 0 {
		return s.errorf("negative row count %d", s.rows)
	}
	chunks := g.ColumnChunks()
	for k, c := range s.cols {
		if c.index < 0 || c.index >= len(chunks) {
			return s.errorf("no data for column %q", c.name)
		}
		s.curs[k].pages = chunks[c.index].Pages()
	}
	return nil
}

// errorf implements source: a *RowError at the current row (or row group,
// or file, before the first row of either).
func (s *parquetSource) errorf(format string, args ...any) error {
	return s.at(fmt.Errorf(format, args...))
}

func (s *parquetSource) at(err error) error {
	e := s.pos()
	e.Err = err
	return e
}

// pos is the current position, without an error.
func (s *parquetSource) pos() *RowError {
	e := &RowError{File: s.name}
	if s.group >= 0 && s.group < len(s.groups) {
		e.RowGroup, e.Row = s.group+1, s.row
	}
	return e
}

// wrap locates an error of the Parquet library. When reading the input
// failed underneath it, the read error is returned instead: that is a
// storage failure, not bad input.
func (s *parquetSource) wrap(err error) error {
	if s.ra.err != nil {
		return fmt.Errorf("%s: reading Parquet input: %w", s.name, s.ra.err)
	}
	return s.at(err)
}

// recoverPanic turns a panic of the Parquet library on a malformed file into
// a *RowError (parquet-go panics on some corrupt metadata).
func (s *parquetSource) recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = s.wrap(fmt.Errorf("malformed Parquet data (%v)", r))
	}
}

// parseInt implements source.
func (s *parquetSource) parseInt(what, str string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(str), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, s.errorf("%s %q is out of the int64 range", what, str)
		}
		return 0, s.errorf("%s %q is not an integer", what, str)
	}
	return v, nil
}

// where implements source.
func (s *parquetSource) where() string { return s.pos().location() }

// valueCursor reads the values of one column chunk, one page at a time.
type valueCursor struct {
	pages  parquet.Pages
	values parquet.ValueReader // of the current page; nil between pages
	buf    []parquet.Value
	i, n   int
}

// next returns the next value of the chunk, or io.EOF after the last. Byte
// array values alias the page: use them before the following call.
func (c *valueCursor) next() (parquet.Value, error) {
	for c.i >= c.n {
		if c.pages == nil {
			return parquet.Value{}, io.EOF
		}
		if c.values == nil {
			page, err := c.pages.ReadPage()
			if err != nil {
				return parquet.Value{}, err // io.EOF after the last page
			}
			c.values = page.Values()
			if c.buf == nil {
				c.buf = make([]parquet.Value, parquetBatch)
			}
		}
		n, err := c.values.ReadValues(c.buf)
		c.i, c.n = 0, n
		if n == 0 && err == nil {
			return parquet.Value{}, io.ErrNoProgress
		}
		if err == io.EOF {
			c.values = nil
		} else if err != nil {
			return parquet.Value{}, err
		}
	}
	c.i++
	return c.buf[c.i-1], nil
}

// close releases the chunk's pages and keeps the value buffer for the next
// chunk.
func (c *valueCursor) close() {
	if c.pages != nil {
		c.pages.Close()
	}
	*c = valueCursor{buf: c.buf}
}

// errReaderAt remembers the first read error other than io.EOF, so that a
// failing storage is not reported as a malformed file. Reads outside
// [0, size), which only offsets of a malformed file ask for, fail without
// reaching r.
type errReaderAt struct {
	r    io.ReaderAt
	size int64
	err  error
}

func (r *errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > r.size {
		return 0, fmt.Errorf("offset %d is outside the file's %d bytes: %w", off, r.size, io.ErrUnexpectedEOF)
	}
	n, err := r.r.ReadAt(p, off)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// parquetFormat returns how the values of a wanted column of type typ are
// turned into CSV text, or why the column's type does not fit.
func parquetFormat(column string, typ parquet.Type) (func(parquet.Value) string, error) {
	kind := typ.Kind()
	var allowed []parquet.Kind
	switch column {
	case "label":
		allowed = []parquet.Kind{parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double}
	case "rating":
		allowed = []parquet.Kind{parquet.Float, parquet.Double, parquet.Int32, parquet.Int64}
	case "timestamp":
		allowed = []parquet.Kind{parquet.Int64, parquet.Int32}
	default:
		allowed = []parquet.Kind{parquet.ByteArray, parquet.Int32, parquet.Int64}
	}
	ok := false
	names := make([]string, len(allowed))
	for i, k := range allowed {
		ok = ok || k == kind
		names[i] = k.String()
	}
	if !ok {
		return nil, fmt.Errorf("type %s, want %s", kind, strings.Join(names, " or "))
	}
	unsigned := false
	perSecond := int64(1)
	if lt := typ.LogicalType(); lt != nil && lt.Value != nil {
		switch l := lt.Value.(type) {
		case *format.StringType, *format.EnumType:
		case *format.IntType:
			unsigned = !l.IsSigned
		case *format.TimestampType:
			if column != "timestamp" {
				return nil, fmt.Errorf("logical type %s is only accepted for timestamp", l)
			}
			switch l.Unit.Value.(type) {
			case *format.MilliSeconds:
				perSecond = 1e3
			case *format.MicroSeconds:
				perSecond = 1e6
			case *format.NanoSeconds:
				perSecond = 1e9
			default:
				return nil, fmt.Errorf("logical type %s has no known unit", l)
			}
		default:
			return nil, fmt.Errorf("logical type %s is not supported", l)
		}
	}
	if perSecond != 1 && kind != parquet.Int64 {
		return nil, fmt.Errorf("logical type %s on type %s", typ.LogicalType(), kind)
	}
	switch kind {
	case parquet.ByteArray:
		return func(v parquet.Value) string { return string(v.ByteArray()) }, nil
	case parquet.Boolean:
		return func(v parquet.Value) string {
			if v.Boolean() {
				return "1"
			}
			return "0"
		}, nil
	case parquet.Float:
		return func(v parquet.Value) string { return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32) }, nil
	case parquet.Double:
		return func(v parquet.Value) string { return strconv.FormatFloat(v.Double(), 'g', -1, 64) }, nil
	case parquet.Int32:
		if unsigned {
			return func(v parquet.Value) string { return strconv.FormatUint(uint64(v.Uint32()), 10) }, nil
		}
		return func(v parquet.Value) string { return strconv.FormatInt(int64(v.Int32()), 10) }, nil
	}
	// parquet.Int64
	switch {
	case unsigned:
		return func(v parquet.Value) string { return strconv.FormatUint(v.Uint64(), 10) }, nil
	case perSecond != 1:
		return func(v parquet.Value) string { return strconv.FormatInt(floorDiv(v.Int64(), perSecond), 10) }, nil
	}
	return func(v parquet.Value) string { return strconv.FormatInt(v.Int64(), 10) }, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
