package runspec

import (
	"fmt"
	"math"
)

// PairedScale is the fixed-point scale of PairedSums: sums of n*d and
// n*d² are kept as integers in units of 2^-20, so that adding shards is
// exact and associative (the same total in any order and for any number of
// shards). A user's term is rounded once, to within 2^-21 of n*d.
const PairedScale = 1 << 20

// z95 is the two-sided 95% quantile of the standard normal.
const z95 = 1.959963984540054

// PairedSums are the additive sufficient statistics of a paired difference
// d_u between two arms (say LCFT and Local), one term per user u weighted
// by the user's evaluated rows n_u: the number of users, sum n_u,
// sum n_u², sum n_u*d_u and sum n_u*d_u² (the last two in fixed point,
// PairedScale). The mean difference is the size-weighted mean
// sum n_u*d_u / sum n_u, the same weighting as the user-level AUC.
type PairedSums struct {
	Users   int64 `json:"n"`
	Weight  int64 `json:"w"`  // sum n_u
	Weight2 int64 `json:"w2"` // sum n_u²
	Sum     int64 `json:"s"`  // sum round(n_u*d_u*PairedScale)
	SumSq   int64 `json:"q"`  // sum round(n_u*d_u²*PairedScale)
}

// fixed is round(x*PairedScale).
func fixed(x float64) int64 { return int64(math.Round(x * PairedScale)) }

// Observe adds user u's term: n rows, difference d. n must be positive and
// d finite (an AUC difference lies in [-1, 1]).
func (p *PairedSums) Observe(n int64, d float64) error {
	if n < 1 || math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) > 1 {
		return fmt.Errorf("paired difference %v over %d rows: want n >= 1 and |d| <= 1", d, n)
	}
	p.observe(n, fixed(float64(n)*d), d)
	return nil
}

// observe adds a term whose fixed-point n*d is given.
func (p *PairedSums) observe(n, nd int64, d float64) {
	p.Users++
	p.Weight += n
	p.Weight2 += n * n
	p.Sum += nd
	p.SumSq += fixed(float64(n) * d * d)
}

// Add returns the sum of two statistics.
func (p PairedSums) Add(o PairedSums) PairedSums {
	return PairedSums{Users: p.Users + o.Users, Weight: p.Weight + o.Weight, Weight2: p.Weight2 + o.Weight2,
		Sum: p.Sum + o.Sum, SumSq: p.SumSq + o.SumSq}
}

// Mean is the size-weighted mean difference, or false without users.
func (p PairedSums) Mean() (float64, bool) {
	if p.Weight <= 0 {
		return 0, false
	}
	return float64(p.Sum) / PairedScale / float64(p.Weight), true
}

// Interval is a mean difference and its 95% interval.
type Interval struct {
	Mean  float64 `json:"mean"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Users int64   `json:"users"`
}

// Significant reports whether the interval excludes zero.
func (i Interval) Significant() bool { return i.Lo > 0 || i.Hi < 0 }

// Interval95 is the normal 95% interval of the size-weighted mean
// difference m = sum n*d / W (W = sum n): m ± 1.96*se with
// se² = s² * sum n² / W², where s² = sum n*(d-m)² / (W - sum n²/W) is the
// unbiased variance of d under reliability weights n (with equal n it is the
// usual sample variance and se² = s²/users). It needs at least two users
// (then W² > sum n²); with fewer it returns false and Lo = Hi = Mean.
func (p PairedSums) Interval95() (Interval, bool) {
	m, ok := p.Mean()
	if !ok || p.Users < 2 {
		return Interval{Mean: m, Lo: m, Hi: m, Users: p.Users}, false
	}
	w, w2 := float64(p.Weight), float64(p.Weight2)
	denom := w - w2/w
	if !(denom > 0) {
		return Interval{Mean: m, Lo: m, Hi: m, Users: p.Users}, false
	}
	ss := float64(p.SumSq)/PairedScale - w*m*m // sum n*(d-m)²
	s2 := max(ss, 0) / denom
	se := math.Sqrt(s2*w2) / w
	return Interval{Mean: m, Lo: m - z95*se, Hi: m + z95*se, Users: p.Users}, true
}

// Significant reports whether the 95% interval is defined and excludes zero.
func (p PairedSums) Significant() bool {
	iv, ok := p.Interval95()
	return ok && iv.Significant()
}
