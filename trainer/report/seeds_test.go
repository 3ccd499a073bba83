package report

import (
	"math"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/runner"
)

// TestAverageOverSeeds on hand-made rows: two seeds, three users (one
// single-class in seed 2, so left out); the averages, the per-seed
// differences, their SD and the Hard−Auto comparison are hand-computed.
func TestAverageOverSeeds(t *testing.T) {
	row := func(user string, n int, cloud, local, lcft float64) runner.UserRow {
		return runner.UserRow{User: user, Test: n, Cloud: runner.Float(cloud), Local: runner.Float(local), LCFT: runner.Float(lcft)}
	}
	rep := func(strategy string, rows ...runner.UserRow) *runner.Report {
		return &runner.Report{Strategy: strategy, Users: rows}
	}
	nan := math.NaN()
	models := []ModelResult{
		{Architecture: "WD", Seed: 1, Strategies: []*runner.Report{
			rep("Auto", row("a", 1, 0.5, 0.6, 0.7), row("b", 3, 0.5, 0.6, 0.6), row("c", 2, 0.5, 0.5, 0.5)),
			rep("Hard", row("a", 1, 0.5, 0.6, 0.8), row("b", 3, 0.5, 0.6, 0.6), row("c", 2, 0.5, 0.5, 0.5)),
		}},
		{Architecture: "WD", Seed: 2, Strategies: []*runner.Report{
			rep("Auto", row("a", 1, 0.5, 0.6, 0.5), row("b", 3, 0.5, 0.6, 0.8), row("c", 2, nan, nan, nan)),
			rep("Hard", row("a", 1, 0.5, 0.6, 0.5), row("b", 3, 0.5, 0.6, 0.8), row("c", 2, nan, nan, nan)),
		}},
	}
	avgs, comps, err := AverageOverSeeds(models, [][2]string{{"Hard", "Auto"}}, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	auto := avgs[0]
	// Users a (n 1) and b (n 3). LCFT averages: a 0.6, b 0.7; Local 0.6 both.
	// Weighted LCFT (0.6 + 3*0.7)/4 = 0.675; LCFT−Local 0.075.
	// Per seed: seed 1 (0.1 + 0)/4 = 0.025; seed 2 (−0.1 + 3*0.2)/4 = 0.125; SD = 0.1/sqrt(2).
	if auto.Strategy != "Auto" || auto.Users != 2 || !near(float64(auto.LCFT), 0.675) || !near(float64(auto.LCFTvsLocal.Mean), 0.075) ||
		!near(auto.PerSeedLocal[0], 0.025) || !near(auto.PerSeedLocal[1], 0.125) || !near(auto.SDLCFTLocal, 0.1/math.Sqrt2) {
		t.Errorf("Auto over seeds: %+v", auto)
	}
	// Hard − Auto: user a averages 0.65 vs 0.6 (+0.05), b equal: (0.05)/4.
	// Per seed: seed 1 0.1/4 = 0.025, seed 2 0.
	if len(comps) != 1 || !near(float64(comps[0].Diff.Mean), 0.0125) || !near(comps[0].PerSeed[0], 0.025) || !near(comps[0].PerSeed[1], 0) {
		t.Errorf("Hard − Auto: %+v", comps)
	}
}
