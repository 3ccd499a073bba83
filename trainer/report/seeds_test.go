package report

import (
	"math"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
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

// TestSearchSurfaceMarkdown: the experiment markdown shows each cell of the
// first search per architecture, by group.
func TestSearchSurfaceMarkdown(t *testing.T) {
	cell := func(src string, pos, neg, lift float64, div int64) runspec.CellResult {
		return runspec.CellResult{GridCell: runspec.GridCell{Positive: pos, Negative: neg, Source: src},
			LiftVsAuto: runspec.Interval{Mean: lift, Lo: lift - 0.001, Hi: lift + 0.001}, Diverged: div}
	}
	e := &Experiment{Models: []ModelResult{{Architecture: "WD", Seed: 1, Search: &runspec.SearchResult{Groups: []runspec.SearchGroupResult{
		{Min: 0, Max: 0.5, Best: 1, Cells: []runspec.CellResult{cell("identity", 1, 0, -0.002, 0), cell("softNegative×1", 1, 0.25, 0.003, 0)}},
		{Min: 0.5, Max: 1, Best: 0, Auto: true, Cells: []runspec.CellResult{cell("identity", 1, 0, 0.0005, 0), cell("softPositive×1", 0.8, 0, 0, 2)}},
	}}}}}
	var md strings.Builder
	if err := Markdown(&md, &Result{Kind: KindExperiment, Experiment: e}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| cell | [0.000, 0.500) | [0.500, 1.000) |",
		"| identity | (1, 0) **−0.00200** | (1, 0) +0.00050 |",
		"| softNegative×1 | (1, 0.25) **+0.00300** | – |",
		"| softPositive×1 | – | (0.8, 0) div. |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}
