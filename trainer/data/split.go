package data

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// SplitByTimestamp is the paper's split: samples with Timestamp < t go to
// train, the others (Timestamp >= t) to test. Both share ds's Schema,
// Vocabulary and history arrays; order is preserved.
func SplitByTimestamp(ds *Dataset, t int64) (train, test *Dataset, err error) {
	if ds == nil {
		return nil, nil, errors.New("split by timestamp: nil dataset")
	}
	var a, b []Sample
	for i := range ds.Samples {
		if ds.Samples[i].Timestamp < t {
			a = append(a, ds.Samples[i])
		} else {
			b = append(b, ds.Samples[i])
		}
	}
	return ds.subset(a), ds.subset(b), nil
}

// SplitPerUserFraction splits each user's samples chronologically: the first
// TrainCount(n, trainFraction) of a user's n samples go to train, the rest
// to test. trainFraction must be in (0, 1). Both results share ds's Schema,
// Vocabulary and history arrays.
func SplitPerUserFraction(ds *Dataset, trainFraction float64) (train, test *Dataset, err error) {
	if ds == nil {
		return nil, nil, errors.New("split per user: nil dataset")
	}
	if !(trainFraction > 0 && trainFraction < 1) {
		return nil, nil, fmt.Errorf("split per user: train fraction %v is outside (0, 1)", trainFraction)
	}
	a := make([]Sample, 0, int(float64(len(ds.Samples))*trainFraction)+1)
	var b []Sample
	for _, r := range UserRanges(ds) {
		k := r.Start + TrainCount(r.Len(), trainFraction)
		a = append(a, ds.Samples[r.Start:k]...)
		b = append(b, ds.Samples[k:r.End]...)
	}
	return ds.subset(a), ds.subset(b), nil
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

// SplitValidation takes a validation set out of a train set with the same
// per-user chronological rule as SplitPerUserFraction: the first
// fitFraction of each user's train samples are kept for fitting, the rest
// validate. The Hard-label grid search must tune on this split only, never
// on the test split.
func SplitValidation(train *Dataset, fitFraction float64) (fit, valid *Dataset, err error) {
	fit, valid, err = SplitPerUserFraction(train, fitFraction)
	if err != nil {
		return nil, nil, fmt.Errorf("validation split: %w", err)
	}
	return fit, valid, nil
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
