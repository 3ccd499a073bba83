package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
)

// ParquetRowGroupRows is the number of rows per row group the Parquet
// writers produce (the last group may be smaller). A writer buffers one row
// group before compressing it; readers decode a page at a time.
const ParquetRowGroupRows = 1 << 18

// parquetWriteBatch is how many rows the writers hand to parquet-go at once.
const parquetWriteBatch = 1024

// canonicalParquetRow is one row of a canonical samples Parquet file, with
// the columns of CanonicalHeader in its order. Strings are
// dictionary-encoded; pages are zstd-compressed (see parquetWriterOptions).
type canonicalParquetRow struct {
	User       string `parquet:"user,dict"`
	Item       string `parquet:"item,dict"`
	Categories string `parquet:"categories,dict"`
	Label      int32  `parquet:"label"`
	Timestamp  int64  `parquet:"timestamp"`
}

// ratingsParquetRow is one row of a MovieLens ratings Parquet file.
type ratingsParquetRow struct {
	UserID    int64   `parquet:"userId"`
	MovieID   int64   `parquet:"movieId"`
	Rating    float64 `parquet:"rating"`
	Timestamp int64   `parquet:"timestamp"`
}

func parquetWriterOptions() []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.Compression(&parquet.Zstd), // pure Go (klauspost/compress)
		parquet.MaxRowsPerRowGroup(ParquetRowGroupRows),
		parquet.CreatedBy("lcft-operator trainer/data", "", ""),
	}
}

// WriteCanonicalParquet writes ds as a canonical samples Parquet file: the
// columns of CanonicalHeader, user, item and categories as dictionary-encoded
// strings (categories joined by '|' as in the CSV), label INT32 0 or 1,
// timestamp INT64 seconds; zstd compression, row groups of
// ParquetRowGroupRows rows. One row per sample in dataset order; the rows are
// streamed, not copied. Reading it back gives the same samples by raw id, as
// WriteCanonicalCSV does.
func WriteCanonicalParquet(w io.Writer, ds *Dataset) error {
	if ds == nil || ds.Vocab == nil {
		return errors.New("writing canonical Parquet: nil dataset or vocabulary")
	}
	pw := parquet.NewGenericWriter[canonicalParquetRow](w, parquetWriterOptions()...)
	batch := make([]canonicalParquetRow, 0, parquetWriteBatch)
	flush := func() error {
		if _, err := pw.Write(batch); err != nil {
			return fmt.Errorf("writing canonical Parquet: %w", err)
		}
		clear(batch) // drop the string references
		batch = batch[:0]
		return nil
	}
	for i := range ds.Samples {
		x := &ds.Samples[i]
		r := canonicalParquetRow{
			User:      ds.Vocab.Users.Name(x.User),
			Item:      ds.Vocab.Items.Name(x.Item),
			Timestamp: x.Timestamp,
		}
		if err := checkID("user", r.User); err != nil {
			return fmt.Errorf("writing canonical Parquet, sample %d (user id %d): %w", i, x.User, err)
		}
		if err := checkID("item", r.Item); err != nil {
			return fmt.Errorf("writing canonical Parquet, sample %d (item id %d): %w", i, x.Item, err)
		}
		cats := x.Categories()
		for _, c := range cats {
			if err := checkID("category", ds.Vocab.Categories.Name(c)); err != nil {
				return fmt.Errorf("writing canonical Parquet, sample %d (category id %d): %w", i, c, err)
			}
		}
		r.Categories = joinNames(&ds.Vocab.Categories, cats)
		switch x.Label {
		case 0:
		case 1:
			r.Label = 1
		default:
			return fmt.Errorf("writing canonical Parquet, sample %d: label %v is not 0 or 1", i, x.Label)
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("writing canonical Parquet: %w", err)
	}
	return nil
}

// WriteCanonicalParquetFile writes ds to path (created or truncated) as a
// canonical samples Parquet file (see WriteCanonicalParquet).
func WriteCanonicalParquetFile(path string, ds *Dataset) error {
	return writeFile(path, "canonical samples", func(w io.Writer) error { return WriteCanonicalParquet(w, ds) })
}

// ConvertRatingsParquet reads MovieLens ratings (CSV or Parquet, header
// userId,movieId,rating,timestamp in any order) and writes them to w as
// Parquet: userId and movieId INT64, rating DOUBLE, timestamp INT64, zstd
// compression, row groups of ParquetRowGroupRows rows. Rows are validated as
// ReadMovieLens does (integer ids and timestamps, ratings in
// [MinRating, MaxRating]) and streamed: memory does not grow with the input.
// Movies stay in CSV (ReadMovieLens accepts either format for each file).
func ConvertRatingsParquet(w io.Writer, ratings Input) error {
	t, err := openSource(ratings, ratingsHeader)
	if err != nil {
		return err
	}
	pw := parquet.NewGenericWriter[ratingsParquetRow](w, parquetWriterOptions()...)
	batch := make([]ratingsParquetRow, 0, parquetWriteBatch)
	flush := func() error {
		if _, err := pw.Write(batch); err != nil {
			return fmt.Errorf("writing ratings Parquet: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	n := 0
	var rec []string
	for {
		rec, err = t.next(rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
		r, err := parseRatingRecord(t, rec)
		if err != nil {
			return err
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if n == 0 {
		return t.errorf("no ratings after the header")
	}
	if err := flush(); err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("writing ratings Parquet: %w", err)
	}
	return nil
}

// ConvertRatingsParquetFile converts the ratings file at inPath (CSV or
// Parquet) to a Parquet file at outPath (created or truncated). See
// ConvertRatingsParquet.
func ConvertRatingsParquetFile(inPath, outPath string) error {
	f, err := openFile(inPath)
	if err != nil {
		return fmt.Errorf("converting MovieLens ratings: %w", err)
	}
	defer f.Close()
	return writeFile(outPath, "MovieLens ratings", func(w io.Writer) error {
		return ConvertRatingsParquet(w, Input{Name: inPath, Reader: f})
	})
}

// writeFile creates path and writes it through a buffer with write.
func writeFile(path, what string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", what, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
