package metrics

import (
	"fmt"
	"math"
)

// DefaultTolerance is the |ΔAUC| up to which a user's AUC counts as
// unchanged. A real change of a user's ranking moves AUC by at least
// 1/(P*N) (P positives, N negatives in the user's test set), which is above
// 1e-9 for every user with P*N < 10^9; float64 noise is around 1e-16. So
// 1e-9 separates "the ranking did not change" from any actual change.
const DefaultTolerance = 1e-9

// Changes counts users whose AUC went up, stayed (|Δ| <= tolerance) or went
// down versus a baseline. Skipped users had an undefined (NaN) AUC in
// either method. Counts are additive across shards (Merge).
type Changes struct {
	Improved  int `json:"improved"`
	Unchanged int `json:"unchanged"`
	Degraded  int `json:"degraded"`
	Skipped   int `json:"skipped"`
}

// Add records one user's AUC under the baseline and under the method.
func (c *Changes) Add(baseline, method, tolerance float64) {
	d := method - baseline
	switch {
	case math.IsNaN(d):
		c.Skipped++
	case math.Abs(d) <= tolerance:
		c.Unchanged++
	case d > 0:
		c.Improved++
	default:
		c.Degraded++
	}
}

// Merge adds the counts of o (a disjoint set of users).
func (c *Changes) Merge(o Changes) {
	c.Improved += o.Improved
	c.Unchanged += o.Unchanged
	c.Degraded += o.Degraded
	c.Skipped += o.Skipped
}

// Compared is the number of users with a defined AUC in both methods.
func (c Changes) Compared() int { return c.Improved + c.Unchanged + c.Degraded }

// Shares are the fractions of compared users improved, unchanged and
// degraded; all 0 when no user was compared.
func (c Changes) Shares() (improved, unchanged, degraded float64) {
	n := float64(c.Compared())
	if n == 0 {
		return 0, 0, 0
	}
	return float64(c.Improved) / n, float64(c.Unchanged) / n, float64(c.Degraded) / n
}

// CompareUsers counts per-user changes of method versus baseline; the two
// slices are aligned by user, NaN marks an undefined AUC. tolerance must be
// >= 0 (use DefaultTolerance).
func CompareUsers(baseline, method []float64, tolerance float64) (Changes, error) {
	var c Changes
	if len(baseline) != len(method) {
		return c, fmt.Errorf("compare users: %d baseline AUCs but %d method AUCs", len(baseline), len(method))
	}
	if !(tolerance >= 0) || math.IsInf(tolerance, 0) {
		return c, fmt.Errorf("compare users: tolerance %v is not a finite number >= 0", tolerance)
	}
	for i := range baseline {
		c.Add(baseline[i], method[i], tolerance)
	}
	return c, nil
}
