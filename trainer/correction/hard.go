package correction

import (
	"errors"
	"fmt"
)

// Group is one row of a Hard table: users whose local CTR r is in
// [Min, Max) get labels (Positive, Negative), or with Auto each user's own
// Auto labels (AutoLabels(g, r); Positive and Negative ignored). The group
// with Max == 1 also holds r == 1. Labels may lie outside [0, 1] (as
// SoftPositive's can) but must be finite.
type Group struct {
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Positive float64 `json:"positive"`
	Negative float64 `json:"negative"`
	Auto     bool    `json:"auto,omitempty"`
}

// HardTable is the Hard strategy's lookup table: groups sorted by Min, with
// non-overlapping ranges inside [0, 1]. Gaps between groups are allowed: a
// user whose local CTR falls in no group keeps the Identity labels
// (applied = false), as if uncorrected. The grid search that fills the
// labels lives with the trainer; this type only validates and looks up.
type HardTable []Group

// Validate checks that every group has 0 <= Min < Max <= 1 and finite
// labels, and that groups are sorted by Min without overlap
// (Max of one <= Min of the next).
func (t HardTable) Validate() error {
	if len(t) == 0 {
		return errors.New("hard-label table has no groups")
	}
	for i, g := range t {
		if !(g.Min >= 0 && g.Min < g.Max && g.Max <= 1) {
			return fmt.Errorf("hard-label group %d: range [%v, %v) is not a non-empty interval within [0, 1]", i, g.Min, g.Max)
		}
		if !g.Auto && (!finite(g.Positive) || !finite(g.Negative)) {
			return fmt.Errorf("hard-label group %d: labels (%v, %v) are not finite", i, g.Positive, g.Negative)
		}
		if i > 0 && g.Min < t[i-1].Max {
			return fmt.Errorf("hard-label group %d [%v, %v) overlaps or precedes group %d [%v, %v): groups must be sorted and disjoint",
				i, g.Min, g.Max, i-1, t[i-1].Min, t[i-1].Max)
		}
	}
	return nil
}

// Lookup returns the group holding local CTR r; ok is false when none does.
// It assumes a valid table.
func (t HardTable) Lookup(r float64) (g Group, ok bool) {
	lo, hi := 0, len(t) // first group with Max > r, by binary search
	for lo < hi {
		mid := (lo + hi) / 2
		if t[mid].Max > r {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo < len(t) && t[lo].Min <= r {
		return t[lo], true
	}
	// r == 1 belongs to the group that ends at 1.
	if r == 1 && len(t) > 0 && t[len(t)-1].Max == 1 {
		return t[len(t)-1], true
	}
	return Group{}, false
}

// Correct returns the labels of r's group (Auto's labels for g and r in an
// Auto group), or Identity (not applied) when r is in no group. Outside
// Auto groups g is validated but not used: the table was tuned for the
// global model's g.
func (t HardTable) Correct(g, r float64) (Labels, bool, error) {
	if err := checkCTRs(g, r); err != nil {
		return Identity, false, err
	}
	if err := t.Validate(); err != nil {
		return Identity, false, err
	}
	grp, ok := t.Lookup(r)
	if !ok {
		return Identity, false, nil
	}
	if grp.Auto {
		return AutoLabels(g, r)
	}
	return result(Labels{Positive: grp.Positive, Negative: grp.Negative})
}

// GroupsFromEdges returns a table of identity-labelled groups
// [edges[k], edges[k+1]), for instance from local-CTR quantiles; the grid
// search then fills in the labels. Edges must be strictly increasing within
// [0, 1].
func GroupsFromEdges(edges []float64) (HardTable, error) {
	if len(edges) < 2 {
		return nil, errors.New("hard-label groups need at least two edges")
	}
	t := make(HardTable, len(edges)-1)
	for k := range t {
		t[k] = Group{Min: edges[k], Max: edges[k+1], Positive: 1, Negative: 0}
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("edges %v: %w", edges, err)
	}
	return t, nil
}
