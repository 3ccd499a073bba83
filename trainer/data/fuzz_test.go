package data

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Every parser: arbitrary bytes give a dataset or an error, never a panic,
// and a returned dataset satisfies the Dataset invariants.

func FuzzMovies(f *testing.F) {
	f.Add(testMovies)
	f.Add("movieId,title,genres\n1,\"a, b\",X|Y\n")
	f.Add("movieId,title,genres\n1,\"a\n")
	f.Add("genres,movieId,title\nX,1,a\n")
	f.Fuzz(func(t *testing.T, movies string) {
		b := newBuilder(Selection{})
		cats := &b.vocab.Categories
		m, err := readMovies(Input{Name: "movies.csv", Reader: strings.NewReader(movies)}, b)
		if err != nil {
			return
		}
		for id, mv := range m {
			if len(mv.cats) == 0 {
				t.Fatalf("movie %d has no categories", id)
			}
			for _, c := range mv.cats {
				if c < 0 || int(c) >= cats.Len() {
					t.Fatalf("movie %d: category %d out of range", id, c)
				}
			}
		}
	})
}

func FuzzRatings(f *testing.F) {
	f.Add(testRatings)
	f.Add("userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,NaN,2\n")
	f.Add("userId,movieId,rating,timestamp\n1,1,0x1p2,-1\n")
	f.Add("userId,movieId,rating,timestamp\n-0,+3,5,9223372036854775807\n")
	f.Fuzz(func(t *testing.T, ratings string) {
		ds, err := ReadMovieLens(Input{"ratings.csv", strings.NewReader(ratings)}, Input{"movies.csv", strings.NewReader(testMovies)}, MovieLensOptions{HistoryLen: 3})
		if err != nil {
			return
		}
		if err := ds.Validate(); err != nil {
			t.Fatalf("invalid dataset from %q: %v", ratings, err)
		}
	})
}

func FuzzCanonical(f *testing.F) {
	f.Add(testCanonical)
	f.Add("user,item,categories,label,timestamp\n\" a\",b,,1,1\n")
	f.Add("item,user,label,timestamp,categories,extra\nx,y,0,5,c|d,zzz\n")
	f.Add("user,item,categories,label,timestamp\na,b,c\"d,1,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := ReadCanonical(Input{"samples.csv", strings.NewReader(in)}, CanonicalOptions{HistoryLen: 3})
		if err != nil {
			return
		}
		if err := ds.Validate(); err != nil {
			t.Fatalf("invalid dataset: %v", err)
		}
		// What was read can be written and read back unchanged.
		var buf bytes.Buffer
		if err := WriteCanonicalCSV(&buf, ds); err != nil {
			t.Fatalf("write: %v", err)
		}
		back, err := ReadCanonical(Input{"again.csv", &buf}, CanonicalOptions{HistoryLen: 3})
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if !slices.Equal(rawSamples(back), rawSamples(ds)) {
			t.Fatalf("round trip changed the samples")
		}
	})
}

// FuzzReadCanonicalParquet: a Parquet input gives a valid dataset or a
// bad-input error (*RowError), never a panic; what was read survives a
// Parquet round trip.
func FuzzReadCanonicalParquet(f *testing.F) {
	valid := canonicalParquetBytes(f)
	f.Add(valid)
	ptr := func(s string) *string { return &s }
	f.Add(writeParquet(f, []shuffledRow{{"x", 10, true, ptr("A|B"), 1, "alice"}, {"y", 5, false, ptr(""), 2, "bob"}, {"z", 3, true, nil, 1, "bob"}}, 2))
	f.Add(writeParquet(f, []timestampRow{{"u", "i", "c", 1, 1_500_999}}, 1))
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:len(valid)-1])
	f.Add(append(slices.Clone(valid[:4]), valid[len(valid)/2:]...))
	flipped := slices.Clone(valid)
	flipped[len(flipped)/3] ^= 0xff
	f.Add(flipped)
	f.Add(withFooter(f, valid, func(md *format.FileMetaData) { md.RowGroups[0].NumRows += 3 }))
	f.Add(withFooter(f, valid, func(md *format.FileMetaData) { md.Schema[1].Type = thrift.New(format.Int96) }))
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Add([]byte("PAR1 not parquet at all PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !bytes.HasPrefix(b, []byte(parquetMagic)) {
			return // CSV: FuzzCanonical's business
		}
		ds, err := ReadCanonical(Input{Name: "samples.parquet", Reader: bytes.NewReader(b)}, CanonicalOptions{HistoryLen: 3})
		if err != nil {
			if !IsInputError(err) {
				t.Fatalf("error %q (%T) is not a bad-input error", err, err)
			}
			return
		}
		if err := ds.Validate(); err != nil {
			t.Fatalf("invalid dataset: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteCanonicalParquet(&buf, ds); err != nil {
			t.Fatalf("write: %v", err)
		}
		back, err := ReadCanonical(Input{Name: "again.parquet", Reader: &buf}, CanonicalOptions{HistoryLen: 3})
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if !slices.Equal(rawSamples(back), rawSamples(ds)) {
			t.Fatalf("round trip changed the samples")
		}
	})
}
