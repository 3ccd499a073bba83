// Package metrics computes the evaluation metrics of label-corrected
// fine-tuning: tie-aware AUC, the paper's user-level AUC (each user's test
// AUC weighted by the user's test-set size, single-class users left out and
// counted), the share of users improved / unchanged / degraded versus a
// baseline, the lift of one method over another per local-CTR bucket, and a
// paired bootstrap confidence interval for the difference of two methods.
//
// Per-user AUC slices use NaN for a user whose AUC is undefined (single-class
// test set); the functions here skip such users and count them.
package metrics

import (
	"cmp"
	"math"
	"slices"
)

// Float is the element type of scores and labels.
type Float interface{ ~float32 | ~float64 }

// AUC is the area under the ROC curve of scores against labels (label > 0.5
// is positive; pass the observed 0/1 labels, never corrected ones): the
// probability that a random positive scores above a random negative, a tie
// counting 1/2 (the Mann–Whitney statistic with mid-ranks). O(n log n).
//
// ok is false, and auc 0, when AUC is undefined: the slices differ in length
// or are empty, a score is NaN, or all labels are of one class.
func AUC[S, L Float](scores []S, labels []L) (auc float64, ok bool) {
	n := len(scores)
	if n == 0 || n != len(labels) {
		return 0, false
	}
	idx := make([]int, n)
	for i := range idx {
		if math.IsNaN(float64(scores[i])) {
			return 0, false
		}
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	// twiceU = 2 * sum over positives of (#negatives below + #tied negatives/2),
	// an integer, so the only rounding is the final division.
	var twiceU, negBelow, nPos int64
	for i := 0; i < n; {
		j := i
		var pos, neg int64
		for ; j < n && scores[idx[j]] == scores[idx[i]]; j++ {
			if labels[idx[j]] > 0.5 {
				pos++
			} else {
				neg++
			}
		}
		twiceU += 2*pos*negBelow + pos*neg
		negBelow += neg
		nPos += pos
		i = j
	}
	nNeg := int64(n) - nPos
	if nPos == 0 || nNeg == 0 {
		return 0, false
	}
	return float64(twiceU) / (2 * float64(nPos) * float64(nNeg)), true
}
