package runner

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// holdoutModel pretrains a model holding out the last fraction h of each
// user's train rows and returns its stats and its artifact for searches.
func holdoutModel(t *testing.T, ds runspec.Dataset, arch, out string, seed uint64, h float64) (*runspec.PretrainStats, *runspec.ModelArtifact) {
	t.Helper()
	ps := pretrainSpec(ds, arch, out, seed)
	ps.Dataset.Split.HoldoutFraction = h
	p := mustPretrain(t, ps)
	return p, &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR, HoldoutFraction: p.HoldoutFraction, HoldoutSamples: p.HoldoutSamples}
}

func searchSpecFor(ds runspec.Dataset, a *runspec.ModelArtifact, out string, shards int, lr float64, seed uint64) *runspec.Spec {
	return &runspec.Spec{
		Version: 1, Kind: runspec.KindSearch, Name: "test/policy", Dataset: ds, GlobalModel: a,
		Optimization: runspec.Optimization{LearningRate: lr, Epochs: 1, BatchSize: 32, Seed: seed},
		Search:       &runspec.Search{Quantiles: 3, MinSamples: 5},
		OutputURI:    out, Shards: shards,
	}
}

// TestPretrainHoldout: the model records its holdout, the rows it trained
// on plus the rows held out are the train split, and the held-out count
// follows the floor rule per user.
func TestPretrainHoldout(t *testing.T) {
	ds := synthDataset(120, 23, 0.5, 4)
	full := mustPretrain(t, pretrainSpec(ds, "LR", "mem://holdout/full", 4))
	p, _ := holdoutModel(t, ds, "LR", "mem://holdout/held", 4, 0.2)
	all, _, err := LoadDataset(context.Background(), ds, data.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	train, _, err := SplitDataset(all, ds.Split)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range data.UserRanges(train) {
		want += runspec.HoldoutCount(r.Len(), 0.2)
	}
	if p.HoldoutFraction != 0.2 || p.HoldoutSamples != int64(want) || want == 0 {
		t.Errorf("holdout %v, %d rows; want 0.2, %d", p.HoldoutFraction, p.HoldoutSamples, want)
	}
	if p.Samples+p.HoldoutSamples != full.Samples || full.HoldoutSamples != 0 {
		t.Errorf("trained on %d + held out %d rows, the full model on %d (holdout %d)", p.Samples, p.HoldoutSamples, full.Samples, full.HoldoutSamples)
	}
	if p.Digest == full.Digest {
		t.Error("holding rows out did not change the model")
	}
}

// TestSearchNeedsHoldout: a search against a model without a holdout, or
// on data whose holdout differs from the model's, is refused as bad input.
func TestSearchNeedsHoldout(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(80, 20, 0.5, 5)
	p := mustPretrain(t, pretrainSpec(ds, "LR", "mem://noholdout/model", 5))
	spec := searchSpecFor(ds, &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR}, "mem://noholdout/search", 1, 0.1, 5)
	_, err := Run(ctx, spec, 0, nil)
	if ExitCode(err) != runspec.ExitBadInput || !strings.Contains(err.Error(), "has no holdout") {
		t.Errorf("search without a holdout: exit %d, %v", ExitCode(err), err)
	}
	_, a := holdoutModel(t, ds, "LR", "mem://noholdout/held", 5, 0.2)
	a.HoldoutSamples++
	_, err = Run(ctx, searchSpecFor(ds, a, "mem://noholdout/search2", 1, 0.1, 5), 0, nil)
	if ExitCode(err) != runspec.ExitBadInput || !strings.Contains(err.Error(), "not the data the model was pretrained on") {
		t.Errorf("search on other data: exit %d, %v", ExitCode(err), err)
	}
}

// TestSearchShardedEqualsUnsharded runs the same search (two seeds) as one
// shard and as three: the combined tables are identical, every user is
// searched by exactly one shard, and the Hard table drives a fine-tune.
func TestSearchShardedEqualsUnsharded(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(240, 40, 0.8, 11)
	p, a := holdoutModel(t, ds, "WideDeep", "mem://search-shards/model", 11, 0.25)
	results := map[int]*runspec.SearchResult{}
	for _, shards := range []int{1, 3} {
		spec := searchSpecFor(ds, a, "mem://search-shards/policy", shards, 0.1, 11)
		spec.Search.Seeds = []int64{11, 12}
		var sums []*runspec.Summary
		for sh := range shards {
			sum, err := Run(ctx, spec, sh, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			b, err := sum.Encode() // through the termination message
			if err != nil {
				t.Fatal(err)
			}
			back, err := runspec.DecodeSummary(string(b))
			if err != nil {
				t.Fatal(err)
			}
			sums = append(sums, back)
		}
		res, err := runspec.CombineSearch(sums)
		if err != nil {
			t.Fatal(err)
		}
		results[shards] = res
	}
	one, three := results[1], results[3]
	three.Shards = 1
	if diff := cmp.Diff(one, three); diff != "" {
		t.Errorf("1 shard and 3 shards differ (-1 +3):\n%s", diff)
	}
	for _, g := range one.Groups {
		if g.Users == 0 || g.ScoredUsers == 0 || len(g.Cells) < 2 || g.Cells[0].Source != "identity" {
			t.Errorf("group %+v: no users or no grid", g)
		}
		t.Logf("group [%.3f, %.3f) %d users r̄ %.3f: %s: %s; lift vs Local %+.5f [%+.5f, %+.5f]", g.Min, g.Max, g.Users, g.MeanLocalCTR,
			g.Reason, g.Message, g.LiftVsLocal.Mean, g.LiftVsLocal.Lo, g.LiftVsLocal.Hi)
	}

	// The table (labels or Auto per group) drives a Hard fine-tune.
	ft := finetuneSpec(ds, p, "Hard", ModePerUser, "mem://search-shards/hard", 0.1, 1, 11)
	ft.Correction.Groups = one.Table
	hs, err := Run(ctx, ft, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var table correction.HardTable
	for _, g := range one.Table {
		table = append(table, correction.Group{Min: g.Min, Max: g.Max, Positive: g.Positive, Negative: g.Negative, Auto: g.Auto})
	}
	for _, u := range readReport(t, hs.ReportURI).Users {
		want, _, err := table.Correct(p.GlobalCTR, u.LocalCTR)
		if err != nil {
			t.Fatal(err)
		}
		if u.Positive != want.Positive || u.Negative != want.Negative {
			t.Fatalf("user %s (r %v) has labels (%v, %v), the table says (%v, %v)", u.User, u.LocalCTR, u.Positive, u.Negative, want.Positive, want.Negative)
		}
	}
}

// TestFillSearchSeedsAndChoice feeds hand-made per-user scores through the
// shard's sums and the choice: AUCs are averaged over the seeds before the
// differences; a cell known to be best by a clear margin is picked; a
// group where no cell beats Auto keeps Auto; a cell that diverged for an
// unscored user is invalid.
func TestFillSearchSeedsAndChoice(t *testing.T) {
	const users = 40
	grid := []runspec.GridCell{{Positive: 1, Negative: 0, Source: "identity"}, {Positive: 1, Negative: 0.2, Source: "grid"}, {Positive: 1, Negative: 0.4, Source: "grid"}}
	st := &runspec.SearchStats{GlobalCTR: 0.3, Seeds: 2, PositiveLabels: []float64{1}, NegativeLabels: []float64{0.2, 0.4}}
	rep := &SearchReport{}
	var us []searchUser
	var scores []userScores
	var wantLift, weight float64 // group 0, cell 1 over Auto

	for k := range 2 {
		st.Groups = append(st.Groups, runspec.SearchGroup{Min: float64(k) * 0.5, Max: float64(k)*0.5 + 0.5, AllUsers: users})
		st.Groups[k].NewCells(len(st.Grid(k)))
		gp := SearchGroupReport{Min: float64(k) * 0.5, Max: float64(k)*0.5 + 0.5}
		for _, c := range grid {
			gp.Cells = append(gp.Cells, SearchCell{GridCell: c})
		}
		rep.Groups = append(rep.Groups, gp)
		for u := range users {
			n := 3 + u%5
			noise := 0.01 * math.Sin(float64(7*u+k))
			// arms: identity, (1, 0.2), (1, 0.4), Auto; summed over 2 seeds,
			// the seeds differing by ±0.05 (which the average cancels).
			base := []float64{0.60 + noise, 0.62 + noise, 0.61 - noise, 0.61}
			if k == 1 {
				base = []float64{0.60 + noise, 0.60 - noise, 0.59, 0.61} // Auto best
			} else {
				wantLift += float64(n) * (base[1] - base[3])
				weight += float64(n)
			}
			sc := userScores{cloud: 0.55, sum: make([]float64, 4), diverged: make([]bool, 4)}
			for a, v := range base {
				sc.sum[a] = (v + 0.05) + (v - 0.05)
			}
			us = append(us, searchUser{raw: "u", group: k, valid: make([]data.Sample, n)})
			scores = append(scores, sc)
		}
	}
	// An unscored user of group 1 diverged under cell 2.
	us = append(us, searchUser{raw: "x", group: 1, valid: make([]data.Sample, 2)})
	scores = append(scores, userScores{cloud: nan, sum: make([]float64, 4), diverged: []bool{false, false, true, false}})
	if err := fillSearch(rep, st, us, scores); err != nil {
		t.Fatal(err)
	}
	res, err := runspec.CombineSearch([]*runspec.Summary{{Search: st}})
	if err != nil {
		t.Fatal(err)
	}
	g0, g1 := res.Groups[0], res.Groups[1]
	if g0.Auto || g0.Best != 1 || g0.Chosen != grid[1] || g0.Reason != runspec.ReasonBeatsAuto {
		t.Errorf("group 0: want cell 1 chosen over Auto, got %+v", g0)
	}
	// The seeds' ±0.05 cancel in each user's average: cell 1's lift over
	// Local is 0.02 for every user, over Auto 0.01 plus the user's noise.
	if math.Abs(g0.LiftVsAuto.Mean-wantLift/weight) > 1e-6 || math.Abs(g0.LiftVsLocal.Mean-0.02) > 1e-6 {
		t.Errorf("group 0 lifts %+v, %+v; want %v over Auto and 0.02 over Local", g0.LiftVsAuto, g0.LiftVsLocal, wantLift/weight)
	}
	if !g1.Auto || g1.Reason != runspec.ReasonAutoBest || g1.Cells[2].Diverged != 1 || g1.Users != users+1 || g1.ScoredUsers != users {
		t.Errorf("group 1: want Auto kept, cell 2 diverged once, %d users (%d scored); got %+v", users+1, users, g1)
	}
	if got := float64(rep.Groups[0].Cells[1].AUC); math.Abs(got-0.62) > 0.01 {
		t.Errorf("report AUC of group 0 cell 1: %v, want about 0.62 (the seed average)", got)
	}
	if rep.Groups[1].Cells[2].AUC.Defined() {
		t.Error("a diverged cell has a report AUC")
	}
}

// TestTestHistoriesTrainRows: freezing test histories at the end of the
// train rows changes what the model sees on the test split, and so the
// Cloud AUC, while the default keeps earlier test rows in the histories.
func TestTestHistoriesTrainRows(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(100, 30, 0.5, 8)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://histories/model", 8))
	aucs := map[string]float64{}
	for _, h := range []string{runspec.TestHistoriesEarlierRows, runspec.TestHistoriesTrainRows} {
		d := ds
		d.TestHistories = h
		ev, err := Evaluate(ctx, &runspec.Spec{Dataset: d, GlobalModel: &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		aucs[h] = float64(ev.AUC)
	}
	if aucs[runspec.TestHistoriesEarlierRows] != p.CloudAUC || aucs[runspec.TestHistoriesTrainRows] == p.CloudAUC {
		t.Errorf("Cloud AUC %v at pretraining, %v with EarlierRows (want equal), %v with TrainRows (want different)",
			p.CloudAUC, aucs[runspec.TestHistoriesEarlierRows], aucs[runspec.TestHistoriesTrainRows])
	}
}
