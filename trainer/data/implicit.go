package data

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ImplicitHeader is the header of an implicit-feedback log in CSV (or the
// columns of one in Parquet): raw user and item ids, a Unix timestamp in
// seconds, and the item's categories separated by '|' (may be empty: an
// item without categories). Every row is a positive (a click, a review, a
// purchase); negatives are sampled (see NegativeOptions).
var ImplicitHeader = []string{"user", "item", "timestamp", "categories"}

// ImplicitOptions configure ReadImplicit and ReadAmazon. Zero fields take
// defaults.
type ImplicitOptions struct {
	// Negatives configures the sampled negatives.
	Negatives NegativeOptions
	// HistoryLen caps PosHistory/NegHistory (most recent kept); 0 means
	// DefaultHistoryLen.
	HistoryLen int
	// Selection restricts the users kept and can fix the vocabulary. The
	// negatives of a user do not depend on it: they are drawn from every
	// item of the input, whichever users are kept.
	Selection
}

// LoadImplicit reads an implicit-feedback log file. See ReadImplicit.
func LoadImplicit(path string, opts ImplicitOptions) (*Dataset, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading implicit feedback: %w", err)
	}
	defer f.Close()
	return ReadImplicit(Input{Name: path, Reader: f}, opts)
}

// ReadImplicit builds a Dataset from an implicit-feedback log (CSV with the
// ImplicitHeader columns, in any order, extra columns ignored; or Parquet
// with those columns): each row is a positive (Label 1), and negatives are
// sampled per user as opts.Negatives says. An item must have the same
// category set on every row.
func ReadImplicit(in Input, opts ImplicitOptions) (*Dataset, error) {
	t, err := openSource(in, ImplicitHeader)
	if err != nil {
		return nil, err
	}
	lg := newImplicitLog(opts.Selection)
	itemAt := map[int32]string{} // where each item's categories were first given
	n := 0
	var rec []string
	for {
		rec, err = t.next(rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		n++
		if err := checkID("user", rec[0]); err != nil {
			return nil, t.errorf("%w", err)
		}
		if err := checkID("item", rec[1]); err != nil {
			return nil, t.errorf("%w", err)
		}
		ts, err := t.parseInt("timestamp", rec[2])
		if err != nil {
			return nil, err
		}
		var cats []string
		if rec[3] != "" {
			cats = strings.Split(rec[3], "|")
			for _, c := range cats {
				if err := checkID("category", c); err != nil {
					return nil, t.errorf("item %q: %w in %q", rec[1], err, rec[3])
				}
			}
			slices.Sort(cats)
			if len(slices.Compact(slices.Clone(cats))) != len(cats) {
				return nil, t.errorf("item %q: a category is listed twice in %q", rec[1], rec[3])
			}
		}
		it, first := lg.add(rec[0], rec[1], ts)
		if first {
			lg.itemCats[it] = cats
			itemAt[it] = t.where()
		} else if !slices.Equal(cats, lg.itemCats[it]) {
			return nil, t.errorf("item %q has categories %q, but %s gave %q",
				rec[1], rec[3], itemAt[it], strings.Join(lg.itemCats[it], "|"))
		}
	}
	if n == 0 {
		return nil, t.errorf("no rows after the header")
	}
	ds, err := lg.finish(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	return ds, nil
}

// event is one positive of an implicit log, with log-local ids.
type event struct {
	ts         int64
	user, item int32
}

// implicitLog collects the positives of an implicit-feedback input: every
// item (for the negatives' catalogue) and the events of the kept users.
type implicitLog struct {
	sel       Selection
	itemID    map[string]int32
	itemNames []string
	itemCats  [][]string // category names by local item id
	userID    map[string]int32
	userNames []string
	userKept  []bool
	events    []event
}

func newImplicitLog(sel Selection) *implicitLog {
	return &implicitLog{sel: sel, itemID: map[string]int32{}, userID: map[string]int32{}}
}

// add records a positive of raw user u on raw item it at ts and returns
// the item's local id, and whether this is the item's first row.
func (lg *implicitLog) add(u, it string, ts int64) (item int32, first bool) {
	item, ok := lg.itemID[it]
	if !ok {
		item = int32(len(lg.itemNames))
		lg.itemID[it] = item
		lg.itemNames = append(lg.itemNames, it)
		lg.itemCats = append(lg.itemCats, nil)
	}
	user, seen := lg.userID[u]
	if !seen {
		user = int32(len(lg.userNames))
		lg.userID[u] = user
		lg.userNames = append(lg.userNames, u)
		lg.userKept = append(lg.userKept, lg.sel.KeepUser == nil || lg.sel.KeepUser(u))
	}
	if lg.userKept[user] {
		lg.events = append(lg.events, event{ts: ts, user: user, item: item})
	}
	return item, !ok
}

// finish samples the negatives and builds the Dataset. The catalogue is
// every item of the input, in sorted raw-id order; each user's positives
// are taken in (time, raw item id) order and each draws its negatives,
// which take the positive's timestamp (the moment the user chose that item
// over the sampled ones).
func (lg *implicitLog) finish(opts ImplicitOptions) (*Dataset, error) {
	k, err := opts.Negatives.perPositive()
	if err != nil {
		return nil, err
	}
	historyLen, err := historyLenOption(opts.HistoryLen)
	if err != nil {
		return nil, err
	}
	// rank[item] is the item's position in the sorted catalogue.
	order := make([]int32, len(lg.itemNames))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return compareRawIDs(lg.itemNames[a], lg.itemNames[b]) })
	rank := make([]int32, len(order))
	for r, it := range order {
		rank[it] = int32(r)
	}
	ev := lg.events
	slices.SortFunc(ev, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.ts, b.ts), cmp.Compare(rank[a.item], rank[b.item]))
	})
	b := newBuilder(lg.sel)
	b.reserve(int64(len(ev) * (k + 1)))
	ids := make([]int32, len(lg.itemNames)) // builder id + 1 of each local item; 0 unknown, -1 out of vocabulary
	builderItem := func(it int32) (int32, bool, error) {
		switch v := ids[it]; {
		case v > 0:
			return v - 1, true, nil
		case v < 0:
			return 0, false, nil
		}
		id, first, ok, err := b.item(lg.itemNames[it])
		if err != nil {
			return 0, false, fmt.Errorf("item %q: %w", lg.itemNames[it], err)
		}
		if !ok {
			ids[it] = -1
			return 0, false, nil
		}
		ids[it] = id + 1
		if first {
			var cats []int32
			for _, name := range lg.itemCats[it] {
				c, ok, err := b.category(name)
				if err != nil {
					return 0, false, fmt.Errorf("category %q: %w", name, err)
				}
				if ok {
					cats = append(cats, c)
				}
			}
			b.setItemCategories(id, cats)
		}
		return id, true, nil
	}
	var positives []int32
	for i := 0; i < len(ev); {
		j := i + 1
		for j < len(ev) && ev[j].user == ev[i].user {
			j++
		}
		raw := lg.userNames[ev[i].user]
		u, ok, err := b.user(raw)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", raw, err)
		}
		if !ok {
			b.oov.Samples += int64((j - i) * (k + 1))
			i = j
			continue
		}
		positives = positives[:0]
		for _, e := range ev[i:j] {
			positives = append(positives, rank[e.item])
		}
		negs := sampleNegatives(userRNG(opts.Negatives.Seed, raw), positives, len(order), k)
		for p, e := range ev[i:j] {
			if err := addImplicit(b, builderItem, u, e.item, 1, e.ts); err != nil {
				return nil, err
			}
			for _, r := range negs[min(p*k, len(negs)):min((p+1)*k, len(negs))] {
				if err := addImplicit(b, builderItem, u, order[r], 0, e.ts); err != nil {
					return nil, err
				}
			}
		}
		i = j
	}
	out, err := b.finish(historyLen, 1)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// addImplicit adds one sample of local item it, or counts it as dropped
// when a fixed vocabulary lacks the item.
func addImplicit(b *builder, item func(int32) (int32, bool, error), u, it int32, label float32, ts int64) error {
	id, ok, err := item(it)
	if err != nil {
		return err
	}
	if !ok {
		b.dropRow()
		return nil
	}
	b.add(u, id, label, ts, 0)
	return nil
}
