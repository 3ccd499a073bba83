package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MovieLens ratings lie in [MinRating, MaxRating] (half stars in the files).
const (
	MinRating = 0.5
	MaxRating = 5.0
	// DefaultPositiveThreshold: a rating >= 4 stars is a click, as in the paper.
	DefaultPositiveThreshold = 4.0
)

// MovieLensOptions configure ReadMovieLens. Zero fields take defaults.
type MovieLensOptions struct {
	// PositiveThreshold: rating >= threshold is Label 1. In
	// (MinRating, MaxRating]; 0 means DefaultPositiveThreshold.
	PositiveThreshold float64
	// HistoryLen caps PosHistory/NegHistory (most recent kept); 0 means
	// DefaultHistoryLen.
	HistoryLen int
	// Selection restricts the users kept and can fix the vocabulary.
	Selection
}

var (
	ratingsHeader = []string{"userId", "movieId", "rating", "timestamp"}
	moviesHeader  = []string{"movieId", "title", "genres"}
)

// LoadMovieLens reads a MovieLens ratings.csv and movies.csv from disk.
// See ReadMovieLens.
func LoadMovieLens(ratingsPath, moviesPath string, opts MovieLensOptions) (*Dataset, error) {
	rf, err := openFile(ratingsPath)
	if err != nil {
		return nil, fmt.Errorf("loading MovieLens ratings: %w", err)
	}
	defer rf.Close()
	mf, err := openFile(moviesPath)
	if err != nil {
		return nil, fmt.Errorf("loading MovieLens movies: %w", err)
	}
	defer mf.Close()
	return ReadMovieLens(Input{Name: ratingsPath, Reader: rf}, Input{Name: moviesPath, Reader: mf}, opts)
}

// ReadMovieLens builds a Dataset from MovieLens ratings (header
// userId,movieId,rating,timestamp) and movies (header movieId,title,genres;
// genres separated by '|'). Columns may come in any order; extra columns are
// ignored.
//
// Every rated movie must be listed in movies: a rating of an unknown movie is
// an error naming the ratings line (silently inventing an "unknown" category
// would hide a mismatched pair of files). The MovieLens pseudo-genre
// "(no genres listed)" is kept as a category of its own, so every MovieLens
// item has at least one category.
//
// Raw user and item ids are the decimal integers of the files (so "007" and
// "7" are the same movie). Dense ids follow the sorted raw ids (numbers by
// value) unless opts.Vocab fixes them. Items listed in movies but never
// rated are not in the Dataset.
func ReadMovieLens(ratings, movies Input, opts MovieLensOptions) (*Dataset, error) {
	threshold := opts.PositiveThreshold
	if threshold == 0 {
		threshold = DefaultPositiveThreshold
	}
	if !(threshold > MinRating && threshold <= MaxRating) {
		return nil, fmt.Errorf("positive threshold %v is outside (%v, %v]", threshold, MinRating, MaxRating)
	}
	historyLen, err := historyLenOption(opts.HistoryLen)
	if err != nil {
		return nil, err
	}
	b := newBuilder(opts.Selection)
	genres, err := readMovies(movies, b)
	if err != nil {
		return nil, err
	}
	if err := readRatings(ratings, movies.Name, genres, threshold, b); err != nil {
		return nil, err
	}
	out, err := b.finish(historyLen, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ratings.Name, err)
	}
	return out[0], nil
}

func historyLenOption(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultHistoryLen, nil
	case n < 0:
		return 0, fmt.Errorf("history length %d is negative", n)
	}
	return n, nil
}

// movie is one movies.csv entry.
type movie struct {
	cats []int32 // dense category ids, in the file's order
	at   string  // source.where()
}

// readMovies parses movies.csv into movieId -> categories, mapping genre
// names through b (genres a fixed vocabulary lacks are left out).
func readMovies(in Input, b *builder) (map[int64]movie, error) {
	t, err := openSource(in, moviesHeader)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]movie)
	var rec []string
	for {
		rec, err = t.next(rec)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		id, err := t.parseInt("movieId", rec[0])
		if err != nil {
			return nil, err
		}
		if prev, dup := out[id]; dup {
			return nil, t.errorf("movie %d is listed again (first at %s)", id, prev.at)
		}
		field := rec[2]
		if strings.TrimSpace(field) == "" {
			return nil, t.errorf("movie %d has no genres (MovieLens writes \"(no genres listed)\")", id)
		}
		names := strings.Split(field, "|")
		m := movie{cats: make([]int32, 0, len(names)), at: t.where()}
		for _, name := range names {
			name = strings.TrimSpace(name)
			if name == "" {
				return nil, t.errorf("movie %d: empty genre in %q", id, field)
			}
			c, ok, err := b.category(name)
			if err != nil {
				return nil, t.errorf("movie %d: %w", id, err)
			}
			if !ok {
				continue
			}
			for _, prev := range m.cats {
				if prev == c {
					return nil, t.errorf("movie %d: genre %q listed twice in %q", id, name, field)
				}
			}
			m.cats = append(m.cats, c)
		}
		out[id] = m
	}
}

// Markers of readRatings' user map.
const (
	skipUser int32 = -1
	oovUser  int32 = -2
)

// readRatings parses ratings.csv into b.
func readRatings(in Input, moviesName string, movies map[int64]movie, threshold float64, b *builder) error {
	t, err := openSource(in, ratingsHeader)
	if err != nil {
		return err
	}
	// Integer keys avoid formatting every line's ids; only new ids are
	// turned into strings. A user id maps to skipUser when its rows are
	// skipped (another shard's user) and to oovUser when a fixed vocabulary
	// does not hold it.
	b.reserve(t.rowsHint())
	users := make(map[int64]int32)
	items := make(map[int64]int32)
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
		uid, mid, rating, ts := r.UserID, r.MovieID, r.Rating, r.Timestamp
		m, known := movies[mid]
		if !known {
			return t.errorf("movie %d is not in %s", mid, moviesName)
		}
		u, ok := users[uid]
		if !ok {
			raw := strconv.FormatInt(uid, 10)
			u = skipUser
			if b.keepUser(raw) {
				id, inVocab, err := b.user(raw)
				if err != nil {
					return t.errorf("user %d: %w", uid, err)
				}
				u = oovUser
				if inVocab {
					u = id
				}
			}
			users[uid] = u
		}
		switch u {
		case skipUser:
			continue
		case oovUser:
			b.dropRow()
			continue
		}
		it, ok := items[mid]
		if !ok {
			id, first, inVocab, err := b.item(strconv.FormatInt(mid, 10))
			if err != nil {
				return t.errorf("movie %d: %w", mid, err)
			}
			it = -1
			if inVocab {
				it = id
				if first {
					b.setItemCategories(id, slices.Clone(m.cats))
				}
			}
			items[mid] = it
		}
		if it < 0 {
			b.dropRow()
			continue
		}
		var label float32
		if rating >= threshold {
			label = 1
		}
		b.add(u, it, label, ts, 0)
	}
	if n == 0 {
		return t.errorf("no ratings after the header")
	}
	return nil
}

// parseRatingRecord parses the fields of one ratings record, in
// ratingsHeader order.
func parseRatingRecord(t source, rec []string) (r ratingsParquetRow, err error) {
	if r.UserID, err = t.parseInt("userId", rec[0]); err != nil {
		return r, err
	}
	if r.MovieID, err = t.parseInt("movieId", rec[1]); err != nil {
		return r, err
	}
	if r.Rating, err = parseRating(t, rec[2]); err != nil {
		return r, err
	}
	r.Timestamp, err = t.parseInt("timestamp", rec[3])
	return r, err
}

func parseRating(t source, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, t.errorf("rating %q is not a number", s)
	}
	if math.IsNaN(v) {
		return 0, t.errorf("rating %q is not a number", s)
	}
	if err != nil || v < MinRating || v > MaxRating {
		return 0, t.errorf("rating %q is outside [%v, %v]", s, MinRating, MaxRating)
	}
	return v, nil
}
