package controllers

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// A search needs validation rows the global model never saw: against a
// model pretrained on every training row it is refused, with no Job.
func TestSearchRefusedForModelWithoutHoldout(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "no-holdout")
	p := searchPolicy(ns, "refused", "no-holdout", 1)
	create(t, gm, p)
	waitModel(t, gm)
	if gm.Status.HoldoutFraction != "" {
		t.Fatalf("a model pretrained without holdout records holdoutFraction %q", gm.Status.HoldoutFraction)
	}
	waitPhase(t, p, func() v1.Phase { return p.Status.Phase }, v1.PhaseFailed)
	cond := meta.FindStatusCondition(p.Status.Conditions, v1.ConditionFailed)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != ReasonModelHasNoHoldout || cond.ObservedGeneration != p.Generation ||
		!strings.Contains(cond.Message, "spec.training.holdoutFraction") || !strings.Contains(cond.Message, "no-holdout") {
		t.Fatalf("Failed condition %+v; want reason %s naming the model and spec.training.holdoutFraction", cond, ReasonModelHasNoHoldout)
	}
	if ready := meta.FindStatusCondition(p.Status.Conditions, v1.ConditionReady); ready == nil || ready.Status != metav1.ConditionFalse {
		t.Errorf("Ready condition %+v; want False", ready)
	}
	if jobs := jobsOf(t, ns, "refused"); len(jobs) != 0 {
		t.Fatalf("a refused search made %d Job(s)", len(jobs))
	}
	t.Logf("refused: %s: %s", cond.Reason, cond.Message)
}

// A model's holdout rows are unseen only in the data it was pretrained on:
// a search on other data (here another synthetic draw) is refused, while a
// search that differs only in the test samples' histories runs.
func TestSearchRefusedOnDataNotTheModels(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := holdoutModel(ns, "wd", "0.2")
	other := searchPolicy(ns, "other-data", "wd", 1)
	other.Spec.Search.Dataset.Synthetic.Seed = 4
	histories := searchPolicy(ns, "train-histories", "wd", 1)
	histories.Spec.Search.Dataset.TestHistories = v1.TestHistoriesTrainRows
	create(t, gm, other, histories)
	waitPhase(t, other, func() v1.Phase { return other.Status.Phase }, v1.PhaseFailed)
	cond := meta.FindStatusCondition(other.Status.Conditions, v1.ConditionFailed)
	if cond == nil || cond.Reason != ReasonSearchDataIsNotModelData || cond.ObservedGeneration != other.Generation ||
		!strings.Contains(cond.Message, "spec.search.dataset") || !strings.Contains(cond.Message, "wd") {
		t.Fatalf("Failed condition %+v; want reason %s naming spec.search.dataset and the model", cond, ReasonSearchDataIsNotModelData)
	}
	if jobs := jobsOf(t, ns, "other-data"); len(jobs) != 0 {
		t.Fatalf("a refused search made %d Job(s)", len(jobs))
	}
	waitPhase(t, histories, func() v1.Phase { return histories.Status.Phase }, v1.PhaseReady)
}

// A search's shards each score every cell on their users; the operator adds
// their sums up. Three shards give exactly the table of one shard over all
// users: the group with a cell known to beat Auto takes it, the group where
// no cell does keeps Auto.
func TestShardedSearchCombinesShardSums(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	users := fakeSearchUsers()
	newFakeCluster(t, ns, func(f *fakeCluster) {
		f.canned = func(spec *runspec.Spec, idx int) (int, string) { return encodeShard(searchShard(spec, idx, users)) }
	})
	startManager(t)

	gm := holdoutModel(ns, "wd", "0.2")
	sharded := searchPolicy(ns, "sharded", "wd", 3)
	single := searchPolicy(ns, "single", "wd", 1)
	create(t, gm, sharded, single)
	for _, p := range []*v1.CorrectionPolicy{sharded, single} {
		waitPhase(t, p, func() v1.Phase { return p.Status.Phase }, v1.PhaseReady)
	}
	waitModel(t, gm)
	if gm.Status.HoldoutFraction != "0.2" || gm.Status.HoldoutSamples == 0 {
		t.Errorf("model status holdout %q (%d rows); want 0.2 and the rows held out", gm.Status.HoldoutFraction, gm.Status.HoldoutSamples)
	}

	// The sharded search ran as an Indexed Job of three completions.
	jobs := jobsOf(t, ns, "sharded")
	if len(jobs) != 1 || ptr.Deref(jobs[0].Spec.Completions, 0) != 3 || ptr.Deref(jobs[0].Spec.CompletionMode, "") != batchv1.IndexedCompletion {
		t.Fatalf("sharded search Jobs %+v; want one Indexed Job of 3 completions", jobs)
	}
	if sharded.Status.ShardsSucceeded != 3 || sharded.Status.HoldoutFraction != "0.2" || !cmp.Equal(sharded.Status.Seeds, []int64{3, 5}) {
		t.Errorf("sharded status: %d shards, holdout %q, seeds %v; want 3, 0.2, [3 5]", sharded.Status.ShardsSucceeded, sharded.Status.HoldoutFraction, sharded.Status.Seeds)
	}
	if diff := cmp.Diff(single.Status.Groups, sharded.Status.Groups); diff != "" {
		t.Fatalf("sharded and unsharded searches differ (-single +sharded):\n%s", diff)
	}

	groups := sharded.Status.Groups
	if len(groups) != 2 {
		t.Fatalf("want 2 groups, got %+v", groups)
	}
	for _, g := range groups {
		t.Logf("group [%s, %s): %s (%s, %s) %s: %s; vs Auto %+v; vs Local %+v", g.CTRRange.Min, g.CTRRange.Max, g.Strategy,
			g.PositiveLabel, g.NegativeLabel, g.Reason, g.Message, *g.LiftVsAuto, *g.LiftVsLocal)
	}
	// Group 0: the cell (1.5, 0) beats Auto by about 0.03 for every user.
	g0 := groups[0]
	if g0.Strategy != v1.GroupHard || g0.PositiveLabel != "1.5" || g0.NegativeLabel != "0" || g0.Reason != runspec.ReasonBeatsAuto ||
		g0.LiftVsAuto == nil || !g0.LiftVsAuto.Significant || g0.Users != 50 || g0.ScoredUsers != 50 || len(g0.Cells) != 3 {
		t.Fatalf("group 0: %+v; want Hard (1.5, 0), BeatsAuto, a significant lift over Auto, 50 users, 3 cells", g0)
	}
	wantMean, wantLo, wantHi := weightedInterval(users, 0, func(u searchUser) float64 { return u.cells[1] - u.auto })
	checkInterval(t, "group 0 lift over Auto", g0.LiftVsAuto, wantMean, wantLo, wantHi)
	wantMean, wantLo, wantHi = weightedInterval(users, 0, func(u searchUser) float64 { return u.cells[1] - u.cells[0] })
	checkInterval(t, "group 0 lift over Local", g0.LiftVsLocal, wantMean, wantLo, wantHi)
	// Group 1: no cell is better than Auto on average.
	g1 := groups[1]
	if g1.Strategy != v1.GroupAuto || g1.PositiveLabel != "" || g1.Reason == runspec.ReasonBeatsAuto || g1.Reason == "" || g1.Users != 40 {
		t.Fatalf("group 1: %+v; want Auto with the reason it kept Auto, 40 users", g1)
	}
	wantMean, wantLo, wantHi = weightedInterval(users, 1, func(u searchUser) float64 { return u.auto - u.cells[0] })
	checkInterval(t, "group 1 (Auto) lift over Local", g1.LiftVsLocal, wantMean, wantLo, wantHi)

	// Cohorts get the table with group 1 left to Auto.
	c, err := policyCorrection(sharded)
	if err != nil {
		t.Fatal(err)
	}
	want := []runspec.LabelGroup{{Min: 0, Max: 0.4, Positive: 1.5, Negative: 0}, {Min: 0.4, Max: 1, Auto: true}}
	if diff := cmp.Diff(want, c.Groups); diff != "" {
		t.Errorf("cohort correction table (-want +got):\n%s", diff)
	}
}

func searchPolicy(ns, name, model string, shards int32) *v1.CorrectionPolicy {
	return &v1.CorrectionPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.CorrectionPolicySpec{
			Strategy: v1.StrategyHard,
			Search: &v1.LabelSearch{
				GlobalModelRef: v1.ObjectReference{Name: model},
				Dataset:        testData(),
				Boundaries:     []v1.Decimal{"0.4"},
				PositiveLabels: []v1.SignedDecimal{"1.5"},
				NegativeLabels: []v1.SignedDecimal{"0", "0.2"},
				FineTuning:     v1.FineTuningSpec{Optimizer: v1.OptimizerSGD, LearningRate: "0.05", LearningRateDecay: "1", Epochs: 1, BatchSize: 16, Seed: 1},
				MinSamples:     5,
				Seeds:          []int64{3, 5},
				Shards:         shards,
			},
		},
	}
}

// searchUser is one user's seed-averaged validation AUCs: under Auto and
// under each cell of the grid (identity, (1.5, 0), (1.5, 0.2)).
type searchUser struct {
	id    int
	group int
	n     int64
	auto  float64
	cells []float64
}

// fakeSearchUsers: 50 users in group 0, where (1.5, 0) is 0.03 above Auto
// (noise 0.01), and 40 in group 1, where every cell is a little below Auto
// with noise.
func fakeSearchUsers() []searchUser {
	var users []searchUser
	for id := range 90 {
		r := rand.New(rand.NewPCG(uint64(id), 11))
		noise := func(s float64) float64 { return s * (2*r.Float64() - 1) }
		u := searchUser{id: id, n: 4 + int64(r.IntN(20)), auto: 0.6 + noise(0.1)}
		if id < 50 {
			u.cells = []float64{u.auto - 0.004 + noise(0.01), u.auto + 0.03 + noise(0.01), u.auto - 0.005 + noise(0.01)}
		} else {
			u.group = 1
			u.cells = []float64{u.auto - 0.001 + noise(0.02), u.auto - 0.002 + noise(0.02), u.auto - 0.003 + noise(0.02)}
		}
		users = append(users, u)
	}
	return users
}

// searchShard is what a search shard reports: the sums of its users (id
// modulo the shard count), as the trainer's shards add them.
func searchShard(spec *runspec.Spec, idx int, users []searchUser) *runspec.Summary {
	st := &runspec.SearchStats{
		GlobalCTR: spec.GlobalModel.GlobalCTR, HoldoutFraction: spec.GlobalModel.HoldoutFraction, Seeds: len(spec.SearchSeeds()),
		PositiveLabels: spec.Search.PositiveLabels, NegativeLabels: spec.Search.NegativeLabels,
	}
	edges := append(append([]float64{0}, spec.Search.Boundaries...), 1)
	for k := range len(edges) - 1 {
		all := int64(0)
		for _, u := range users {
			if u.group == k {
				all++
			}
		}
		st.Groups = append(st.Groups, runspec.SearchGroup{Min: edges[k], Max: edges[k+1], MeanLocalCTR: []float64{0.2, 0.6}[k], AllUsers: all})
		st.Groups[k].NewCells(len(st.Grid(k)))
	}
	for _, u := range users {
		if u.id%spec.Shards != idx {
			continue
		}
		g := &st.Groups[u.group]
		g.Users++
		if err := g.Observe(u.n, u.auto, u.cells); err != nil {
			return &runspec.Summary{Kind: spec.Kind, Shard: idx, Error: err.Error()}
		}
	}
	return &runspec.Summary{Kind: spec.Kind, Shard: idx, Arch: "amd64", Search: st}
}

// encodeShard is a fake shard's exit code and termination message.
func encodeShard(s *runspec.Summary) (int, string) {
	if s.Error != "" {
		return runspec.ExitBadInput, s.Error
	}
	b, err := s.Encode()
	if err != nil {
		return runspec.ExitFailure, err.Error()
	}
	return 0, string(b)
}

// weightedInterval computes, in plain floating point from the per-user
// rows, the n-weighted mean of d over a group's users and its normal 95%
// interval with reliability weights (the estimator of runspec.PairedSums).
func weightedInterval(users []searchUser, group int, d func(searchUser) float64) (mean, lo, hi float64) {
	var ns, ds []float64
	for _, u := range users {
		if u.group == group {
			ns, ds = append(ns, float64(u.n)), append(ds, d(u))
		}
	}
	return referenceInterval(ns, ds)
}

// checkInterval compares a status interval with the reference within the
// status' five decimals.
func checkInterval(t *testing.T, what string, got *v1.LiftInterval, mean, lo, hi float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no interval; want %.6f [%.6f, %.6f]", what, mean, lo, hi)
		return
	}
	for _, c := range []struct {
		name string
		s    string
		want float64
	}{{"mean", got.Mean, mean}, {"low", got.Low, lo}, {"high", got.High, hi}} {
		v, err := strconv.ParseFloat(c.s, 64)
		if err != nil || abs(v-c.want) > 6e-6 {
			t.Errorf("%s: %s %q; want %.6f (from the per-user rows)", what, c.name, c.s, c.want)
		}
	}
	if want := lo > 0 || hi < 0; got.Significant != want || got.Range != "["+got.Low+", "+got.High+"]" {
		t.Errorf("%s: significant %v, range %q; want significant %v and the range of low and high", what, got.Significant, got.Range, want)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
