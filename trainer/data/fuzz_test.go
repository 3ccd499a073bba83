package data

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Every parser: arbitrary bytes give a dataset or an error, never a panic,
// and a returned dataset satisfies the Dataset invariants.

func FuzzMovies(f *testing.F) {
	f.Add(testMovies)
	f.Add("movieId,title,genres\n1,\"a, b\",X|Y\n")
	f.Add("movieId,title,genres\n1,\"a\n")
	f.Add("genres,movieId,title\nX,1,a\n")
	f.Fuzz(func(t *testing.T, movies string) {
		var cats Names
		m, err := readMovies(Input{"movies.csv", strings.NewReader(movies)}, &cats)
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
