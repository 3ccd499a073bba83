package data

import (
	"cmp"
	"fmt"
	"slices"
)

// Selection restricts and maps what a reader keeps. The zero value keeps
// every row and builds the vocabulary from the data.
type Selection struct {
	// Vocab, when set, fixes the dense ids: it is the vocabulary of the
	// model the data will be scored with. Rows whose user or item it does
	// not hold are dropped, and categories it does not hold are dropped
	// from their item's list; Dataset.OOV counts both (the out-of-vocabulary
	// path). Unset, the vocabulary holds the data's raw ids, sorted.
	Vocab *Vocabulary
	// KeepUser, when set, keeps only the rows of the users for which it
	// returns true (a shard's users). Other rows are skipped while reading,
	// so memory grows with the rows kept, not with the input.
	KeepUser func(rawUser string) bool
}

// OOV counts what a fixed vocabulary left out of a Dataset.
type OOV struct {
	Users      int   `json:"users"`      // distinct raw user ids not in the vocabulary
	Items      int   `json:"items"`      // distinct raw item ids not in the vocabulary
	Categories int   `json:"categories"` // distinct category names not in the vocabulary
	Samples    int64 `json:"samples"`    // rows dropped because their user or item is unknown
}

// builder turns parsed rows into Datasets: it interns raw ids (or maps them
// through a fixed vocabulary), applies the user filter, counts what falls
// out of the vocabulary, and at the end canonicalises ids, sorts and builds
// features.
type builder struct {
	sel      Selection
	vocab    *Vocabulary // the fixed vocabulary, or the provisional one being built
	itemCats [][]int32   // categories by item id (provisional or fixed)
	itemSeen []bool      // item ids seen in this data
	samples  []Sample
	parts    []uint8 // nil unless there are several inputs
	oovUsers map[string]struct{}
	oovItems map[string]struct{}
	oovCats  map[string]struct{}
	oov      OOV
}

func newBuilder(sel Selection) *builder {
	b := &builder{sel: sel, vocab: sel.Vocab}
	if b.vocab == nil {
		b.vocab = &Vocabulary{}
	}
	return b
}

func (b *builder) fixed() bool { return b.sel.Vocab != nil }

// keepUser reports whether the rows of raw user id u are kept.
func (b *builder) keepUser(u string) bool { return b.sel.KeepUser == nil || b.sel.KeepUser(u) }

// user returns the dense id of raw user u; ok is false when a fixed
// vocabulary does not hold it (the row is then dropped: see dropRow).
func (b *builder) user(u string) (id int32, ok bool, err error) {
	if b.fixed() {
		id, ok = b.vocab.Users.ID(u)
		if !ok {
			b.oovUsers = addName(b.oovUsers, u)
		}
		return id, ok, nil
	}
	id, err = b.vocab.Users.add(u)
	return id, err == nil, err
}

// item returns the dense id of raw item it; first is true the first time
// the item appears in this data; ok is false when a fixed vocabulary does
// not hold it.
func (b *builder) item(it string) (id int32, first, ok bool, err error) {
	if b.fixed() {
		id, ok = b.vocab.Items.ID(it)
		if !ok {
			b.oovItems = addName(b.oovItems, it)
			return 0, false, false, nil
		}
	} else if id, err = b.vocab.Items.add(it); err != nil {
		return 0, false, false, err
	}
	if int(id) >= len(b.itemSeen) {
		b.itemSeen = slices.Grow(b.itemSeen, int(id)+1-len(b.itemSeen))[:int(id)+1]
		b.itemCats = slices.Grow(b.itemCats, int(id)+1-len(b.itemCats))[:int(id)+1]
	}
	first = !b.itemSeen[id]
	b.itemSeen[id] = true
	return id, first, true, nil
}

// category returns the dense id of category name c; ok is false when a
// fixed vocabulary does not hold it (the category is then left out).
func (b *builder) category(c string) (id int32, ok bool, err error) {
	if b.fixed() {
		id, ok = b.vocab.Categories.ID(c)
		if !ok {
			b.oovCats = addName(b.oovCats, c)
		}
		return id, ok, nil
	}
	id, err = b.vocab.Categories.add(c)
	return id, err == nil, err
}

// setItemCategories records the categories of item id (first appearance).
func (b *builder) setItemCategories(id int32, cats []int32) { b.itemCats[id] = cats }

// reserve makes room for n more samples at once when every row is kept
// (no user filter): growing a slice of 20 million samples by appends holds
// the old and the new array together, about 1.8 times the final size.
func (b *builder) reserve(n int64) {
	if b.sel.KeepUser != nil || n <= 0 || n > 1<<32 {
		return
	}
	b.samples = slices.Grow(b.samples, int(n))
}

// dropRow counts a row left out because its user or item is unknown.
func (b *builder) dropRow() { b.oov.Samples++ }

// add appends a sample of input part.
func (b *builder) add(user, item int32, label float32, ts int64, part uint8) {
	b.samples = append(b.samples, Sample{User: user, Item: item, Label: label, Timestamp: ts})
	if b.parts != nil || part != 0 {
		if b.parts == nil {
			b.parts = make([]uint8, len(b.samples)-1, cap(b.samples))
		}
		b.parts = append(b.parts, part)
	}
}

func addName(set map[string]struct{}, name string) map[string]struct{} {
	if set == nil {
		set = make(map[string]struct{})
	}
	set[name] = struct{}{}
	return set
}

// finish builds one Dataset per input part (nparts of them; they share one
// vocabulary, schema and features). Without a fixed vocabulary, dense ids
// are renumbered in sorted raw-id order first, so the result does not
// depend on the order of the input rows.
func (b *builder) finish(historyLen, nparts int) ([]*Dataset, error) {
	vocab, itemCats := b.vocab, b.itemCats
	if !b.fixed() {
		var err error
		if vocab, itemCats, err = canonicalise(b.vocab, b.itemCats, b.samples); err != nil {
			return nil, err
		}
	} else if n := vocab.Items.Len(); len(itemCats) < n {
		itemCats = slices.Grow(itemCats, n-len(itemCats))[:n]
	}
	for _, cats := range itemCats {
		slices.Sort(cats)
	}
	sortSamples(b.samples, b.parts)
	if err := buildFeatures(b.samples, itemCats, historyLen); err != nil {
		return nil, fmt.Errorf("building histories: %w", err)
	}
	b.oov.Users, b.oov.Items, b.oov.Categories = len(b.oovUsers), len(b.oovItems), len(b.oovCats)
	all := &Dataset{
		Schema: Schema{
			NumUsers:      vocab.Users.Len(),
			NumItems:      vocab.Items.Len(),
			NumCategories: vocab.Categories.Len(),
			HistoryLen:    historyLen,
		},
		Samples:        b.samples,
		Vocab:          vocab,
		ItemCategories: itemCats,
		OOV:            b.oov,
	}
	if nparts <= 1 {
		return []*Dataset{all}, nil
	}
	split := make([][]Sample, nparts)
	for i := range b.samples {
		p := 0
		if b.parts != nil {
			p = int(b.parts[i])
		}
		split[p] = append(split[p], b.samples[i])
	}
	out := make([]*Dataset, nparts)
	for p := range out {
		out[p] = all.subset(split[p])
	}
	return out, nil
}

// canonicalise renumbers a provisional vocabulary in sorted raw-id order
// and rewrites samples and item categories to the new ids.
func canonicalise(prov *Vocabulary, itemCats [][]int32, samples []Sample) (*Vocabulary, [][]int32, error) {
	users, userID := sortedNames(&prov.Users)
	items, itemID := sortedNames(&prov.Items)
	cats, catID := sortedNames(&prov.Categories)
	vocab, err := NewVocabulary(users, items, cats)
	if err != nil {
		return nil, nil, err
	}
	newCats := make([][]int32, len(items))
	for old, cs := range itemCats {
		for i, c := range cs {
			cs[i] = catID[c]
		}
		if old < len(itemID) {
			newCats[itemID[old]] = cs
		}
	}
	for i := range samples {
		samples[i].User = userID[samples[i].User]
		samples[i].Item = itemID[samples[i].Item]
	}
	return vocab, newCats, nil
}

// sortedNames returns n's names sorted (numbers by value when both are
// decimal integers, otherwise byte-wise) and the new id of each old id.
func sortedNames(n *Names) ([]string, []int32) {
	names := n.All()
	order := make([]int32, len(names))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return compareRawIDs(names[a], names[b]) })
	sorted := make([]string, len(names))
	newID := make([]int32, len(names))
	for k, old := range order {
		sorted[k], newID[old] = names[old], int32(k)
	}
	return sorted, newID
}

// compareRawIDs orders decimal integers (no sign, no leading zeros) by
// value before any other string, and other strings byte-wise, so MovieLens
// ids sort as numbers.
func compareRawIDs(a, b string) int {
	da, db := isDecimal(a), isDecimal(b)
	switch {
	case da && db:
		if c := cmp.Compare(len(a), len(b)); c != 0 {
			return c
		}
	case da:
		return -1
	case db:
		return 1
	}
	return cmp.Compare(a, b)
}

func isDecimal(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
