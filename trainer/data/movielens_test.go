package data

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testMovies = "\ufeffmovieId,title,genres\n" +
	"1,Toy Story (1995),Adventure|Animation|Children\n" +
	"2,\"American President, The (1995)\",Comedy|Drama|Romance\n" +
	"3,\"Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb\",Comedy\n" +
	"4,Empty,(no genres listed)\n" +
	"5,Never Rated,Horror\n"

const testRatings = "userId,movieId,rating,timestamp\n" +
	"10,2,4.0,300\n" +
	"10,1,5.0,100\n" +
	"7,3,2.5,50\n" +
	"10,3,3.5,200\n" +
	"7,04,4.5,60\n" + // "04" is movie 4
	"10,1,1,300\n" // same timestamp as line 2: the lower item id comes first

func readTestMovieLens(t *testing.T, ratings, movies string, opts MovieLensOptions) (*Dataset, error) {
	t.Helper()
	return ReadMovieLens(Input{"ratings.csv", strings.NewReader(ratings)}, Input{"movies.csv", strings.NewReader(movies)}, opts)
}

func TestReadMovieLens(t *testing.T) {
	ds, err := readTestMovieLens(t, testRatings, testMovies, MovieLensOptions{HistoryLen: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	if ds.Schema != (Schema{NumUsers: 2, NumItems: 4, NumCategories: 8, HistoryLen: 2}) {
		t.Errorf("schema %+v", ds.Schema)
	}
	type flat struct {
		user, item string
		cats       string
		label      float32
		ts         int64
		pos, neg   string
	}
	names := func(n *Names, ids []int32) string {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = n.Name(id)
		}
		return strings.Join(s, " ")
	}
	var got []flat
	for _, x := range ds.Samples {
		got = append(got, flat{
			ds.Vocab.Users.Name(x.User), ds.Vocab.Items.Name(x.Item), names(&ds.Vocab.Categories, x.Categories()),
			x.Label, x.Timestamp, names(&ds.Vocab.Items, x.PosHistory()), names(&ds.Vocab.Items, x.NegHistory()),
		})
	}
	// User 7 comes first (ids sort as numbers, whatever the file order);
	// sorted by time; the tie at 300 is broken by the item id (movie 1 then
	// movie 2), not by file order. Histories capped at 2.
	want := []flat{
		{"7", "3", "Comedy", 0, 50, "", ""},
		{"7", "4", "(no genres listed)", 1, 60, "", "3"},
		{"10", "1", "Adventure Animation Children", 1, 100, "", ""},
		{"10", "3", "Comedy", 0, 200, "1", ""},
		{"10", "1", "Adventure Animation Children", 0, 300, "1", "3"},
		{"10", "2", "Comedy Drama Romance", 1, 300, "1", "3 1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("samples:\n got %v\nwant %v", got, want)
	}
	if _, ok := ds.Vocab.Items.ID("5"); ok {
		t.Error("never-rated movie 5 is in the vocabulary")
	}
}

func TestReadMovieLensThreshold(t *testing.T) {
	ds, err := readTestMovieLens(t, testRatings, testMovies, MovieLensOptions{PositiveThreshold: 3.5})
	if err != nil {
		t.Fatal(err)
	}
	// Ratings 4.0 5.0 2.5 3.5 4.5 1: four are >= 3.5 (two at the default 4).
	if g, _ := GlobalCTR(ds); g != 4.0/6 {
		t.Errorf("global CTR at threshold 3.5 = %v, want 4/6", g)
	}
	if ds.Schema.HistoryLen != DefaultHistoryLen {
		t.Errorf("default history len %d", ds.Schema.HistoryLen)
	}
	for _, th := range []float64{0.5, 5.5, -1} {
		if _, err := readTestMovieLens(t, testRatings, testMovies, MovieLensOptions{PositiveThreshold: th}); err == nil {
			t.Errorf("threshold %v: want error", th)
		}
	}
	if _, err := readTestMovieLens(t, testRatings, testMovies, MovieLensOptions{HistoryLen: -1}); err == nil {
		t.Error("negative history length: want error")
	}
}

func TestReadMovieLensMalformed(t *testing.T) {
	const rh = "userId,movieId,rating,timestamp\n"
	const mh = "movieId,title,genres\n"
	cases := []struct {
		name, ratings, movies string
		want                  string // expected error text
	}{
		{"empty ratings", "", testMovies, "ratings.csv:1: empty file"},
		{"empty movies", testRatings, "", "movies.csv:1: empty file"},
		{"header only", rh, testMovies, "ratings.csv:1: no ratings after the header"},
		{"missing column", "userId,movieId,timestamp\n1,1,5\n", testMovies, `ratings.csv:1: header "userId,movieId,timestamp" lacks column "rating"`},
		{"wrong header", "user,movie,rating,timestamp\n1,1,5,1\n", testMovies, `lacks column "userId"`},
		{"duplicated column", "userId,movieId,rating,rating,timestamp\n1,1,5,5,1\n", testMovies, `ratings.csv:1: header names column "rating" twice`},
		{"repeated header row", rh + "1,1,4,1\n" + rh + "1,2,4,2\n", testMovies, "ratings.csv:3: header row repeated"},
		{"rating not a number", rh + "1,1,4,1\n1,1,abc,2\n", testMovies, `ratings.csv:3: rating "abc" is not a number`},
		{"rating NaN", rh + "1,1,NaN,2\n", testMovies, `ratings.csv:2: rating "NaN" is not a number`},
		{"rating too high", rh + "1,1,4,1\n1,1,5.5,2\n", testMovies, `ratings.csv:3: rating "5.5" is outside [0.5, 5]`},
		{"rating zero", rh + "1,1,0,2\n", testMovies, `ratings.csv:2: rating "0" is outside`},
		{"rating infinite", rh + "1,1,1e999,2\n", testMovies, `ratings.csv:2: rating "1e999" is outside`},
		{"user not integer", rh + "x1,1,4,1\n", testMovies, `ratings.csv:2: userId "x1" is not an integer`},
		{"movie not integer", rh + "1,1.5,4,1\n", testMovies, `ratings.csv:2: movieId "1.5" is not an integer`},
		{"timestamp not integer", rh + "1,1,4,yesterday\n", testMovies, `ratings.csv:2: timestamp "yesterday" is not an integer`},
		{"timestamp overflow", rh + "1,1,4,99999999999999999999\n", testMovies, `ratings.csv:2: timestamp "99999999999999999999" is out of the int64 range`},
		{"too few fields", rh + "1,1,4,1\n1,1,4\n", testMovies, "ratings.csv:3: wrong number of fields"},
		{"too many fields", rh + "1,1,4,1,9\n", testMovies, "ratings.csv:2: wrong number of fields"},
		{"bare quote", rh + "1,1,4,1\n1,\"1,4,1\n", testMovies, "ratings.csv:3:"},
		{"unknown movie", rh + "1,1,4,1\n1,99,4,2\n", testMovies, "ratings.csv:3: movie 99 is not in movies.csv"},
		{"movies missing genres column", testRatings, "movieId,title\n1,a\n", `movies.csv:1: header "movieId,title" lacks column "genres"`},
		{"duplicate movie", testRatings, mh + "1,a,Comedy\n2,b,Drama\n1,c,Horror\n", "movies.csv:4: movie 1 is listed again (first at movies.csv:2)"},
		{"empty genres", testRatings, mh + "1,a,\n", "movies.csv:2: movie 1 has no genres"},
		{"empty genre", testRatings, mh + "1,a,Comedy||Drama\n", `movies.csv:2: movie 1: empty genre in "Comedy||Drama"`},
		{"repeated genre", testRatings, mh + "1,a,Comedy|Comedy\n", `movies.csv:2: movie 1: genre "Comedy" listed twice`},
		{"movie id not integer", testRatings, mh + "one,a,Comedy\n", `movies.csv:2: movieId "one" is not an integer`},
		{"multi-line title counts lines", testRatings, mh + "1,\"a\nb\",Comedy\nx,c,Drama\n", `movies.csv:4: movieId "x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readTestMovieLens(t, c.ratings, c.movies, MovieLensOptions{})
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Errorf("error %q is not a *LineError with a line", err)
			}
		})
	}
}

func TestLoadMovieLensFiles(t *testing.T) {
	dir := t.TempDir()
	rp, mp := filepath.Join(dir, "ratings.csv"), filepath.Join(dir, "movies.csv")
	if err := os.WriteFile(rp, []byte(testRatings), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp, []byte(testMovies), 0o600); err != nil {
		t.Fatal(err)
	}
	ds, err := LoadMovieLens(rp, mp, MovieLensOptions{})
	if err != nil || len(ds.Samples) != 6 {
		t.Fatalf("LoadMovieLens: %v", err)
	}
	if _, err := LoadMovieLens(filepath.Join(dir, "nope.csv"), mp, MovieLensOptions{}); err == nil || !strings.Contains(err.Error(), "nope.csv") {
		t.Errorf("missing file: error %v should name it", err)
	}
}

// The MovieLens copy of the shared data folder (610 users, 100,836
// ratings); skipped where it is absent.
func TestMovieLensSmall(t *testing.T) {
	dir := os.Getenv("LCFT_MOVIELENS_DIR")
	if dir == "" {
		dir = "../../../shared/data/movielens-small"
	}
	rp := filepath.Join(dir, "ratings.csv")
	if _, err := os.Stat(rp); err != nil {
		t.Skipf("no MovieLens copy at %s", dir)
	}
	ds, err := LoadMovieLens(rp, filepath.Join(dir, "movies.csv"), MovieLensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	if ds.Schema.NumUsers != 610 || len(ds.Samples) != 100836 {
		t.Errorf("users %d, samples %d; want 610, 100836", ds.Schema.NumUsers, len(ds.Samples))
	}
	g, _ := GlobalCTR(ds)
	if g < 0.45 || g > 0.51 {
		t.Errorf("global CTR %v, want about 0.48", g)
	}
}
