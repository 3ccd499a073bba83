package controllers

import (
	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// pairedInterval is the status form of a lift's 95% interval from the
// additive paired sums of all shards (runspec.PairedSums: integer
// fixed-point sums, so the total and the interval are the same for any
// shard count and order). nil without a paired user; with one user the mean
// only, no interval, not significant.
func pairedInterval(p runspec.PairedSums) *finetunev1alpha1.LiftInterval {
	if p.Users == 0 {
		return nil
	}
	iv, ok := p.Interval95()
	return liftInterval(iv, ok)
}

// liftInterval formats an interval; ok false means it is undefined (fewer
// than two users) and only the mean is written.
func liftInterval(iv runspec.Interval, ok bool) *finetunev1alpha1.LiftInterval {
	out := &finetunev1alpha1.LiftInterval{Mean: formatSigned(iv.Mean), Users: iv.Users, Range: "n/a"}
	if !ok {
		return out
	}
	out.Low, out.High = formatSigned(iv.Lo), formatSigned(iv.Hi)
	out.Range = "[" + out.Low + ", " + out.High + "]"
	out.Significant = iv.Significant()
	return out
}

// writeCohortIntervals sets the cohort's LCFT-Local and LCFT-Cloud
// intervals from the summed shard statistics.
func writeCohortIntervals(st *finetunev1alpha1.FineTuneCohortStatus, total *runspec.FinetuneStats) {
	st.LiftVsLocalInterval = pairedInterval(total.LCFTLocal)
	st.LiftVsCloudInterval = pairedInterval(total.LCFTCloud)
}
