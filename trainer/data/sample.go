// Package data loads CTR samples (MovieLens, canonical CSV or Parquet,
// synthetic), splits them into train and test sets, and computes per-user
// statistics.
//
// All ids inside a Dataset are dense indices: users in [0, NumUsers), items in
// [0, NumItems), categories in [0, NumCategories). The raw ids of the source
// are kept in the Vocabulary so results can name users as the source does.
// Unless a reader is given a fixed vocabulary (a model's), dense ids follow
// the sorted raw ids, so the same rows in another file order give the same
// Dataset.
//
// Samples are sorted by user, then timestamp, then item, then label: the
// order does not depend on the order of the input rows. Each sample's
// histories are built from the samples of the same user that come before it
// in that order. Features are built once, before any split, so the histories
// of test samples include train samples, as on a device that has logged the
// user's whole past.
//
// Malformed CSV yields a *LineError ("ratings.csv:17: rating "abc" is not a
// number"), malformed Parquet a *RowError ("samples.parquet: row group 2,
// row 17: ..."); IsInputError tells both. No parser panics (each has a
// fuzz test).
package data

// Sample is one impression: a user saw an item and clicked (Label 1) or not
// (Label 0). Its categories and histories live in arrays shared by the whole
// dataset: a Sample is 40 bytes whatever its history length, so 20 million
// samples take 800 MB. Categories, PosHistory and NegHistory return windows
// of those arrays: treat them as read-only.
type Sample struct {
	Timestamp int64 // seconds since the Unix epoch
	feat      *features
	User      int32
	Item      int32
	Label     float32 // observed label, 0 or 1
	// The histories are feat.pos[posEnd-posLen : posEnd] and
	// feat.neg[negEnd-negLen : negEnd].
	posEnd, negEnd uint32
	posLen, negLen uint16
}

// features are the arrays a dataset's samples share.
type features struct {
	itemCats [][]int32 // categories by dense item id; nil for a standalone sample
	cats     []int32   // a standalone sample's categories
	pos, neg []int32   // items of earlier positive / negative samples, per user in sample order
}

// NewSample returns a standalone sample with its own copies of categories
// and histories (for tests and callers that build samples by hand; datasets
// share their arrays instead).
func NewSample(user, item int32, categories, posHistory, negHistory []int32, label float32, timestamp int64) Sample {
	f := &features{
		cats: append([]int32(nil), categories...),
		pos:  append([]int32(nil), posHistory...),
		neg:  append([]int32(nil), negHistory...),
	}
	return Sample{
		Timestamp: timestamp, feat: f, User: user, Item: item, Label: label,
		posEnd: uint32(len(f.pos)), negEnd: uint32(len(f.neg)),
		posLen: uint16(len(f.pos)), negLen: uint16(len(f.neg)),
	}
}

// Categories returns the categories (genres) of the sample's item.
func (s *Sample) Categories() []int32 {
	f := s.feat
	switch {
	case f == nil:
		return nil
	case f.itemCats != nil:
		if int(s.Item) < len(f.itemCats) && s.Item >= 0 {
			return f.itemCats[s.Item]
		}
		return nil
	default:
		return f.cats
	}
}

// PosHistory returns the items of the user's earlier positive samples,
// oldest first, at most the dataset's history length.
func (s *Sample) PosHistory() []int32 {
	if s.posLen == 0 {
		return nil
	}
	lo := s.posEnd - uint32(s.posLen)
	return s.feat.pos[lo:s.posEnd:s.posEnd]
}

// NegHistory returns the items of the user's earlier negative samples,
// oldest first, at most the dataset's history length.
func (s *Sample) NegHistory() []int32 {
	if s.negLen == 0 {
		return nil
	}
	lo := s.negEnd - uint32(s.negLen)
	return s.feat.neg[lo:s.negEnd:s.negEnd]
}

// MaxHistoryLen is the largest history cap a Dataset supports.
const MaxHistoryLen = 1<<16 - 1

// Schema is what a model needs to size its parameters.
type Schema struct {
	NumUsers      int
	NumItems      int
	NumCategories int
	HistoryLen    int // cap on PosHistory and NegHistory lengths
}
