package runspec

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// SearchStats are one search shard's additive results: per local-CTR group,
// per cell of its grid, the paired sums of the cell's lift over Auto and over
// the identity (Local) on this shard's users. CombineSearch adds the shards
// up and chooses the table.
type SearchStats struct {
	GlobalCTR       float64 `json:"g"`
	HoldoutFraction float64 `json:"holdout"`
	Seeds           int     `json:"seeds"` // repetitions averaged per user
	// PositiveLabels and NegativeLabels are the spec's grid labels (empty:
	// the default grid); with each group's MeanLocalCTR they give its grid
	// (Grid).
	PositiveLabels []float64 `json:"pos,omitempty"`
	NegativeLabels []float64 `json:"neg,omitempty"`
	// SkippedUsers of this shard: too few fit rows or no held-out row.
	SkippedUsers int64         `json:"skipped"`
	Groups       []SearchGroup `json:"groups"`
	Seconds      float64       `json:"seconds"`
}

// SearchGroup is one local-CTR group of a search shard.
type SearchGroup struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"` // [Min, Max); Max 1 includes 1
	// MeanLocalCTR is r̄, the mean over all the group's users (of every
	// shard) of their fit rows' local CTR, and AllUsers their number: the
	// same in every shard. They define the grid.
	MeanLocalCTR float64 `json:"rbar"`
	AllUsers     int64   `json:"allUsers"`
	// Users are this shard's users of the group; AutoDiverged those whose
	// fine-tuning under Auto's labels diverged under some seed (rolled back
	// to the Cloud model in Auto's AUC).
	Users        int64 `json:"users"`
	AutoDiverged int64 `json:"autoDiverged,omitempty"`
	// Cells are the sums of each cell of the grid, in grid order. They
	// travel packed (see packCells) to fit in a termination message.
	Cells []CellSums `json:"-"`
}

// CellSums are one grid cell's sums over a group's scored users (a
// two-class validation set): the lift of the cell's seed-averaged
// validation AUC over Auto's and over the identity's (Local), and the users
// whose fine-tuning under the cell diverged under some seed (any makes the
// cell invalid).
type CellSums struct {
	VsAuto   PairedSums
	VsLocal  PairedSums
	Diverged int64
}

// Grid is group k's grid.
func (s *SearchStats) Grid(k int) []GridCell {
	gr := s.Groups[k]
	rbar := gr.MeanLocalCTR
	if gr.AllUsers == 0 {
		rbar = math.NaN()
	}
	return GridCells(s.GlobalCTR, rbar, s.PositiveLabels, s.NegativeLabels)
}

// NewCells sizes the group's Cells for a grid of n cells.
func (g *SearchGroup) NewCells(n int) { g.Cells = make([]CellSums, n) }

// Observe adds one scored user: n validation rows, its seed-averaged
// validation AUC under Auto and under each cell (cells[0] the identity).
// The lift over Local of cell c is added with fixed-point sum
// round(n*(cells[c]-auto)) - round(n*(cells[0]-auto)), so the Local sums
// follow from the Auto sums exactly (the packed form relies on it).
func (g *SearchGroup) Observe(n int64, auto float64, cells []float64) error {
	if len(cells) != len(g.Cells) {
		return fmt.Errorf("search group [%g, %g): %d cell AUCs for %d cells", g.Min, g.Max, len(cells), len(g.Cells))
	}
	if n < 1 {
		return fmt.Errorf("search group [%g, %g): a user with %d validation rows", g.Min, g.Max, n)
	}
	for _, a := range append([]float64{auto}, cells...) {
		if !(a >= 0 && a <= 1) {
			return fmt.Errorf("search group [%g, %g): AUC %v is outside [0, 1]", g.Min, g.Max, a)
		}
	}
	nd0 := fixed(float64(n) * (cells[0] - auto))
	for c, a := range cells {
		nd := fixed(float64(n) * (a - auto))
		g.Cells[c].VsAuto.observe(n, nd, a-auto)
		g.Cells[c].VsLocal.observe(n, nd-nd0, a-cells[0])
	}
	return nil
}

// packVersion starts a packed cell list.
const packVersion = 1

// packCells encodes cells compactly: the users and weights shared by all
// cells, then per cell the Auto sum (zigzag), the Auto and Local squared
// sums and the diverged count, as varints, in base64. The Local sum is not
// stored: it is the cell's Auto sum minus the identity's (Observe).
func packCells(cells []CellSums) (string, error) {
	if len(cells) == 0 {
		return "", nil
	}
	h := cells[0].VsAuto
	b := []byte{packVersion}
	b = binary.AppendUvarint(b, uint64(len(cells)))
	b = binary.AppendVarint(b, h.Users)
	b = binary.AppendVarint(b, h.Weight)
	b = binary.AppendVarint(b, h.Weight2)
	for i, c := range cells {
		for _, p := range []PairedSums{c.VsAuto, c.VsLocal} {
			if p.Users != h.Users || p.Weight != h.Weight || p.Weight2 != h.Weight2 {
				return "", fmt.Errorf("packing search cell %d: its users or weights differ from cell 0's", i)
			}
		}
		if c.VsLocal.Sum != c.VsAuto.Sum-cells[0].VsAuto.Sum {
			return "", fmt.Errorf("packing search cell %d: its Local sum is not its Auto sum minus the identity's", i)
		}
		b = binary.AppendVarint(b, c.VsAuto.Sum)
		b = binary.AppendVarint(b, c.VsAuto.SumSq)
		b = binary.AppendVarint(b, c.VsLocal.SumSq)
		b = binary.AppendVarint(b, c.Diverged)
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// unpackCells decodes packCells.
func unpackCells(s string) ([]CellSums, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding search sums: %w", err)
	}
	if len(b) == 0 || b[0] != packVersion {
		return nil, errors.New("decoding search sums: unknown format")
	}
	b = b[1:]
	bad := errors.New("decoding search sums: truncated or malformed")
	n, k := binary.Uvarint(b)
	if k <= 0 || n > MaxSearchGridCells {
		return nil, bad
	}
	b = b[k:]
	next := func() (int64, bool) {
		v, k := binary.Varint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	var h PairedSums
	var ok1, ok2, ok3 bool
	h.Users, ok1 = next()
	h.Weight, ok2 = next()
	h.Weight2, ok3 = next()
	if !ok1 || !ok2 || !ok3 {
		return nil, bad
	}
	cells := make([]CellSums, n)
	for i := range cells {
		var v [4]int64
		for j := range v {
			x, ok := next()
			if !ok {
				return nil, bad
			}
			v[j] = x
		}
		a, l := h, h
		a.Sum, a.SumSq = v[0], v[1]
		l.Sum, l.SumSq = v[0]-cells[0].VsAuto.Sum, v[2]
		if i == 0 {
			l.Sum = 0
		}
		cells[i] = CellSums{VsAuto: a, VsLocal: l, Diverged: v[3]}
	}
	if len(b) != 0 {
		return nil, bad
	}
	return cells, nil
}

// searchGroupJSON is SearchGroup's wire form.
type searchGroupJSON struct {
	searchGroupFields
	Sums string `json:"sums,omitempty"`
}

type searchGroupFields SearchGroup // without the methods

// MarshalJSON packs the cells.
func (g SearchGroup) MarshalJSON() ([]byte, error) {
	s, err := packCells(g.Cells)
	if err != nil {
		return nil, err
	}
	return json.Marshal(searchGroupJSON{searchGroupFields: searchGroupFields(g), Sums: s})
}

// UnmarshalJSON unpacks the cells.
func (g *SearchGroup) UnmarshalJSON(b []byte) error {
	var w searchGroupJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	cells, err := unpackCells(w.Sums)
	if err != nil {
		return err
	}
	*g = SearchGroup(w.searchGroupFields)
	g.Cells = cells
	return nil
}
