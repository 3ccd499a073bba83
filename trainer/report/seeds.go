package report

import (
	"fmt"
	"math"
	"slices"

	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
)

// SeedAverage is one (architecture, strategy) of an experiment over
// several seeds: each seed runs the whole protocol (pretraining, search,
// fine-tuning), each user's AUCs are averaged over the seeds, and the
// paired bootstrap runs over users on those averages. SD* are the sample
// standard deviations over seeds of each seed's user-level difference: the
// seed-to-seed noise a single-seed interval does not show.
type SeedAverage struct {
	Architecture string          `json:"architecture"`
	Strategy     string          `json:"strategy"`
	Seeds        []uint64        `json:"seeds"`
	Users        int             `json:"users"` // two-class in every seed
	Cloud        runner.Float    `json:"cloud"`
	Local        runner.Float    `json:"local"`
	LCFT         runner.Float    `json:"lcft"`
	LCFTvsLocal  runner.Interval `json:"lcftVsLocal"`
	LCFTvsCloud  runner.Interval `json:"lcftVsCloud"`
	SDLCFTLocal  float64         `json:"sdLcftVsLocal"`
	SDLCFTCloud  float64         `json:"sdLcftVsCloud"`
	PerSeedLocal []float64       `json:"perSeedLcftVsLocal"` // each seed's LCFT−Local
}

// SeedComparison is strategy A's LCFT minus strategy B's LCFT (for
// instance Hard − Auto), per user averaged over seeds, with its paired
// bootstrap and the SD over seeds of each seed's difference.
type SeedComparison struct {
	Architecture string          `json:"architecture"`
	A            string          `json:"a"`
	B            string          `json:"b"`
	Diff         runner.Interval `json:"diff"`
	SD           float64         `json:"sd"`
	PerSeed      []float64       `json:"perSeed"`
}

// seedRow is one user's AUCs in one seed.
type seedRow struct{ cloud, local, lcft, n float64 }

// AverageOverSeeds summarises models (one ModelResult per architecture and
// seed, with per-user rows) per architecture and strategy, and compares
// each strategy in compare (pairs {A, B}) on LCFT. Only users with a
// two-class test set in every seed count.
func AverageOverSeeds(models []ModelResult, compare [][2]string, resamples int, seed uint64) ([]SeedAverage, []SeedComparison, error) {
	var archs []string
	for _, m := range models {
		if !slices.Contains(archs, m.Architecture) {
			archs = append(archs, m.Architecture)
		}
	}
	var avgs []SeedAverage
	var comps []SeedComparison
	for _, arch := range archs {
		// rows[strategy][user][seed index]
		rows := map[string]map[string][]seedRow{}
		var strategies []string
		var seeds []uint64
		for _, m := range models {
			if m.Architecture != arch {
				continue
			}
			seeds = append(seeds, m.Seed)
			for _, r := range m.Strategies {
				if len(r.Users) == 0 {
					return nil, nil, fmt.Errorf("%s %s seed %d: no per-user rows to average", arch, r.Strategy, m.Seed)
				}
				if rows[r.Strategy] == nil {
					rows[r.Strategy] = map[string][]seedRow{}
					strategies = append(strategies, r.Strategy)
				}
				for _, u := range r.Users {
					if !u.Cloud.Defined() || !u.Local.Defined() || !u.LCFT.Defined() {
						continue
					}
					rows[r.Strategy][u.User] = append(rows[r.Strategy][u.User], seedRow{float64(u.Cloud), float64(u.Local), float64(u.LCFT), float64(u.Test)})
				}
			}
		}
		avg := func(strategy string) (users []string, cloud, local, lcft, w []float64) {
			for u, rs := range rows[strategy] {
				if len(rs) == len(seeds) {
					users = append(users, u)
				}
			}
			slices.Sort(users)
			for _, u := range users {
				var c, l, f float64
				for _, r := range rows[strategy][u] {
					c, l, f = c+r.cloud, l+r.local, f+r.lcft
				}
				k := float64(len(seeds))
				cloud, local, lcft, w = append(cloud, c/k), append(local, l/k), append(lcft, f/k), append(w, rows[strategy][u][0].n)
			}
			return users, cloud, local, lcft, w
		}
		for _, st := range strategies {
			users, cloud, local, lcft, w := avg(st)
			sa := SeedAverage{Architecture: arch, Strategy: st, Seeds: seeds, Users: len(users),
				Cloud: weightedMean(cloud, w), Local: weightedMean(local, w), LCFT: weightedMean(lcft, w)}
			var err error
			if sa.LCFTvsLocal, err = bootstrap(lcft, local, w, resamples, seed); err != nil {
				return nil, nil, err
			}
			if sa.LCFTvsCloud, err = bootstrap(lcft, cloud, w, resamples, seed); err != nil {
				return nil, nil, err
			}
			var perCloud []float64
			for i := range seeds {
				dl, dc := perSeedDiff(rows[st], users, i, func(r seedRow) float64 { return r.lcft - r.local }),
					perSeedDiff(rows[st], users, i, func(r seedRow) float64 { return r.lcft - r.cloud })
				sa.PerSeedLocal, perCloud = append(sa.PerSeedLocal, dl), append(perCloud, dc)
			}
			sa.SDLCFTLocal, sa.SDLCFTCloud = sampleSD(sa.PerSeedLocal), sampleSD(perCloud)
			avgs = append(avgs, sa)
		}
		for _, pair := range compare {
			if rows[pair[0]] == nil || rows[pair[1]] == nil {
				continue
			}
			ua, _, _, la, w := avg(pair[0])
			ub, _, _, lb, _ := avg(pair[1])
			if !slices.Equal(ua, ub) {
				return nil, nil, fmt.Errorf("%s: strategies %s and %s scored different users", arch, pair[0], pair[1])
			}
			c := SeedComparison{Architecture: arch, A: pair[0], B: pair[1]}
			var err error
			if c.Diff, err = bootstrap(la, lb, w, resamples, seed); err != nil {
				return nil, nil, err
			}
			for i := range seeds {
				var s, sw float64
				for _, u := range ua {
					ra, rb := rows[pair[0]][u][i], rows[pair[1]][u][i]
					s += ra.n * (ra.lcft - rb.lcft)
					sw += ra.n
				}
				c.PerSeed = append(c.PerSeed, s/sw)
			}
			c.SD = sampleSD(c.PerSeed)
			comps = append(comps, c)
		}
	}
	return avgs, comps, nil
}

// perSeedDiff is seed i's user-level (size-weighted) mean of d over users.
func perSeedDiff(rows map[string][]seedRow, users []string, i int, d func(seedRow) float64) float64 {
	var s, w float64
	for _, u := range users {
		r := rows[u][i]
		s += r.n * d(r)
		w += r.n
	}
	return s / w
}

func weightedMean(x, w []float64) runner.Float {
	var s, sw float64
	for i := range x {
		s += w[i] * x[i]
		sw += w[i]
	}
	if sw == 0 {
		return runner.Float(math.NaN())
	}
	return runner.Float(s / sw)
}

// sampleSD is the sample standard deviation (0 for fewer than 2 values).
func sampleSD(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	var m float64
	for _, v := range x {
		m += v / float64(len(x))
	}
	var ss float64
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// bootstrap is the paired bootstrap of a − b over users; null without users.
func bootstrap(a, b, w []float64, resamples int, seed uint64) (runner.Interval, error) {
	nan := runner.Float(math.NaN())
	iv := runner.Interval{Mean: nan, Lo: nan, Hi: nan, Users: len(a), Resamples: resamples}
	if len(a) == 0 {
		return iv, nil
	}
	mean, lo, hi, err := metrics.PairedBootstrap(a, b, w, resamples, seed)
	if err != nil {
		return iv, fmt.Errorf("bootstrap over seeds: %w", err)
	}
	iv.Mean, iv.Lo, iv.Hi = runner.Float(mean), runner.Float(lo), runner.Float(hi)
	return iv, nil
}
