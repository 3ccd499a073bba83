// Package data loads CTR samples (MovieLens, canonical CSV, synthetic),
// splits them into train and test sets, and computes per-user statistics.
//
// All ids inside a Dataset are dense indices: users in [0, NumUsers), items in
// [0, NumItems), categories in [0, NumCategories). The raw ids of the source
// are kept in the Vocabulary so results can name users as the source does.
//
// Samples are sorted by user, then timestamp (stable: ties keep input order).
// Each sample's histories are built from the samples of the same user that
// come before it in that order, so two samples with the same timestamp see
// each other in input order. Features are built once, before any split, so the
// histories of test samples include train samples, as on a device that has
// logged the user's whole past.
//
// Malformed input yields a *LineError ("ratings.csv:17: rating "abc" is not a
// number"); no parser panics (each has a fuzz test).
package data

// Sample is one impression: a user saw an item and clicked (Label 1) or not
// (Label 0). Histories are the user's earlier samples, oldest first, capped at
// the dataset's history length; they never include the sample itself.
//
// Categories, PosHistory and NegHistory alias shared backing arrays (one per
// dataset, not one per sample): treat them as read-only.
type Sample struct {
	User       int32
	Item       int32
	Categories []int32 // categories (genres) of Item
	PosHistory []int32 // items of the user's earlier positive samples
	NegHistory []int32 // items of the user's earlier negative samples
	Label      float32 // observed label, 0 or 1
	Timestamp  int64   // seconds since the Unix epoch
}

// Schema is what a model needs to size its parameters.
type Schema struct {
	NumUsers      int
	NumItems      int
	NumCategories int
	HistoryLen    int // cap on PosHistory and NegHistory lengths
}
