package data

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// UserStats counts one user's samples. LocalCTR = Positives /
// (Positives + Negatives), in [0, 1].
type UserStats struct {
	User      int32
	Positives int
	Negatives int
	LocalCTR  float64
}

// ComputeUserStats returns the stats of every user that has samples in ds,
// in ascending User order (users without samples are absent, so there is
// never a 0/0 CTR).
func ComputeUserStats(ds *Dataset) []UserStats {
	ranges := UserRanges(ds)
	out := make([]UserStats, len(ranges))
	for k, r := range ranges {
		s := UserStats{User: r.User}
		for i := r.Start; i < r.End; i++ {
			if ds.Samples[i].Label == 1 {
				s.Positives++
			} else {
				s.Negatives++
			}
		}
		s.LocalCTR = float64(s.Positives) / float64(r.Len())
		out[k] = s
	}
	return out
}

// GlobalCTR is the share of positive samples in ds. An empty dataset is an
// error (the ratio is undefined).
func GlobalCTR(ds *Dataset) (float64, error) {
	if ds == nil || len(ds.Samples) == 0 {
		return 0, errors.New("global CTR of an empty dataset")
	}
	pos := 0
	for i := range ds.Samples {
		if ds.Samples[i].Label == 1 {
			pos++
		}
	}
	return float64(pos) / float64(len(ds.Samples)), nil
}

// LocalCTRQuantiles returns, for each q in qs (each in [0, 1]), the q-th
// quantile of the users' local CTRs, every user counting once. It
// interpolates linearly between order statistics (type 7 of Hyndman and
// Fan, the default of R and NumPy), so q=0 is the smallest CTR, q=1 the
// largest, q=0.5 the median. Used to place cohort boundaries.
func LocalCTRQuantiles(stats []UserStats, qs []float64) ([]float64, error) {
	if len(stats) == 0 {
		return nil, errors.New("local CTR quantiles: no users")
	}
	xs := make([]float64, len(stats))
	for i, s := range stats {
		xs[i] = s.LocalCTR
	}
	slices.Sort(xs)
	out := make([]float64, len(qs))
	for k, q := range qs {
		if !(q >= 0 && q <= 1) {
			return nil, fmt.Errorf("local CTR quantiles: q=%v is outside [0, 1]", q)
		}
		h := q * float64(len(xs)-1)
		lo := int(math.Floor(h))
		hi := min(lo+1, len(xs)-1)
		out[k] = xs[lo] + (h-float64(lo))*(xs[hi]-xs[lo])
	}
	return out, nil
}
