package data

import (
	"errors"
	"fmt"
	"slices"
)

// DefaultHistoryLen is the history cap used when options leave it at 0.
const DefaultHistoryLen = 20

// Dataset is a set of samples with the schema and vocabulary to interpret
// them. Samples are sorted by User, then Timestamp, Item and Label.
//
// Splits of a dataset share Schema, Vocab and ItemCategories with it (and
// the history backing arrays): all of it is read-only once built.
type Dataset struct {
	Schema  Schema
	Samples []Sample
	Vocab   *Vocabulary
	// ItemCategories[item] lists the categories of a dense item id, sorted;
	// Sample.Categories returns it. Length Schema.NumItems.
	ItemCategories [][]int32
	// OOV counts what a fixed vocabulary (Selection.Vocab) left out.
	OOV OOV
}

// Range is the half-open index range [Start, End) of one user's samples in
// Dataset.Samples.
type Range struct {
	User       int32
	Start, End int
}

// Len is the number of samples in the range.
func (r Range) Len() int { return r.End - r.Start }

// UserRanges returns one Range per user that has samples, in sample order
// (ascending User). It relies on the Dataset invariant that samples are
// grouped by user; it costs one pass and one small allocation.
func UserRanges(ds *Dataset) []Range {
	if ds == nil {
		return nil
	}
	return rangesOf(ds.Samples)
}

func rangesOf(samples []Sample) []Range {
	var out []Range
	for i := 0; i < len(samples); {
		j := i + 1
		for j < len(samples) && samples[j].User == samples[i].User {
			j++
		}
		out = append(out, Range{User: samples[i].User, Start: i, End: j})
		i = j
	}
	return out
}

// Validate checks the Dataset invariants: ids within the schema, samples
// sorted by user then timestamp, labels 0 or 1, histories within the cap,
// categories matching ItemCategories, vocabulary sizes matching the schema.
func (ds *Dataset) Validate() error {
	if ds == nil {
		return errors.New("nil dataset")
	}
	s := ds.Schema
	if s.NumUsers < 0 || s.NumItems < 0 || s.NumCategories < 0 || s.HistoryLen < 0 {
		return fmt.Errorf("schema has a negative size: %+v", s)
	}
	if ds.Vocab == nil {
		return errors.New("nil vocabulary")
	}
	if ds.Vocab.Users.Len() != s.NumUsers || ds.Vocab.Items.Len() != s.NumItems || ds.Vocab.Categories.Len() != s.NumCategories {
		return fmt.Errorf("vocabulary sizes (users %d, items %d, categories %d) differ from schema %+v",
			ds.Vocab.Users.Len(), ds.Vocab.Items.Len(), ds.Vocab.Categories.Len(), s)
	}
	if len(ds.ItemCategories) != s.NumItems {
		return fmt.Errorf("ItemCategories has %d items, schema %d", len(ds.ItemCategories), s.NumItems)
	}
	for item, cats := range ds.ItemCategories {
		for _, c := range cats {
			if c < 0 || int(c) >= s.NumCategories {
				return fmt.Errorf("item %d: category %d out of range [0,%d)", item, c, s.NumCategories)
			}
		}
	}
	for i := range ds.Samples {
		x := &ds.Samples[i]
		if x.User < 0 || int(x.User) >= s.NumUsers {
			return fmt.Errorf("sample %d: user %d out of range [0,%d)", i, x.User, s.NumUsers)
		}
		if x.Item < 0 || int(x.Item) >= s.NumItems {
			return fmt.Errorf("sample %d: item %d out of range [0,%d)", i, x.Item, s.NumItems)
		}
		if x.Label != 0 && x.Label != 1 {
			return fmt.Errorf("sample %d: label %v is not 0 or 1", i, x.Label)
		}
		if len(x.PosHistory()) > s.HistoryLen || len(x.NegHistory()) > s.HistoryLen {
			return fmt.Errorf("sample %d: history lengths %d/%d exceed cap %d", i, len(x.PosHistory()), len(x.NegHistory()), s.HistoryLen)
		}
		for _, h := range [][]int32{x.PosHistory(), x.NegHistory()} {
			for _, it := range h {
				if it < 0 || int(it) >= s.NumItems {
					return fmt.Errorf("sample %d: history item %d out of range [0,%d)", i, it, s.NumItems)
				}
			}
		}
		if !slices.Equal(x.Categories(), ds.ItemCategories[x.Item]) {
			return fmt.Errorf("sample %d: categories %v differ from item %d's %v", i, x.Categories(), x.Item, ds.ItemCategories[x.Item])
		}
		if i > 0 {
			p := &ds.Samples[i-1]
			if p.User > x.User || (p.User == x.User && p.Timestamp > x.Timestamp) {
				return fmt.Errorf("sample %d (user %d, time %d) comes after sample %d (user %d, time %d): not sorted by user then time",
					i, x.User, x.Timestamp, i-1, p.User, p.Timestamp)
			}
		}
	}
	return nil
}

// subset returns a dataset with the given samples and everything else
// shared with ds.
func (ds *Dataset) subset(samples []Sample) *Dataset {
	return &Dataset{Schema: ds.Schema, Samples: samples, Vocab: ds.Vocab, ItemCategories: ds.ItemCategories, OOV: ds.OOV}
}
