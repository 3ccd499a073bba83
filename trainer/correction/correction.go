// Package correction implements the label correction of LCFT ("On-Device
// Model Fine-Tuning with Label Correction in Recommender Systems", arXiv
// 2211.01163): before fine-tuning on one user's samples, relabel them so that
// the constant prediction minimising the loss (the equivalent CTR) is the
// global CTR g of the cloud model instead of the user's local CTR r.
//
// The equivalent CTR of labels y+ (positives) and y- (negatives) is
// r*y+ + (1-r)*y- for both squared error and cross-entropy. The strategies:
//
//   - None: y+ = 1, y- = 0 (plain local fine-tuning).
//   - SoftPositive: y- = 0, y+ = g/r (may exceed 1: the paper's Example 1
//     turns positives into 2).
//   - SoftNegative: y+ = 1, y- = (g-r)/(1-r) (negative when r > g).
//   - Auto: SoftPositive when r > g, SoftNegative when r < g, identity when
//     r == g, so both labels stay in [0, 1].
//   - Hard: a table of local-CTR groups, each with its (y+, y-) found by a
//     grid search offline (see HardTable).
//
// Edge cases (never a division by zero):
//
//   - g must be in (0, 1) and r in [0, 1]; anything else (NaN included) is
//     an error.
//   - r = 0 (no positives): SoftPositive has no positive to relabel and the
//     equivalent CTR is 0 whatever y+ is, so it returns the identity labels
//     and applied = false. SoftNegative is defined: y- = g.
//   - r = 1 (no negatives): SoftNegative has no negative to relabel, so it
//     returns the identity and applied = false. SoftPositive is defined:
//     y+ = g.
//   - Auto is defined for every r: r = 0 < g takes SoftNegative (y- = g),
//     r = 1 > g takes SoftPositive (y+ = g).
//
// "applied" always means the returned labels differ from the identity
// (1, 0). Whenever a soft strategy (SoftPositive, SoftNegative, Auto)
// applies, EquivalentCTR(r, labels) == g up to rounding.
package correction

import (
	"fmt"
	"math"
)

// EquivalentCTR is the constant prediction that minimises squared error or
// cross-entropy over samples with positive share r, positives labelled yPos
// and negatives yNeg: r*yPos + (1-r)*yNeg.
func EquivalentCTR(r, yPos, yNeg float64) float64 {
	return r*yPos + (1-r)*yNeg
}

// Labels are the training targets of a user's positive and negative
// samples.
type Labels struct {
	Positive float64 `json:"positive"`
	Negative float64 `json:"negative"`
}

// Identity is the uncorrected labelling: positives 1, negatives 0.
var Identity = Labels{Positive: 1, Negative: 0}

// For returns the target of a sample with observed label y (0 or 1; y > 0.5
// counts as positive).
func (l Labels) For(y float32) float32 {
	if y > 0.5 {
		return float32(l.Positive)
	}
	return float32(l.Negative)
}

// Corrector chooses a user's labels from the global CTR g in (0, 1) and the
// user's local CTR r in [0, 1] (measured on the user's training samples).
// applied reports whether the labels differ from Identity.
type Corrector interface {
	Correct(g, r float64) (labels Labels, applied bool, err error)
}

// Func adapts a function to Corrector.
type Func func(g, r float64) (Labels, bool, error)

// Correct calls f.
func (f Func) Correct(g, r float64) (Labels, bool, error) { return f(g, r) }

// checkCTRs validates g in (0, 1) and r in [0, 1].
func checkCTRs(g, r float64) error {
	if !(g > 0 && g < 1) {
		return fmt.Errorf("global CTR %v is outside (0, 1)", g)
	}
	if !(r >= 0 && r <= 1) {
		return fmt.Errorf("local CTR %v is outside [0, 1]", r)
	}
	return nil
}

func result(l Labels) (Labels, bool, error) { return l, l != Identity, nil }

// NoCorrection returns Identity (after validating g and r).
func NoCorrection(g, r float64) (Labels, bool, error) {
	if err := checkCTRs(g, r); err != nil {
		return Identity, false, err
	}
	return Identity, false, nil
}

// SoftPositiveLabels keeps negatives at 0 and sets y+ = g/r; for r = 0 (no
// positives) it returns Identity, not applied.
func SoftPositiveLabels(g, r float64) (Labels, bool, error) {
	if err := checkCTRs(g, r); err != nil {
		return Identity, false, err
	}
	if r == 0 {
		return Identity, false, nil
	}
	return result(Labels{Positive: g / r, Negative: 0})
}

// SoftNegativeLabels keeps positives at 1 and sets y- = (g-r)/(1-r); for
// r = 1 (no negatives) it returns Identity, not applied.
func SoftNegativeLabels(g, r float64) (Labels, bool, error) {
	if err := checkCTRs(g, r); err != nil {
		return Identity, false, err
	}
	if r == 1 {
		return Identity, false, nil
	}
	return result(Labels{Positive: 1, Negative: (g - r) / (1 - r)})
}

// AutoLabels picks the side that keeps labels in [0, 1]: SoftPositive when
// r > g (y+ = g/r < 1), SoftNegative when r < g (y- = (g-r)/(1-r) in
// (0, 1)), Identity when r == g.
func AutoLabels(g, r float64) (Labels, bool, error) {
	if err := checkCTRs(g, r); err != nil {
		return Identity, false, err
	}
	switch {
	case r > g:
		return SoftPositiveLabels(g, r)
	case r < g:
		return SoftNegativeLabels(g, r)
	}
	return Identity, false, nil
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
