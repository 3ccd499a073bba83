package metrics

import (
	"fmt"
	"math"
)

// UserAUC accumulates the user-level AUC sum_u n_u*AUC_u / sum_u n_u over
// users with a defined AUC, n_u being the user's test-set size. The fields
// are sufficient statistics: accumulators of disjoint sets of users (shards)
// Merge into the statistics of the union (Users and SkippedUsers exactly;
// Weight exactly while it is a sum of integers below 2^53; WeightedAUCSum up
// to float64 rounding of the additions, so the order of merging may move
// the last bits).
type UserAUC struct {
	WeightedAUCSum float64 `json:"weightedAUCSum"` // sum of n_u*AUC_u over scored users
	Weight         float64 `json:"weight"`         // sum of n_u over scored users (test samples)
	Users          int     `json:"users"`          // users with a defined AUC
	SkippedUsers   int     `json:"skippedUsers"`   // users left out: single-class test set
}

// Add records one user with n test samples. ok=false (AUC undefined, as
// returned by AUC) counts the user as skipped. A defined AUC needs n >= 2
// and auc in [0, 1].
func (a *UserAUC) Add(n int, auc float64, ok bool) error {
	if !ok {
		a.SkippedUsers++
		return nil
	}
	if n < 2 {
		return fmt.Errorf("user AUC: %d test samples cannot hold both classes", n)
	}
	return a.add(float64(n), auc)
}

func (a *UserAUC) add(w, auc float64) error {
	if !(auc >= 0 && auc <= 1) {
		return fmt.Errorf("user AUC: AUC %v is outside [0, 1]", auc)
	}
	if !(w > 0) || math.IsInf(w, 0) {
		return fmt.Errorf("user AUC: weight %v is not a positive finite number", w)
	}
	a.WeightedAUCSum += w * auc
	a.Weight += w
	a.Users++
	return nil
}

// AddScores computes one user's AUC from test scores and 0/1 labels and
// records it; it returns the AUC and whether it was defined.
func AddScores[S, L Float](a *UserAUC, scores []S, labels []L) (auc float64, ok bool, err error) {
	if len(scores) != len(labels) {
		return 0, false, fmt.Errorf("user AUC: %d scores but %d labels", len(scores), len(labels))
	}
	auc, ok = AUC(scores, labels)
	return auc, ok, a.Add(len(scores), auc, ok)
}

// Merge adds the statistics of b (a disjoint set of users) to a.
func (a *UserAUC) Merge(b UserAUC) {
	a.WeightedAUCSum += b.WeightedAUCSum
	a.Weight += b.Weight
	a.Users += b.Users
	a.SkippedUsers += b.SkippedUsers
}

// Value is the user-level AUC; ok is false when no user had a defined AUC.
func (a UserAUC) Value() (auc float64, ok bool) {
	if a.Weight == 0 {
		return 0, false
	}
	return a.WeightedAUCSum / a.Weight, true
}

// WeightedMean accumulates per-user AUCs with their weights (n_u, positive):
// NaN entries of auc are skipped and counted.
func WeightedMean(auc, weights []float64) (UserAUC, error) {
	var a UserAUC
	if len(auc) != len(weights) {
		return a, fmt.Errorf("user AUC: %d AUCs but %d weights", len(auc), len(weights))
	}
	for i := range auc {
		if math.IsNaN(auc[i]) {
			a.SkippedUsers++
			continue
		}
		if err := a.add(weights[i], auc[i]); err != nil {
			return a, fmt.Errorf("user %d: %w", i, err)
		}
	}
	return a, nil
}
