package data

import (
	"cmp"
	"fmt"
	"slices"
)

// BuildHistories fills PosHistory and NegHistory of samples that are sorted
// by user then timestamp: each sample gets the items of the same user's
// earlier positive (Label 1) and negative (Label 0) samples, at most
// historyLen of each (the most recent), oldest first.
//
// All histories are windows into two backing arrays (all positive items, all
// negative items, in sample order), so the cost is two allocations however
// many samples there are; the windows have capacity == length so an append
// by a caller cannot overwrite a neighbour's history.
func BuildHistories(samples []Sample, historyLen int) error {
	if historyLen < 0 {
		return fmt.Errorf("history length %d is negative", historyLen)
	}
	nPos := 0
	for i := range samples {
		if i > 0 {
			p, x := &samples[i-1], &samples[i]
			if p.User > x.User || (p.User == x.User && p.Timestamp > x.Timestamp) {
				return fmt.Errorf("samples %d and %d are not sorted by user then timestamp", i-1, i)
			}
		}
		if samples[i].Label == 1 {
			nPos++
		}
	}
	// Exact capacities: appends below never reallocate, so earlier windows
	// keep pointing at the live arrays.
	pos := make([]int32, 0, nPos)
	neg := make([]int32, 0, len(samples)-nPos)
	userPos, userNeg := 0, 0 // start of the current user's items in pos/neg
	for i := range samples {
		x := &samples[i]
		if i == 0 || samples[i-1].User != x.User {
			userPos, userNeg = len(pos), len(neg)
		}
		x.PosHistory = window(pos, userPos, historyLen)
		x.NegHistory = window(neg, userNeg, historyLen)
		if x.Label == 1 {
			pos = append(pos, x.Item)
		} else {
			neg = append(neg, x.Item)
		}
	}
	return nil
}

// window returns the last at most n items of all[start:], or nil when empty.
func window(all []int32, start, n int) []int32 {
	end := len(all)
	lo := max(start, end-n)
	if lo >= end {
		return nil
	}
	return all[lo:end:end]
}

// row is one parsed input line before features are built.
type row struct {
	sample Sample // User, Item, Categories, Label, Timestamp set
	part   uint8  // which input it came from (train 0, test 1 for pairs)
}

// finish sorts rows by user then timestamp (stable, so ties keep input
// order), builds histories, and returns the samples and each sample's part.
func finish(rows []row, historyLen int) ([]Sample, []uint8, error) {
	slices.SortStableFunc(rows, func(a, b row) int {
		if c := cmp.Compare(a.sample.User, b.sample.User); c != 0 {
			return c
		}
		return cmp.Compare(a.sample.Timestamp, b.sample.Timestamp)
	})
	samples := make([]Sample, len(rows))
	parts := make([]uint8, len(rows))
	for i := range rows {
		samples[i] = rows[i].sample
		parts[i] = rows[i].part
	}
	if err := BuildHistories(samples, historyLen); err != nil {
		return nil, nil, fmt.Errorf("building histories: %w", err)
	}
	return samples, parts, nil
}
