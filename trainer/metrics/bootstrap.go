package metrics

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// PairedBootstrap estimates the difference of user-level AUC between
// methods A and B (A minus B) with a 95% paired percentile bootstrap over
// users: each of resamples rounds draws len(users) users with replacement
// and computes sum w*(aucA-aucB) / sum w over the draw, keeping each user's
// two AUCs together (pairing cancels the large between-user variance that
// both methods share). Users with NaN in either AUC are left out.
//
// mean is the difference on the full data (the point estimate); lo and hi
// are the 2.5% and 97.5% quantiles of the resampled differences. The same
// seed gives the same interval.
func PairedBootstrap(aucA, aucB, weights []float64, resamples int, seed uint64) (mean, lo, hi float64, err error) {
	return PairedBootstrapLevel(aucA, aucB, weights, resamples, seed, 0.95)
}

// PairedBootstrapLevel is PairedBootstrap at confidence level in (0, 1).
func PairedBootstrapLevel(aucA, aucB, weights []float64, resamples int, seed uint64, level float64) (mean, lo, hi float64, err error) {
	if len(aucA) != len(aucB) || len(aucA) != len(weights) {
		return 0, 0, 0, fmt.Errorf("paired bootstrap: lengths differ (A %d, B %d, weights %d)", len(aucA), len(aucB), len(weights))
	}
	if resamples < 1 {
		return 0, 0, 0, fmt.Errorf("paired bootstrap: %d resamples", resamples)
	}
	if !(level > 0 && level < 1) {
		return 0, 0, 0, fmt.Errorf("paired bootstrap: level %v is outside (0, 1)", level)
	}
	var d, w []float64 // per kept user: AUC difference and weight
	for i := range aucA {
		if math.IsNaN(aucA[i]) || math.IsNaN(aucB[i]) {
			continue
		}
		if !(weights[i] > 0) || math.IsInf(weights[i], 0) {
			return 0, 0, 0, fmt.Errorf("paired bootstrap: weight %v of user %d is not a positive finite number", weights[i], i)
		}
		diff := aucA[i] - aucB[i]
		if math.IsInf(diff, 0) {
			return 0, 0, 0, fmt.Errorf("paired bootstrap: user %d has an infinite AUC", i)
		}
		d = append(d, diff)
		w = append(w, weights[i])
	}
	if len(d) == 0 {
		return 0, 0, 0, errors.New("paired bootstrap: no user has a defined AUC under both methods")
	}
	mean = weightedMean(d, w, nil)
	rng := rand.New(rand.NewPCG(seed, seed^0xda3e39cb94b95bdb))
	stats := make([]float64, resamples)
	pick := make([]int, len(d))
	for r := range stats {
		for k := range pick {
			pick[k] = rng.IntN(len(d))
		}
		stats[r] = weightedMean(d, w, pick)
	}
	slices.Sort(stats)
	alpha := (1 - level) / 2
	return mean, quantile(stats, alpha), quantile(stats, 1-alpha), nil
}

// weightedMean is sum w*x / sum w over the indices in pick (all when nil).
func weightedMean(x, w []float64, pick []int) float64 {
	var num, den float64
	if pick == nil {
		for i := range x {
			num += w[i] * x[i]
			den += w[i]
		}
	} else {
		for _, i := range pick {
			num += w[i] * x[i]
			den += w[i]
		}
	}
	return num / den
}

// quantile of sorted xs at q in [0, 1], linear between order statistics
// (Hyndman and Fan type 7).
func quantile(xs []float64, q float64) float64 {
	h := q * float64(len(xs)-1)
	i := int(math.Floor(h))
	j := min(i+1, len(xs)-1)
	return xs[i] + (h-float64(i))*(xs[j]-xs[i])
}
