package data

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// SplitByTimestamp is the paper's split: samples with Timestamp < t go to
// train, the others (Timestamp >= t) to test. Both share ds's Schema,
// Vocabulary and features; order is preserved; ds is left as it was.
func SplitByTimestamp(ds *Dataset, t int64) (train, test *Dataset, err error) {
	if ds == nil {
		return nil, nil, errors.New("split by timestamp: nil dataset")
	}
	train, test = splitInto(ds, make([]Sample, len(ds.Samples)), byTimestamp(t))
	return train, test, nil
}

// SplitPerUserFraction splits each user's samples chronologically: the first
// TrainCount(n, trainFraction) of a user's n samples go to train, the rest
// to test. trainFraction must be in (0, 1). Both results share ds's Schema,
// Vocabulary and features; ds is left as it was.
func SplitPerUserFraction(ds *Dataset, trainFraction float64) (train, test *Dataset, err error) {
	if ds == nil {
		return nil, nil, errors.New("split per user: nil dataset")
	}
	if !(trainFraction > 0 && trainFraction < 1) {
		return nil, nil, fmt.Errorf("split per user: train fraction %v is outside (0, 1)", trainFraction)
	}
	train, test = splitInto(ds, make([]Sample, len(ds.Samples)), byFraction(trainFraction))
	return train, test, nil
}

// SplitInPlace is SplitByTimestamp (when byTime) or SplitPerUserFraction
// without a copy of the dataset: it reorders ds.Samples into train then
// test, and train and test are windows of that array. ds must not be used
// afterwards. Its extra memory is one copy of the test samples.
func SplitInPlace(ds *Dataset, byTime bool, t int64, trainFraction float64) (train, test *Dataset, err error) {
	if ds == nil {
		return nil, nil, errors.New("split: nil dataset")
	}
	if byTime {
		train, test = splitInto(ds, ds.Samples, byTimestamp(t))
		return train, test, nil
	}
	if !(trainFraction > 0 && trainFraction < 1) {
		return nil, nil, fmt.Errorf("split per user: train fraction %v is outside (0, 1)", trainFraction)
	}
	train, test = splitInto(ds, ds.Samples, byFraction(trainFraction))
	return train, test, nil
}

// trainRule reports whether the k-th of a user's n samples, x, is a train sample.
type trainRule func(x *Sample, k, n int) bool

func byTimestamp(t int64) trainRule {
	return func(x *Sample, _, _ int) bool { return x.Timestamp < t }
}

func byFraction(f float64) trainRule {
	return func(_ *Sample, k, n int) bool { return k < TrainCount(n, f) }
}

// splitInto writes ds's train samples (in order) to the front of dst and
// its test samples (in order) after them. dst has len(ds.Samples)
// elements and may be ds.Samples itself: train samples only move towards
// the front, and test samples wait in a buffer.
func splitInto(ds *Dataset, dst []Sample, inTrain trainRule) (train, test *Dataset) {
	ranges := UserRanges(ds)
	nTest := 0 // counted first, so the buffer is allocated once
	for _, r := range ranges {
		for j := r.Start; j < r.End; j++ {
			if !inTrain(&ds.Samples[j], j-r.Start, r.Len()) {
				nTest++
			}
		}
	}
	held := make([]Sample, 0, nTest)
	k := 0
	for _, r := range ranges {
		for j := r.Start; j < r.End; j++ {
			x := ds.Samples[j]
			if inTrain(&x, j-r.Start, r.Len()) {
				dst[k] = x
				k++
			} else {
				held = append(held, x)
			}
		}
	}
	copy(dst[k:], held)
	return ds.subset(dst[:k:k]), ds.subset(dst[k:])
}

// TrainCount is how many of a user's n samples SplitPerUserFraction puts in
// train: round(n*fraction) (halves round up), then clamped to [1, n-1] so
// that every user with at least 2 samples has both train and test samples.
// A user with fewer than 2 samples goes wholly to train. Rounding rather
// than truncating keeps 0.8*5 = 4 even when the product lands a hair below
// 4 in floating point.
func TrainCount(n int, fraction float64) int {
	if n < 2 {
		return n
	}
	k := int(math.Floor(float64(n)*fraction + 0.5))
	return min(max(k, 1), n-1)
}

// SplitLast splits each user's samples in ds into its first n-count(n)
// and its last count(n) (count clamped to [0, n]), order kept: the
// pretraining holdout (count = runspec.HoldoutCount) and the Hard search's
// fit and validation rows. Both share ds's Schema, Vocabulary and features;
// ds is left as it was.
func SplitLast(ds *Dataset, count func(n int) int) (first, last *Dataset, err error) {
	if ds == nil {
		return nil, nil, errors.New("split last rows: nil dataset")
	}
	first, last = splitInto(ds, make([]Sample, len(ds.Samples)), func(_ *Sample, k, n int) bool {
		return k < n-min(max(count(n), 0), n)
	})
	return first, last, nil
}

// CheckCoverage reports users and items that occur in test samples but in
// no train sample, comparing raw ids (so the two datasets may come from
// different vocabularies). A model has no trained embedding for them and a
// per-user fine-tune has nothing to learn from. The error names up to 10 of
// each.
func CheckCoverage(train, test *Dataset) error {
	if train == nil || test == nil || train.Vocab == nil || test.Vocab == nil {
		return errors.New("check coverage: nil dataset or vocabulary")
	}
	trainUsers := make(map[string]bool)
	trainItems := make(map[string]bool)
	for i := range train.Samples {
		trainUsers[train.Vocab.Users.Name(train.Samples[i].User)] = true
		trainItems[train.Vocab.Items.Name(train.Samples[i].Item)] = true
	}
	var users, items []string
	seenUser := make(map[string]bool)
	seenItem := make(map[string]bool)
	for i := range test.Samples {
		u := test.Vocab.Users.Name(test.Samples[i].User)
		if !trainUsers[u] && !seenUser[u] {
			seenUser[u] = true
			users = append(users, u)
		}
		it := test.Vocab.Items.Name(test.Samples[i].Item)
		if !trainItems[it] && !seenItem[it] {
			seenItem[it] = true
			items = append(items, it)
		}
	}
	var errs []error
	if len(users) > 0 {
		errs = append(errs, fmt.Errorf("%d test users have no train samples: %s", len(users), listSome(users, 10)))
	}
	if len(items) > 0 {
		errs = append(errs, fmt.Errorf("%d test items have no train samples: %s", len(items), listSome(items, 10)))
	}
	return errors.Join(errs...)
}

func listSome(names []string, n int) string {
	quoted := make([]string, 0, min(n, len(names)))
	for _, s := range names[:min(n, len(names))] {
		quoted = append(quoted, fmt.Sprintf("%q", s))
	}
	out := strings.Join(quoted, ", ")
	if len(names) > n {
		out += fmt.Sprintf(", ... (%d more)", len(names)-n)
	}
	return out
}
