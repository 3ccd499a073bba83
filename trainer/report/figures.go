package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
)

// Bin is one bar of the local-CTR histogram: users with local CTR in
// [Lo, Hi) (the last bin also holds Hi).
type Bin struct {
	Lo, Hi float64
	Users  int
}

// LiftBar is one local-CTR bucket of the lift chart.
type LiftBar struct {
	Lo, Hi float64
	// Users compared in the bucket (a two-class test set).
	Users int
	// LCFT and Local are the bucket's user-level AUCs, Lift = LCFT - Local;
	// NaN without users.
	LCFT, Local, Lift float64
	// CILo and CIHi bound the 95% paired bootstrap interval of Lift over the
	// bucket's users; NaN when unknown (no per-user rows, or no users).
	CILo, CIHi float64
}

// StrategyLift is the lift chart of one strategy.
type StrategyLift struct {
	Strategy string
	Bars     []LiftBar
}

// StrategyChanges counts the users whose AUC went up, stayed or went down
// versus Cloud under one strategy (None: Local versus Cloud).
type StrategyChanges struct {
	Strategy string
	runner.Changes
}

// Figures is the data of one model's three pictures.
type Figures struct {
	Architecture string
	Dataset      string // for titles, e.g. "MovieLens movielens-small"; may be empty
	GlobalCTR    float64
	// LocalCTR holds the users' local CTRs (empty without per-user rows).
	LocalCTR []float64
	Hist     []Bin
	// Lift has one entry per strategy other than None (whose LCFT is Local).
	Lift []StrategyLift
	// Changes has one entry per strategy, in order.
	Changes []StrategyChanges
}

// Options tune Build.
type Options struct {
	Buckets   int    // local-CTR buckets of the lift chart; 0 means 10
	Bins      int    // bins of the histogram; 0 means 20
	Resamples int    // bootstrap resamples per bucket; 0 means runner.DefaultBootstrapResamples
	Dataset   string // title label of the data set
}

// Build computes the figures of one model from its strategies' reports.
// With per-user rows, buckets and intervals come from the rows; without,
// the lift is the report's own 10 buckets (no intervals) and there is no
// histogram.
func Build(m ModelResult, o Options) (*Figures, error) {
	if len(m.Strategies) == 0 {
		return nil, fmt.Errorf("%w: model %s has no strategy", ErrInput, m.Architecture)
	}
	if o.Buckets == 0 {
		o.Buckets = 10
	}
	if o.Bins == 0 {
		o.Bins = 20
	}
	if o.Resamples == 0 {
		o.Resamples = runner.DefaultBootstrapResamples
	}
	if o.Buckets < 1 || o.Bins < 1 || o.Resamples < 1 {
		return nil, fmt.Errorf("%w: %d buckets, %d bins, %d resamples", ErrInput, o.Buckets, o.Bins, o.Resamples)
	}
	first := m.Strategies[0]
	f := &Figures{Architecture: m.Architecture, Dataset: o.Dataset, GlobalCTR: first.GlobalCTR}
	for _, r := range m.Strategies {
		if len(r.Users) > 0 {
			f.LocalCTR = make([]float64, len(r.Users))
			for i, u := range r.Users {
				f.LocalCTR[i] = u.LocalCTR
			}
			f.Hist = Histogram(f.LocalCTR, o.Bins)
			break
		}
	}
	for _, r := range m.Strategies {
		if r.GlobalCTR != f.GlobalCTR {
			return nil, fmt.Errorf("%w: %s: strategies disagree on the global CTR (%v, %v)", ErrInput, m.Architecture, f.GlobalCTR, r.GlobalCTR)
		}
		c := r.VsCloud
		if len(r.Users) > 0 {
			var err error
			if c, err = changesFromRows(r.Users); err != nil {
				return nil, err
			}
		}
		f.Changes = append(f.Changes, StrategyChanges{Strategy: r.Strategy, Changes: c})
		if strings.EqualFold(r.Strategy, "None") {
			continue
		}
		var bars []LiftBar
		if len(r.Users) > 0 {
			var err error
			if bars, err = liftFromRows(r.Users, o.Buckets, o.Resamples, r.Optimization.Seed); err != nil {
				return nil, err
			}
		} else {
			for _, b := range r.LiftByCTR {
				bars = append(bars, LiftBar{Lo: b.Lo, Hi: b.Hi, Users: b.Users, LCFT: float64(b.LCFT), Local: float64(b.Local), Lift: float64(b.Lift), CILo: math.NaN(), CIHi: math.NaN()})
			}
		}
		f.Lift = append(f.Lift, StrategyLift{Strategy: r.Strategy, Bars: bars})
	}
	return f, nil
}

// Histogram counts local CTRs in n equal bins on [0, 1]; 1 falls in the
// last bin, values outside [0, 1] (or NaN) in none.
func Histogram(ctr []float64, n int) []Bin {
	bins := make([]Bin, n)
	for k := range bins {
		bins[k].Lo, bins[k].Hi = float64(k)/float64(n), float64(k+1)/float64(n)
	}
	for _, r := range ctr {
		if !(r >= 0 && r <= 1) {
			continue
		}
		k := int(r * float64(n))
		if k == n {
			k = n - 1
		}
		// Guard against r*n rounding across an edge.
		for k > 0 && r < bins[k].Lo {
			k--
		}
		for k < n-1 && r >= bins[k].Hi {
			k++
		}
		bins[k].Users++
	}
	return bins
}

// changesFromRows counts LCFT versus Cloud per user.
func changesFromRows(rows []runner.UserRow) (runner.Changes, error) {
	base, meth := make([]float64, len(rows)), make([]float64, len(rows))
	for i, u := range rows {
		base[i], meth[i] = float64(u.Cloud), float64(u.LCFT)
	}
	c, err := metrics.CompareUsers(base, meth, metrics.DefaultTolerance)
	if err != nil {
		return runner.Changes{}, err
	}
	return changes(c), nil
}

// liftFromRows is metrics.LiftByBucket over n equal local-CTR buckets, with
// a paired bootstrap interval per bucket when resamples > 0.
func liftFromRows(rows []runner.UserRow, n, resamples int, seed uint64) ([]LiftBar, error) {
	ctr, lcft, local, w := make([]float64, len(rows)), make([]float64, len(rows)), make([]float64, len(rows)), make([]float64, len(rows))
	for i, u := range rows {
		ctr[i], lcft[i], local[i], w[i] = u.LocalCTR, float64(u.LCFT), float64(u.Local), float64(u.Test)
	}
	edges, err := metrics.EqualEdges(n)
	if err != nil {
		return nil, err
	}
	buckets, err := metrics.LiftByBucket(ctr, lcft, local, w, edges)
	if err != nil {
		return nil, fmt.Errorf("lift by local CTR: %w", err)
	}
	bars := make([]LiftBar, len(buckets))
	for k, b := range buckets {
		nan := math.NaN()
		bar := LiftBar{Lo: b.Lo, Hi: b.Hi, Users: b.Users(), LCFT: nan, Local: nan, Lift: nan, CILo: nan, CIHi: nan}
		if v, ok := b.A.Value(); ok {
			bar.LCFT = v
		}
		if v, ok := b.B.Value(); ok {
			bar.Local = v
		}
		if v, ok := b.Lift(); ok {
			bar.Lift = v
		}
		bars[k] = bar
	}
	if resamples == 0 {
		return bars, nil
	}
	// Per bucket: the users of the bucket, bootstrapped on their own.
	members := make([][]int, len(bars))
	for i, r := range ctr {
		for k := range bars {
			if inBucket(r, bars[k].Lo, bars[k].Hi, k == len(bars)-1) {
				members[k] = append(members[k], i)
				break
			}
		}
	}
	for k := range bars {
		if bars[k].Users == 0 {
			continue
		}
		var a, b, ww []float64
		for _, i := range members[k] {
			a, b, ww = append(a, lcft[i]), append(b, local[i]), append(ww, w[i])
		}
		_, lo, hi, err := metrics.PairedBootstrap(a, b, ww, resamples, seed+uint64(k))
		if err != nil {
			return nil, fmt.Errorf("bucket [%g, %g): bootstrap: %w", bars[k].Lo, bars[k].Hi, err)
		}
		bars[k].CILo, bars[k].CIHi = lo, hi
	}
	return bars, nil
}

// inBucket mirrors metrics.LiftByBucket's rule: [lo, hi), the last bucket
// also holding hi.
func inBucket(r, lo, hi float64, last bool) bool {
	return r >= lo && (r < hi || (last && r == hi))
}
