package data

import (
	"cmp"
	"fmt"
	"slices"
)

// buildFeatures makes samples (sorted by user then timestamp) share one
// features block: itemCats for categories, and each sample's histories as
// windows of the items of the same user's earlier positive (Label 1) and
// negative (Label 0) samples, at most historyLen of each (the most recent),
// oldest first.
//
// All histories are windows into two backing arrays (all positive items, all
// negative items, in sample order), so the cost is three allocations however
// many samples there are.
func buildFeatures(samples []Sample, itemCats [][]int32, historyLen int) error {
	if historyLen < 0 || historyLen > MaxHistoryLen {
		return fmt.Errorf("history length %d is outside [0, %d]", historyLen, MaxHistoryLen)
	}
	if itemCats == nil {
		itemCats = [][]int32{} // non-nil: samples look categories up by item
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
	if len(samples) > 1<<32-1 {
		return fmt.Errorf("%d samples exceed the %d a dataset holds", len(samples), uint32(1<<32-1))
	}
	f := &features{itemCats: itemCats, pos: make([]int32, 0, nPos), neg: make([]int32, 0, len(samples)-nPos)}
	userPos, userNeg := 0, 0 // start of the current user's items in pos/neg
	for i := range samples {
		x := &samples[i]
		if i == 0 || samples[i-1].User != x.User {
			userPos, userNeg = len(f.pos), len(f.neg)
		}
		x.feat = f
		x.posEnd, x.posLen = uint32(len(f.pos)), uint16(min(historyLen, len(f.pos)-userPos))
		x.negEnd, x.negLen = uint32(len(f.neg)), uint16(min(historyLen, len(f.neg)-userNeg))
		if x.Label == 1 {
			f.pos = append(f.pos, x.Item)
		} else {
			f.neg = append(f.neg, x.Item)
		}
	}
	return nil
}

// compareSamples orders samples by user, timestamp, item and label: an
// order that does not depend on the input's row order.
func compareSamples(a, b *Sample) int {
	if c := cmp.Compare(a.User, b.User); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Timestamp, b.Timestamp); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Item, b.Item); c != 0 {
		return c
	}
	return cmp.Compare(a.Label, b.Label)
}

// sortSamples sorts samples by compareSamples. With parts (one per sample,
// the input it came from), the part breaks ties after the timestamp, so a
// train file's rows come before a test file's at equal times, and parts is
// permuted along.
func sortSamples(samples []Sample, parts []uint8) {
	if parts == nil {
		slices.SortFunc(samples, func(a, b Sample) int { return compareSamples(&a, &b) })
		return
	}
	idx := make([]int32, len(samples))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int {
		a, b := &samples[i], &samples[j]
		if c := cmp.Compare(a.User, b.User); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Timestamp, b.Timestamp); c != 0 {
			return c
		}
		if c := cmp.Compare(parts[i], parts[j]); c != 0 {
			return c
		}
		return compareSamples(a, b)
	})
	sorted := make([]Sample, len(samples))
	sortedParts := make([]uint8, len(parts))
	for k, i := range idx {
		sorted[k], sortedParts[k] = samples[i], parts[i]
	}
	copy(samples, sorted)
	copy(parts, sortedParts)
}

// FreezeHistories gives every sample of a user in ds the histories of the
// user's first sample in ds: applied to a test split, a test row's
// histories hold the user's train rows only, not the earlier test rows
// (whose labels a model would not know yet if it scored the whole test
// period at once). Samples must be grouped by user, as splits are.
func FreezeHistories(ds *Dataset) {
	for _, r := range UserRanges(ds) {
		first := ds.Samples[r.Start]
		for i := r.Start + 1; i < r.End; i++ {
			x := &ds.Samples[i]
			x.posEnd, x.posLen, x.negEnd, x.negLen = first.posEnd, first.posLen, first.negEnd, first.negLen
		}
	}
}
