package runner

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// minorityDataset is the synthetic case of the distillation round: a
// fifth of the users reverse the items' quality (data.SynthConfig
// MinorityShare), which the global model, trained on everyone, underfits.
func minorityDataset(users int, seed uint64) runspec.Dataset {
	ds := synthDataset(users, 40, 0.3, seed)
	ds.Synthetic.MinorityShare = 0.2
	return ds
}

// distillSpec is a distillation round from p (the predecessor) taught by
// teachers, trained as pretrainSpec trains but warm from the predecessor
// at lr, one epoch.
func distillSpec(ds runspec.Dataset, p *runspec.PretrainStats, out string, lr, weight float64, teachers ...runspec.Teacher) *runspec.Spec {
	s := pretrainSpec(ds, "WideDeep", out, 7)
	s.Optimization = runspec.Optimization{Optimizer: OptimizerSGD, LearningRate: lr, LearningRateDecay: 1, Epochs: 1, BatchSize: 32, Seed: 7}
	s.Distill = &runspec.Distill{Predecessor: runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR}, Weight: weight, Teachers: teachers}
	return s
}

// groupAUCs are the paired per-user test AUCs of two models, split into
// the minority and the rest.
type groupAUCs struct{ newA, oldA, w []float64 }

func (g *groupAUCs) interval(t *testing.T) (mean, lo, hi float64) {
	t.Helper()
	mean, lo, hi, err := metrics.PairedBootstrap(g.newA, g.oldA, g.w, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	return mean, lo, hi
}

// byMinority scores the test users of ds with the models at newURI and
// oldURI and splits the paired AUCs by the generator's minority flag.
func byMinority(t *testing.T, ds runspec.Dataset, newA, oldA *runspec.ModelArtifact) (minority, rest groupAUCs) {
	t.Helper()
	ctx := context.Background()
	_, truth, err := data.GenerateWithTruth(SynthConfig(ds.Synthetic, ds.HistoryLength))
	if err != nil {
		t.Fatal(err)
	}
	mNew, _, err := LoadModel(ctx, newA)
	if err != nil {
		t.Fatal(err)
	}
	mOld, _, err := LoadModel(ctx, oldA)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := modelData(ctx, mOld, ds, nil, newLogger(nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	tu := &tuner{}
	for _, r := range data.UserRanges(sp.test) {
		s := sp.test.Samples[r.Start:r.End]
		a, err := tu.cloudAUC(mNew, s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tu.cloudAUC(mOld, s)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(a) || math.IsNaN(b) {
			continue
		}
		raw := sp.test.Vocab.Users.Name(r.User)
		u, err := strconv.Atoi(strings.TrimPrefix(raw, "u"))
		if err != nil {
			t.Fatal(err)
		}
		g := &rest
		if truth.Minority[u] {
			g = &minority
		}
		g.newA, g.oldA, g.w = append(g.newA, a), append(g.oldA, b), append(g.w, float64(len(s)))
	}
	return minority, rest
}

// perUserTeacher fine-tunes every user of ds from p (PerUser, scope,
// strategy None, lr) saving deltas, and returns the cohort as a teacher.
func perUserTeacher(t *testing.T, ds runspec.Dataset, p *runspec.PretrainStats, out, scope string, lr float64, epochs int) runspec.Teacher {
	t.Helper()
	spec := finetuneSpec(ds, p, "None", ModePerUser, out, lr, 1, 7)
	spec.Optimization.Scope, spec.Optimization.Epochs = scope, epochs
	spec.Cohort.UserModels = runspec.UserModelsDeltas
	sum, err := run(context.Background(), spec, 0, testLog(t), options{workers: 2, resamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		_, truth, _ := data.GenerateWithTruth(SynthConfig(ds.Synthetic, ds.HistoryLength))
		var g [2][3]float64
		for _, row := range readReport(t, sum.ReportURI).Users {
			if !row.Cloud.Defined() {
				continue
			}
			u, _ := strconv.Atoi(strings.TrimPrefix(row.User, "u"))
			k := 0
			if truth.Minority[u] {
				k = 1
			}
			g[k][0] += float64(row.Test) * float64(row.Cloud)
			g[k][1] += float64(row.Test) * float64(row.LCFT)
			g[k][2] += float64(row.Test)
		}
		t.Logf("teachers (%s, lr %g, %d epochs): rest Cloud %.4f fine-tuned %.4f; minority Cloud %.4f fine-tuned %.4f", scope, lr, epochs, g[0][0]/g[0][2], g[0][1]/g[0][2], g[1][0]/g[1][2], g[1][1]/g[1][2])
	}
	return runspec.Teacher{Name: "test/" + scope, UserModels: []runspec.ModelArtifact{{URI: sum.UserModelsURI}}}
}

// TestDistillLiftsMinority is the synthetic case of issue 15 item 4: a
// fifth of 600 users reverse the majority's shared taste
// (data.SynthConfig.MinorityShare), which the global model underfits
// (their Cloud AUC is below 0.5). Every user is fine-tuned (PerUser, scope
// All, no label correction, lr 0.5, 3 epochs) and saved as a delta; a
// distillation round (weight 0.5, warm from the predecessor, one epoch at
// lr 0.1) must lift the minority's AUC with a paired 95% interval above 0
// and keep the rest within the stated margin: mean change above
// -restMargin and interval's low end above -2*restMargin.
//
// The control round, the same training with hard labels only (weight
// 1e-9), is logged beside it: on this case it lifts the minority at least
// as much (measured: +0.0188 against +0.0137), so the lift comes from the
// round's extra epoch on the minority's rows, not from the teachers; the
// README's table shows both.
func TestDistillLiftsMinority(t *testing.T) {
	const restMargin = 0.005
	ds := minorityDataset(600, 3)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://distill-minority/base", 7))
	teachers := []struct {
		name      string
		scope     string
		lr        float64
		epochs    int
		weights   []float64
		assertion bool
	}{
		{"All, lr 0.5, 3 epochs", runspec.ScopeAll, 0.5, 3, []float64{0.5, 1, 1e-9}, true},
		{"Patch, lr 1, 5 epochs", runspec.ScopePatch, 1, 5, []float64{0.5}, false},
	}
	t.Log("| teachers | weight | minority ΔAUC [95% CI] | rest ΔAUC [95% CI] | overall ΔAUC [95% CI] | long tail ΔAUC [95% CI] |")
	for i, tc := range teachers {
		teacher := perUserTeacher(t, ds, p, "mem://distill-minority/cohort-"+tc.scope, tc.scope, tc.lr, tc.epochs)
		for _, w := range tc.weights {
			spec := distillSpec(ds, p, "mem://distill-minority/round-"+strconv.Itoa(i)+"-"+strconv.FormatFloat(w, 'g', -1, 64), 0.1, w, teacher)
			sum, err := run(context.Background(), spec, 0, testLog(t), options{workers: 1, resamples: 1000, pretrainWorkers: 1})
			if err != nil {
				t.Fatal(err)
			}
			st := sum.Pretrain
			minority, rest := byMinority(t, ds, &runspec.ModelArtifact{URI: st.ArtifactURI}, &runspec.ModelArtifact{URI: p.ArtifactURI})
			mm, ml, mh := minority.interval(t)
			rm, rl, rh := rest.interval(t)
			o, lt := st.Distill.Overall, st.Distill.LongTail
			t.Logf("| %s | %g | %+.4f [%+.4f, %+.4f] (%d) | %+.4f [%+.4f, %+.4f] (%d) | %+.4f [%+.4f, %+.4f] | %+.4f [%+.4f, %+.4f] |",
				tc.name, w, mm, ml, mh, len(minority.w), rm, rl, rh, len(rest.w), o.Delta, o.Lo, o.Hi, lt.Delta, lt.Lo, lt.Hi)
			if !tc.assertion || w != 0.5 {
				continue
			}
			t.Logf("predecessor Cloud AUC %.4f, new %.4f, %d taught users, long tail at most %d train rows", st.Distill.PredecessorAUC, o.New, st.Distill.TaughtUsers, st.Distill.LongTailMaxRows)
			if st.Distill.TaughtUsers == 0 {
				t.Errorf("taught %d users (%d rolled back)", st.Distill.TaughtUsers, st.Distill.RolledBackUsers)
			}
			if !(ml > 0) {
				t.Errorf("minority: %+.5f [%+.5f, %+.5f], want an interval above 0", mm, ml, mh)
			}
			if !(rm > -restMargin && rl > -2*restMargin) {
				t.Errorf("rest: %+.5f [%+.5f, %+.5f], want a mean above %g and a low end above %g", rm, rl, rh, -restMargin, -2*restMargin)
			}
		}
	}
}
