package runspec

import (
	"errors"
	"fmt"
	"slices"
)

// Reasons of a search group's choice (SearchGroupResult.Reason).
const (
	// ReasonBeatsAuto: the best cell's lift over Auto has a 95% interval
	// above zero; the group takes the cell's labels.
	ReasonBeatsAuto = "BeatsAuto"
	// ReasonNotSignificant: the best cell's mean lift over Auto is
	// positive but its interval includes zero; the group keeps Auto.
	ReasonNotSignificant = "NotSignificant"
	// ReasonAutoBest: no cell's mean lift over Auto is positive; the group
	// keeps Auto.
	ReasonAutoBest = "AutoBest"
	// ReasonTooFewUsers: fewer than two scored users (no interval); the
	// group keeps Auto.
	ReasonTooFewUsers = "TooFewUsers"
	// ReasonAllDiverged: every cell diverged for some user; the group
	// keeps Auto.
	ReasonAllDiverged = "AllCellsDiverged"
)

// SearchResult is a search's outcome over all its shards.
type SearchResult struct {
	Shards       int                 `json:"shards"`
	Seeds        int                 `json:"seeds"`
	SkippedUsers int64               `json:"skippedUsers"`
	Groups       []SearchGroupResult `json:"groups"`
	// Table is the chosen Hard table, as a finetune spec's correction takes
	// it: a group keeping Auto has Auto set.
	Table []LabelGroup `json:"table"`
}

// SearchGroupResult is one group's choice.
type SearchGroupResult struct {
	Min          float64 `json:"min"`
	Max          float64 `json:"max"`
	MeanLocalCTR float64 `json:"meanLocalCTR"`
	Users        int64   `json:"users"`
	ScoredUsers  int64   `json:"scoredUsers"` // with a two-class validation set
	AutoDiverged int64   `json:"autoDiverged,omitempty"`
	// Auto is true when the group keeps Auto; otherwise Chosen is the
	// cell it takes.
	Auto   bool     `json:"auto"`
	Chosen GridCell `json:"chosen"`
	// LiftVsAuto and LiftVsLocal are the validation AUC lifts of the
	// group's choice (Auto's lift over Auto is 0), seed-averaged per user.
	LiftVsAuto  Interval `json:"liftVsAuto"`
	LiftVsLocal Interval `json:"liftVsLocal"`
	// Best is the index in Cells of the best valid cell, -1 when none.
	Best    int          `json:"best"`
	Cells   []CellResult `json:"cells"`
	Reason  string       `json:"reason"`
	Message string       `json:"message"`
}

// CellResult is one cell of a group's search surface.
type CellResult struct {
	GridCell
	LiftVsAuto  Interval `json:"liftVsAuto"`
	LiftVsLocal Interval `json:"liftVsLocal"`
	Diverged    int64    `json:"diverged,omitempty"` // users; any makes the cell invalid
}

// choiceTolerance: mean lifts closer than this count as tied (a few
// fixed-point units).
const choiceTolerance = 1e-12

// CombineSearch adds the search shards' summaries (one per shard, any
// order) and chooses each group's labels: the best valid cell (highest mean
// lift over Auto; ties to the earlier cell, the identity first) when its
// 95% interval over Auto excludes zero from above, Auto otherwise. The
// shards must agree on the groups and grids.
func CombineSearch(summaries []*Summary) (*SearchResult, error) {
	if len(summaries) == 0 {
		return nil, errors.New("combining a search: no shard summaries")
	}
	var tot *SearchStats
	seen := make(map[int]bool)
	for i, s := range summaries {
		if s == nil || s.Search == nil {
			return nil, fmt.Errorf("combining a search: summary %d has no search statistics", i)
		}
		if seen[s.Shard] {
			return nil, fmt.Errorf("combining a search: shard %d appears twice", s.Shard)
		}
		seen[s.Shard] = true
		st := s.Search
		if tot == nil {
			tot = cloneSearch(st)
			continue
		}
		if err := addSearch(tot, st); err != nil {
			return nil, fmt.Errorf("combining a search: shard %d: %w", s.Shard, err)
		}
	}
	res := &SearchResult{Shards: len(summaries), Seeds: tot.Seeds, SkippedUsers: tot.SkippedUsers}
	for k := range tot.Groups {
		gr := choose(tot, k)
		res.Groups = append(res.Groups, gr)
		lg := LabelGroup{Min: gr.Min, Max: gr.Max, Auto: gr.Auto}
		if !gr.Auto {
			lg.Positive, lg.Negative = gr.Chosen.Positive, gr.Chosen.Negative
		}
		res.Table = append(res.Table, lg)
	}
	return res, nil
}

// cloneSearch is a deep copy of st's groups and cells.
func cloneSearch(st *SearchStats) *SearchStats {
	c := *st
	c.Groups = make([]SearchGroup, len(st.Groups))
	for k, g := range st.Groups {
		g.Cells = slices.Clone(g.Cells)
		c.Groups[k] = g
	}
	return &c
}

// addSearch adds o into tot after checking they describe the same search.
func addSearch(tot, o *SearchStats) error {
	if o.GlobalCTR != tot.GlobalCTR || o.Seeds != tot.Seeds || o.HoldoutFraction != tot.HoldoutFraction ||
		!slices.Equal(o.PositiveLabels, tot.PositiveLabels) || !slices.Equal(o.NegativeLabels, tot.NegativeLabels) {
		return errors.New("its global CTR, seeds, holdout or grid labels differ from the other shards'")
	}
	if len(o.Groups) != len(tot.Groups) {
		return fmt.Errorf("%d groups, the other shards %d", len(o.Groups), len(tot.Groups))
	}
	for k := range o.Groups {
		a, b := &tot.Groups[k], &o.Groups[k]
		if a.Min != b.Min || a.Max != b.Max || a.MeanLocalCTR != b.MeanLocalCTR || a.AllUsers != b.AllUsers || len(a.Cells) != len(b.Cells) {
			return fmt.Errorf("group %d ([%g, %g), r̄ %g, %d cells) differs from the other shards' ([%g, %g), r̄ %g, %d cells)",
				k, b.Min, b.Max, b.MeanLocalCTR, len(b.Cells), a.Min, a.Max, a.MeanLocalCTR, len(a.Cells))
		}
		a.Users += b.Users
		a.AutoDiverged += b.AutoDiverged
		for c := range a.Cells {
			a.Cells[c].VsAuto = a.Cells[c].VsAuto.Add(b.Cells[c].VsAuto)
			a.Cells[c].VsLocal = a.Cells[c].VsLocal.Add(b.Cells[c].VsLocal)
			a.Cells[c].Diverged += b.Cells[c].Diverged
		}
	}
	tot.SkippedUsers += o.SkippedUsers
	tot.Seconds += o.Seconds
	return nil
}

// choose applies the choice rule to group k of the combined statistics.
func choose(st *SearchStats, k int) SearchGroupResult {
	g := st.Groups[k]
	grid := st.Grid(k)
	r := SearchGroupResult{Min: g.Min, Max: g.Max, MeanLocalCTR: g.MeanLocalCTR, Users: g.Users, AutoDiverged: g.AutoDiverged, Best: -1, Auto: true}
	if len(g.Cells) > 0 {
		r.ScoredUsers = g.Cells[0].VsAuto.Users
	}
	best, bestMean := -1, 0.0
	for c, cs := range g.Cells {
		cr := CellResult{Diverged: cs.Diverged}
		if c < len(grid) {
			cr.GridCell = grid[c]
		}
		cr.LiftVsAuto, _ = cs.VsAuto.Interval95()
		cr.LiftVsLocal, _ = cs.VsLocal.Interval95()
		r.Cells = append(r.Cells, cr)
		if cs.Diverged > 0 {
			continue
		}
		if m, ok := cs.VsAuto.Mean(); ok && (best < 0 || m > bestMean+choiceTolerance) {
			best, bestMean = c, m
		}
	}
	// Auto's lift over Local is minus the identity's lift over Auto.
	autoVsLocal := PairedSums{}
	if len(g.Cells) > 0 {
		autoVsLocal = g.Cells[0].VsAuto
		autoVsLocal.Sum = -autoVsLocal.Sum
	}
	r.LiftVsAuto = Interval{Users: r.ScoredUsers}
	r.LiftVsLocal, _ = autoVsLocal.Interval95()
	r.Best = best
	switch {
	case r.ScoredUsers < 2:
		r.Reason, r.Message = ReasonTooFewUsers, fmt.Sprintf("%d scored users: no interval; keeps Auto", r.ScoredUsers)
		return r
	case best < 0:
		r.Reason, r.Message = ReasonAllDiverged, "fine-tuning diverged under every cell; keeps Auto"
		return r
	}
	b := r.Cells[best]
	switch {
	case b.LiftVsAuto.Lo > 0:
		r.Auto, r.Chosen = false, b.GridCell
		r.LiftVsAuto, r.LiftVsLocal = b.LiftVsAuto, b.LiftVsLocal
		r.Reason, r.Message = ReasonBeatsAuto, fmt.Sprintf("%s (%.4g, %.4g) beats Auto by %.5f [%.5f, %.5f] over %d users",
			b.Source, b.Positive, b.Negative, b.LiftVsAuto.Mean, b.LiftVsAuto.Lo, b.LiftVsAuto.Hi, r.ScoredUsers)
	case bestMean > 0:
		r.Reason, r.Message = ReasonNotSignificant, fmt.Sprintf("best cell %s (%.4g, %.4g) beats Auto by %.5f but its interval [%.5f, %.5f] includes zero; keeps Auto",
			b.Source, b.Positive, b.Negative, b.LiftVsAuto.Mean, b.LiftVsAuto.Lo, b.LiftVsAuto.Hi)
	default:
		r.Reason, r.Message = ReasonAutoBest, fmt.Sprintf("no cell beats Auto (best %s: %.5f); keeps Auto", b.Source, b.LiftVsAuto.Mean)
	}
	return r
}
