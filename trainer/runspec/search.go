package runspec

// The Hard search protocol (KindSearch):
//
//  1. Rows. The global model was pretrained with a holdout
//     (GlobalModel.HoldoutFraction > 0): the last HoldoutCount(n, f) of each
//     user's n train rows were never trained on. The search fine-tunes each
//     user on the other train rows (the fit rows) and validates on the
//     held-out rows only. The test split is never read.
//  2. Groups. Users with at least MinSamples fit rows and a held-out row are
//     grouped by the local CTR r of their fit rows: [0, b1), [b1, b2), ...,
//     [bk, 1] from Boundaries, or Quantiles equal-user groups. Every shard
//     reads the whole train split, so all shards compute the same groups and
//     the same mean local CTR r̄ per group, and so the same grid (GridCells).
//  3. Shards. The search runs as an Indexed Job of Spec.Shards shards; a
//     user belongs to shard ShardOf(user id) (the same hash as a cohort's),
//     and each shard fine-tunes its users under every cell of their group's
//     grid and under Auto's labels, for each seed.
//  4. Sums. For each user with a two-class validation set, its validation
//     AUC under each cell and under Auto is averaged over the seeds, and the
//     paired differences cell - Auto and cell - identity (Local) go into
//     additive PairedSums weighted by the user's validation rows
//     (SearchGroup.Observe). A shard's summary carries them per group and
//     cell (SearchStats); CombineSearch adds the shards' sums exactly.
//  5. Choice. Per group, the best valid cell is the one with the highest
//     mean lift over Auto (ties: the earlier cell, the identity first). The
//     group moves off Auto to that cell only when its 95% interval of the
//     lift over Auto excludes zero (lower bound > 0); otherwise the group
//     keeps Auto (LabelGroup.Auto). A cell under which any user of the group
//     diverged (under any seed) is invalid.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Limits of a search. The shards' summaries carry sums for every cell of
// every group in a termination message (MaxSummaryBytes), which bounds the
// total number of cells.
const (
	// MaxSearchGroups bounds the number of local-CTR groups.
	MaxSearchGroups = 6
	// MaxSearchGridCells bounds the cells of one group's grid, the identity
	// included (1 + positives x negatives with the spec's labels).
	MaxSearchGridCells = 36
	// MaxSearchCells bounds the cells of all groups together: six groups
	// of the default grid (11 cells).
	MaxSearchCells = 66
	// MaxSearchSeeds bounds Search.Seeds.
	MaxSearchSeeds = 16
	// MaxHoldoutFraction bounds Split.HoldoutFraction.
	MaxHoldoutFraction = 0.5
	// DefaultSearchQuantiles is Search.Quantiles when neither it nor
	// Boundaries is set: low / middle / high CTR, as in the paper's online
	// test.
	DefaultSearchQuantiles = 3
)

// DefaultGridFactors scale the soft labels' departure from the identity in
// the default grid: factor f turns SoftPositive's y+ into 1+f*(g/r̄-1) and
// SoftNegative's y- into f*(g-r̄)/(1-r̄). Factor 1 is the soft solution
// itself, whose equivalent CTR is g; the others over- and under-correct.
var DefaultGridFactors = []float64{0.5, 0.75, 1, 1.25, 1.5}

// HoldoutCount is how many of a user's n train rows a pretraining with
// holdout fraction f holds out: floor(n*f), with a 1e-9 allowance so that a
// product a hair below an integer in floating point (0.29*100) counts as
// that integer. The held-out rows are the user's last ones.
func HoldoutCount(n int, f float64) int {
	if n <= 0 || !(f > 0) {
		return 0
	}
	k := int(math.Floor(float64(n)*f + 1e-9))
	return min(max(k, 0), n)
}

// SearchGroupCount is the number of groups the search asks for (before
// quantiles that coincide are merged).
func (s *Search) SearchGroupCount() int {
	switch {
	case len(s.Boundaries) > 0:
		return len(s.Boundaries) + 1
	case s.Quantiles > 0:
		return s.Quantiles
	}
	return DefaultSearchQuantiles
}

// GridSize is the largest number of cells of one group's grid (duplicates
// are dropped, so a grid may be smaller).
func (s *Search) GridSize() int {
	if len(s.PositiveLabels) == 0 && len(s.NegativeLabels) == 0 {
		return 1 + 2*len(DefaultGridFactors)
	}
	return 1 + max(len(s.PositiveLabels), 1)*max(len(s.NegativeLabels), 1)
}

// validateSearch checks a search spec (Search and GlobalModel set).
func (s *Spec) validateSearch() error {
	var errs []error
	se, gm := s.Search, s.GlobalModel
	h := gm.HoldoutFraction
	switch {
	case h == 0:
		errs = append(errs, errors.New("the search's global model has no holdout (globalModel.holdoutFraction is 0): "+
			"a search must validate on rows the model never trained on; pretrain the model with a holdout fraction (for example 0.2) and search again"))
	case !(h > 0 && h <= MaxHoldoutFraction):
		errs = append(errs, fmt.Errorf("globalModel holdoutFraction %v is outside (0, %g]", h, MaxHoldoutFraction))
	default:
		if v := se.ValidationFraction; v != 0 && v != h {
			errs = append(errs, fmt.Errorf("search validationFraction %v differs from the global model's holdoutFraction %v: a search validates on the model's holdout (leave it 0)", v, h))
		}
		if d := s.Dataset.Split.HoldoutFraction; d != 0 && d != h {
			errs = append(errs, fmt.Errorf("dataset split holdoutFraction %v differs from the global model's holdoutFraction %v", d, h))
		}
	}
	if len(se.Boundaries) > 0 && se.Quantiles > 0 {
		errs = append(errs, errors.New("search takes boundaries or quantiles, not both"))
	}
	if se.Quantiles < 0 {
		errs = append(errs, fmt.Errorf("search quantiles %d is negative", se.Quantiles))
	}
	prev := 0.0
	for _, b := range se.Boundaries {
		if !(b > prev && b < 1) {
			errs = append(errs, fmt.Errorf("search boundaries %v must be strictly increasing inside (0, 1)", se.Boundaries))
			break
		}
		prev = b
	}
	groups, cells := se.SearchGroupCount(), se.GridSize()
	if groups > MaxSearchGroups {
		errs = append(errs, fmt.Errorf("search has %d groups, more than %d", groups, MaxSearchGroups))
	}
	if cells > MaxSearchGridCells {
		errs = append(errs, fmt.Errorf("search grid has %d cells per group (the identity and %d positive x %d negative labels), more than %d",
			cells, max(len(se.PositiveLabels), 1), max(len(se.NegativeLabels), 1), MaxSearchGridCells))
	}
	if groups*cells > MaxSearchCells {
		errs = append(errs, fmt.Errorf("search has %d groups x %d cells, more than %d cells in all (their sums must fit in a %d-byte termination message)",
			groups, cells, MaxSearchCells, MaxSummaryBytes))
	}
	if len(se.Seeds) > MaxSearchSeeds {
		errs = append(errs, fmt.Errorf("search has %d seeds, more than %d", len(se.Seeds), MaxSearchSeeds))
	}
	seen := make(map[int64]bool, len(se.Seeds))
	for _, sd := range se.Seeds {
		if seen[sd] {
			errs = append(errs, fmt.Errorf("search seed %d is repeated: seeds must be distinct", sd))
			break
		}
		seen[sd] = true
	}
	if se.MinSamples < 0 {
		errs = append(errs, fmt.Errorf("search minSamples %d is negative", se.MinSamples))
	}
	return errors.Join(errs...)
}

// SearchSeeds are the optimisation seeds of a search's repetitions: the
// spec's Seeds as uint64, or Optimization.Seed alone.
func (s *Spec) SearchSeeds() []uint64 {
	if s.Search == nil || len(s.Search.Seeds) == 0 {
		return []uint64{s.Optimization.Seed}
	}
	out := make([]uint64, len(s.Search.Seeds))
	for i, sd := range s.Search.Seeds {
		out[i] = uint64(sd)
	}
	return out
}

// GridCell is one (y+, y-) of a group's grid.
type GridCell struct {
	Positive float64 `json:"positive"`
	Negative float64 `json:"negative"`
	// Source says where the cell comes from: "identity", "softPositive×f",
	// "softNegative×f" (default grid), or "grid" (the spec's labels).
	Source string `json:"source"`
}

// GridCells is a group's grid, cell 0 always the identity (1, 0). With
// labels (pos or neg non-empty): the identity, then the cross product of
// positives (default {1}) and negatives (default {0}). Without: the
// identity, then SoftPositive and SoftNegative at the group's mean local CTR
// rbar scaled by DefaultGridFactors; a side whose soft label is undefined
// (rbar = 0 for SoftPositive, rbar = 1 for SoftNegative, or rbar NaN for an
// empty group) is left out, and so are cells with a label beyond
// MaxLabelMagnitude. Duplicates are dropped (at rbar = g every soft cell is
// the identity). The arithmetic uses explicit conversions so that no
// platform fuses it into FMA: the trainer and the controller compute the
// same bits.
func GridCells(g, rbar float64, pos, neg []float64) []GridCell {
	cells := []GridCell{{Positive: 1, Negative: 0, Source: "identity"}}
	add := func(c GridCell) {
		for _, o := range cells {
			if o.Positive == c.Positive && o.Negative == c.Negative {
				return
			}
		}
		cells = append(cells, c)
	}
	if len(pos) > 0 || len(neg) > 0 {
		if len(pos) == 0 {
			pos = []float64{1}
		}
		if len(neg) == 0 {
			neg = []float64{0}
		}
		for _, p := range pos {
			for _, n := range neg {
				add(GridCell{Positive: p, Negative: n, Source: "grid"})
			}
		}
		return cells
	}
	if rbar > 0 {
		sp := float64(g / rbar)
		for _, f := range DefaultGridFactors {
			if y := 1 + float64(f*float64(sp-1)); math.Abs(y) <= MaxLabelMagnitude {
				add(GridCell{Positive: y, Negative: 0, Source: "softPositive×" + strconv.FormatFloat(f, 'g', -1, 64)})
			}
		}
	}
	if rbar < 1 {
		sn := float64(float64(g-rbar) / float64(1-rbar))
		for _, f := range DefaultGridFactors {
			if y := float64(f * sn); math.Abs(y) <= MaxLabelMagnitude {
				add(GridCell{Positive: 1, Negative: y, Source: "softNegative×" + strconv.FormatFloat(f, 'g', -1, 64)})
			}
		}
	}
	return cells
}
