package data

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// writeParquet encodes rows as a Parquet file with row groups of
// rowsPerGroup rows.
func writeParquet[T any](t testing.TB, rows []T, rowsPerGroup int64, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, append(opts, parquet.MaxRowsPerRowGroup(rowsPerGroup))...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stream hides everything but Read, so that openSource cannot read in place.
type stream struct{ r io.Reader }

func (s stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// bufioReader is b behind a *bufio.Reader, as the runner passes inputs.
func bufioReader(b []byte) io.Reader { return bufio.NewReaderSize(stream{bytes.NewReader(b)}, 1<<16) }

func readParquetCanonical(b []byte) (*Dataset, error) {
	return ReadCanonical(Input{Name: "samples.parquet", Reader: bytes.NewReader(b)}, CanonicalOptions{HistoryLen: 1})
}

// canonicalParquetBytes is testCanonical written as Parquet.
func canonicalParquetBytes(t testing.TB) []byte {
	t.Helper()
	ds, err := ReadCanonical(Input{Name: "samples.csv", Reader: strings.NewReader(testCanonical)}, CanonicalOptions{HistoryLen: 1})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCanonicalParquet(&buf, ds); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCanonicalParquetRoundTrip(t *testing.T) {
	want, err := readTestCanonical(testCanonical)
	if err != nil {
		t.Fatal(err)
	}
	b := canonicalParquetBytes(t)
	if !bytes.HasPrefix(b, []byte("PAR1")) {
		t.Fatalf("not Parquet: % x", b[:min(len(b), 8)])
	}
	for name, r := range map[string]io.Reader{
		"in place": bytes.NewReader(b),
		"stream":   stream{bytes.NewReader(b)},
		"buffered": bufioReader(b),
	} {
		got, err := ReadCanonical(Input{Name: "samples.parquet", Reader: r}, CanonicalOptions{HistoryLen: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(rawSamples(got), rawSamples(want)) {
			t.Errorf("%s: samples\n got %v\nwant %v", name, rawSamples(got), rawSamples(want))
		}
	}
}

func TestCanonicalParquetRoundTripSynthetic(t *testing.T) {
	cfg := DefaultSynthConfig()
	cfg.NumUsers = 40
	ds, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "gen.parquet")
	if err := WriteCanonicalParquetFile(path, ds); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCanonical(path, CanonicalOptions{HistoryLen: ds.Schema.HistoryLen})
	if err != nil {
		t.Fatal(err)
	}
	// The same dataset through CSV (whose round trip canonical_test.go
	// checks against ds) gives the same samples.
	var buf bytes.Buffer
	if err := WriteCanonicalCSV(&buf, ds); err != nil {
		t.Fatal(err)
	}
	viaCSV, err := ReadCanonical(Input{Name: "gen.csv", Reader: &buf}, CanonicalOptions{HistoryLen: ds.Schema.HistoryLen})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Samples) != len(ds.Samples) || !slices.Equal(rawSamples(back), rawSamples(viaCSV)) {
		t.Error("round trip through Parquet changed the samples")
	}
}

// Columns in another order, ids as integers, label as a boolean, an extra
// column, several row groups and an optional column without nulls.
type shuffledRow struct {
	Extra      string  `parquet:"extra"`
	Timestamp  int64   `parquet:"timestamp"`
	Label      bool    `parquet:"label"`
	Categories *string `parquet:"categories,optional"`
	Item       int64   `parquet:"item"`
	User       string  `parquet:"user,dict"`
}

func TestParquetColumnOrderAndTypes(t *testing.T) {
	ptr := func(s string) *string { return &s }
	rows := []shuffledRow{
		{"x", 10, true, ptr("A|B"), 1, "alice"},
		{"y", 5, false, ptr(""), 2, "bob"},
		{"z", 20, false, ptr(""), 2, "alice"},
		{"w", 7, true, ptr("B|A"), 1, "carol"},
		{"v", 15, true, ptr("D"), 3, "alice"},
	}
	got, err := readParquetCanonical(writeParquet(t, rows, 2))
	if err != nil {
		t.Fatal(err)
	}
	csv := "user,item,categories,label,timestamp\n" +
		"alice,1,A|B,1,10\nbob,2,,0,5\nalice,2,,0,20\ncarol,1,B|A,1,7\nalice,3,D,1,15\n"
	want, err := readTestCanonical(csv)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rawSamples(got), rawSamples(want)) {
		t.Errorf("samples\n got %v\nwant %v", rawSamples(got), rawSamples(want))
	}
}

// Many small pages in several row groups, dictionary-encoded and not.
func TestParquetManyPages(t *testing.T) {
	var rows []canonicalParquetRow
	var csv strings.Builder
	csv.WriteString("user,item,categories,label,timestamp\n")
	for i := range 5000 {
		r := canonicalParquetRow{
			User: fmt.Sprintf("u%d", i%37), Item: fmt.Sprintf("item-%d", i%101),
			Categories: fmt.Sprintf("c%d|d%d", i%101%5, i%101%3), Label: int32(i % 2), Timestamp: int64(i * 7 % 1000),
		}
		rows = append(rows, r)
		fmt.Fprintf(&csv, "%s,%s,%s,%d,%d\n", r.User, r.Item, r.Categories, r.Label, r.Timestamp)
	}
	want, err := readTestCanonical(csv.String())
	if err != nil {
		t.Fatal(err)
	}
	b := writeParquet(t, rows, 1200, parquet.PageBufferSize(512))
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.RowGroups()); n != 5 {
		t.Fatalf("%d row groups, want 5", n)
	}
	pages := f.RowGroups()[0].ColumnChunks()[4].Pages() // timestamp
	npages := 0
	for ; ; npages++ {
		if _, err := pages.ReadPage(); err != nil {
			break
		}
	}
	pages.Close()
	if npages < 3 {
		t.Fatalf("%d pages in a timestamp chunk, want several", npages)
	}
	for name, r := range map[string]io.Reader{"in place": bytes.NewReader(b), "stream": stream{bytes.NewReader(b)}} {
		got, err := ReadCanonical(Input{Name: "samples.parquet", Reader: r}, CanonicalOptions{HistoryLen: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(rawSamples(got), rawSamples(want)) {
			t.Errorf("%s: samples differ from the CSV's", name)
		}
	}
}

type timestampRow struct {
	User       string `parquet:"user"`
	Item       string `parquet:"item"`
	Categories string `parquet:"categories"`
	Label      int64  `parquet:"label"`
	Timestamp  int64  `parquet:"timestamp,timestamp(millisecond)"`
}

func TestParquetTimestampUnit(t *testing.T) {
	b := writeParquet(t, []timestampRow{{"u", "i", "", 1, 1_500_999}, {"u", "j", "", 0, -1}}, 10)
	ds, err := readParquetCanonical(b)
	if err != nil {
		t.Fatal(err)
	}
	var ts []int64
	for _, x := range ds.Samples {
		ts = append(ts, x.Timestamp)
	}
	if want := []int64{-1, 1500}; !slices.Equal(ts, want) {
		t.Errorf("timestamps %v, want %v (milliseconds rounded down to seconds)", ts, want)
	}
}

type noLabelRow struct {
	User       string `parquet:"user"`
	Item       string `parquet:"item"`
	Categories string `parquet:"categories"`
	Timestamp  int64  `parquet:"timestamp"`
}

type nullableRow struct {
	User       *string `parquet:"user,optional"`
	Item       string  `parquet:"item"`
	Categories string  `parquet:"categories"`
	Label      int32   `parquet:"label"`
	Timestamp  int64   `parquet:"timestamp"`
}

type stringTimeRow struct {
	User       string `parquet:"user"`
	Item       string `parquet:"item"`
	Categories string `parquet:"categories"`
	Label      int32  `parquet:"label"`
	Timestamp  string `parquet:"timestamp"`
}

type listRow struct {
	User       string   `parquet:"user"`
	Item       string   `parquet:"item"`
	Categories []string `parquet:"categories,list"`
	Label      int32    `parquet:"label"`
	Timestamp  int64    `parquet:"timestamp"`
}

func TestParquetMalformed(t *testing.T) {
	u := "u"
	valid := canonicalParquetBytes(t)
	flipped := slices.Clone(valid)
	for i := 8; i < len(flipped)/2; i++ { // page data, not the footer
		flipped[i] ^= 0x5a
	}
	label := func(n int32) nullableRow { return nullableRow{&u, "i", "", n, 1} }
	for _, tc := range []struct {
		name string
		in   []byte
		want string // prefix of the error
	}{
		{"missing column", writeParquet(t, []noLabelRow{{"u", "i", "", 1}}, 10),
			`samples.parquet: no column "label" (want columns user,item,categories,label,timestamp, found user,item,categories,timestamp)`},
		{"null", writeParquet(t, []nullableRow{label(1), {nil, "i", "", 0, 2}}, 10),
			"samples.parquet: row group 1, row 2: user is null"},
		{"bad label", writeParquet(t, []nullableRow{label(1), label(0), label(1), label(0), label(3)}, 2),
			`samples.parquet: row group 3, row 1: label "3" is not 0 or 1`},
		{"wrong type", writeParquet(t, []stringTimeRow{{"u", "i", "", 1, "1"}}, 10),
			`samples.parquet: column "timestamp": type BYTE_ARRAY, want INT64 or INT32`},
		{"list column", writeParquet(t, []listRow{{"u", "i", []string{"a"}, 1, 1}}, 10),
			`samples.parquet: column "categories" is a group or list; want one value per row`},
		{"no rows", writeParquet(t, []nullableRow{}, 10),
			"samples.parquet: no samples after the header"},
		{"truncated", valid[:len(valid)-10], "samples.parquet: not a readable Parquet file: "},
		{"truncated to the magic", valid[:4], "samples.parquet: not a readable Parquet file: "},
		{"garbage after the magic", []byte("PAR1 this is not really a parquet file, just text\n"),
			"samples.parquet: not a readable Parquet file: "},
		{"corrupt pages", flipped, "samples.parquet: "},
	} {
		for _, mode := range []string{"in place", "stream"} {
			var r io.Reader = bytes.NewReader(tc.in)
			if mode == "stream" {
				r = stream{r}
			}
			_, err := ReadCanonical(Input{Name: "samples.parquet", Reader: r}, CanonicalOptions{})
			if err == nil {
				t.Errorf("%s (%s): no error", tc.name, mode)
				continue
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%s (%s): error %q, want prefix %q", tc.name, mode, err, tc.want)
			}
			var re *RowError
			if !errors.As(err, &re) || !IsInputError(err) {
				t.Errorf("%s (%s): error %q (%T) is not a *RowError", tc.name, mode, err, err)
			}
		}
	}
}

// withFooter returns file with its footer metadata changed by edit.
func withFooter(t testing.TB, file []byte, edit func(*format.FileMetaData)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(file[len(file)-8:]))
	start := len(file) - 8 - n
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), file[start:len(file)-8], &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(slices.Clone(file[:start]), footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, parquetMagic...)
}

// Corrupt metadata: parquet-go panics on some (recovered into an error),
// and row counts that the columns do not hold are caught.
func TestParquetCorruptMetadata(t *testing.T) {
	valid := canonicalParquetBytes(t)
	decimal := withFooter(t, valid, func(md *format.FileMetaData) {
		for i := range md.Schema {
			if md.Schema[i].Name == "user" {
				md.Schema[i].Type = thrift.New(format.FixedLenByteArray)
				md.Schema[i].ConvertedType = thrift.New(deprecated.Decimal)
				md.Schema[i].Scale, md.Schema[i].Precision = thrift.New[int32](0), thrift.New[int32](5)
				md.Schema[i].LogicalType = format.LogicalType{}
			}
		}
	})
	moreRows := withFooter(t, valid, func(md *format.FileMetaData) {
		md.NumRows += 3
		md.RowGroups[0].NumRows += 3
	})
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"library panic", decimal, "samples.parquet: malformed Parquet data (DECIMAL using FIXED_LEN_BYTE_ARRAY must specify a length)"},
		{"rows missing", moreRows, `samples.parquet: row group 1, row 6: column "user" ends before the row group's 8 rows`},
	} {
		_, err := readParquetCanonical(tc.in)
		if err == nil || err.Error() != tc.want || !IsInputError(err) {
			t.Errorf("%s: error %v (%T), want %s", tc.name, err, err, tc.want)
		}
	}
}

// failingReaderAt fails every read past limit, as a broken storage would.
type failingReaderAt struct {
	*bytes.Reader
	limit int64
}

var errStorage = errors.New("storage went away")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		return 0, errStorage
	}
	return f.Reader.ReadAt(p, off)
}

func TestParquetStorageErrorIsNotBadInput(t *testing.T) {
	b := canonicalParquetBytes(t)
	_, err := ReadCanonical(Input{Name: "samples.parquet", Reader: failingReaderAt{bytes.NewReader(b), 16}}, CanonicalOptions{})
	if !errors.Is(err, errStorage) || IsInputError(err) {
		t.Errorf("error %v (%T): want the storage error, not bad input", err, err)
	}
}

func TestMovieLensParquetRatings(t *testing.T) {
	want, err := readTestMovieLens(t, testRatings, testMovies, MovieLensOptions{HistoryLen: 2})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ConvertRatingsParquet(&buf, Input{Name: "ratings.csv", Reader: strings.NewReader(testRatings)}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMovieLens(Input{Name: "ratings.parquet", Reader: stream{&buf}},
		Input{Name: "movies.csv", Reader: strings.NewReader(testMovies)}, MovieLensOptions{HistoryLen: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rawSamples(got), rawSamples(want)) {
		t.Errorf("samples\n got %v\nwant %v", rawSamples(got), rawSamples(want))
	}
}

type ratingRow struct {
	Rating    float32 `parquet:"rating"`
	MovieID   int32   `parquet:"movieId"`
	UserID    string  `parquet:"userId"`
	Timestamp int32   `parquet:"timestamp"`
}

func TestMovieLensParquetRatingErrors(t *testing.T) {
	movies := Input{Name: "movies.csv", Reader: strings.NewReader(testMovies)}
	b := writeParquet(t, []ratingRow{{4.5, 1, "7", 10}, {3, 2, "7", 11}, {2.5, 9, "8", 12}}, 2)
	_, err := ReadMovieLens(Input{Name: "ratings.parquet", Reader: bytes.NewReader(b)}, movies, MovieLensOptions{})
	if want := "ratings.parquet: row group 2, row 1: movie 9 is not in movies.csv"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	b = writeParquet(t, []ratingRow{{4.5, 1, "7", 10}, {7, 2, "7", 11}}, 10)
	movies.Reader = strings.NewReader(testMovies)
	_, err = ReadMovieLens(Input{Name: "ratings.parquet", Reader: bytes.NewReader(b)}, movies, MovieLensOptions{})
	if want := `ratings.parquet: row group 1, row 2: rating "7" is outside [0.5, 5]`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestConvertRatingsParquetFile(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "ratings.csv"), filepath.Join(dir, "ratings.parquet")
	if err := os.WriteFile(in, []byte(testRatings), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ConvertRatingsParquetFile(in, out); err != nil {
		t.Fatal(err)
	}
	movies := filepath.Join(dir, "movies.csv")
	if err := os.WriteFile(movies, []byte(testMovies), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadMovieLens(out, movies, MovieLensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := LoadMovieLens(in, movies, MovieLensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rawSamples(got), rawSamples(want)) {
		t.Errorf("samples\n got %v\nwant %v", rawSamples(got), rawSamples(want))
	}
	err = ConvertRatingsParquet(io.Discard, Input{Name: "bad.csv", Reader: strings.NewReader("userId,movieId,rating,timestamp\n1,2,x,3\n")})
	if want := `bad.csv:2: rating "x" is not a number`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// Sniffing for the Parquet magic leaves CSV input alone, in place, streamed
// or shorter than the magic.
func TestSourceSniffingKeepsCSV(t *testing.T) {
	for _, r := range []io.Reader{strings.NewReader(testCanonical), stream{strings.NewReader(testCanonical)}} {
		ds, err := ReadCanonical(Input{Name: "samples.csv", Reader: r}, CanonicalOptions{HistoryLen: 1})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := readTestCanonical(testCanonical)
		if !slices.Equal(rawSamples(ds), rawSamples(want)) {
			t.Error("sniffing changed the CSV samples")
		}
	}
	_, err := readTestCanonical("PAR")
	var le *LineError
	if !errors.As(err, &le) {
		t.Errorf("short input: error %v (%T), want a *LineError", err, err)
	}
}
