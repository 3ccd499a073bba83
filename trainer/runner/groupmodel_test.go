package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// TestPooledRunSavesTheGroupModel: a Pooled run saves its fine-tuned model
// (format 2, the global model's vocabulary, the cohort dataset's digest)
// with its sha256 in the summary; reloaded, it reproduces every user's
// LCFT AUC of the report bit for bit, and the verify kind (a GlobalModel's
// import check) accepts it and scores it at exactly the cohort's LCFT AUC.
func TestPooledRunSavesTheGroupModel(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(120, 30, 0.8, 8)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://group/model", 8))
	spec := finetuneSpec(ds, p, "Auto", ModePooled, "mem://group/ft", 0.1, 1, 8)
	spec.Cohort.MinSamples = 1 // every user with a test sample is in the cohort
	sum, rep := mustRun(t, spec)
	sm := sum.Model
	if sm == nil || sm.URI != "mem://group/ft/"+GroupModelFile || sm.RolledBack {
		t.Fatalf("summary model %+v", sm)
	}
	raw, err := storage.ReadAll(ctx, sm.URI)
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(raw); sm.Digest != DigestPrefix+hex.EncodeToString(h[:]) {
		t.Errorf("summary digest %s is not the file's sha256", sm.Digest)
	}
	if g := rep.GroupModel; g == nil || g.Digest != sm.Digest || g.Positive != rep.Users[0].Positive || g.Negative != rep.Users[0].Negative {
		t.Errorf("report group model %+v, users' pooled labels (%v, %v)", g, rep.Users[0].Positive, rep.Users[0].Negative)
	}
	global, _, err := LoadModel(ctx, &runspec.ModelArtifact{URI: p.ArtifactURI})
	if err != nil {
		t.Fatal(err)
	}
	m, digest, err := LoadModel(ctx, &runspec.ModelArtifact{URI: sm.URI, Digest: sm.Digest})
	if err != nil || digest != sm.Digest {
		t.Fatalf("reloading the group model: %v (digest %s)", err, digest)
	}
	prov := m.Provenance()
	if prov.DatasetDigest != sum.DatasetDigest || prov.Vocab == nil || !slices.Equal(prov.Vocab.Users.All(), global.Provenance().Vocab.Users.All()) ||
		!slices.Equal(prov.Vocab.Items.All(), global.Provenance().Vocab.Items.All()) {
		t.Errorf("group model provenance: dataset %s (cohort's %s), vocabulary %v", prov.DatasetDigest, sum.DatasetDigest, prov.Vocab != nil)
	}
	if m.Config().Arch != "WideDeep" || m.NumParams() != global.NumParams() {
		t.Errorf("group model config %+v", m.Config())
	}

	// Every user's LCFT AUC, recomputed with the reloaded artifact.
	sp, err := modelData(ctx, m, ds, nil, newLogger(nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]data.Sample{}
	for _, r := range data.UserRanges(sp.test) {
		tests[sp.test.Vocab.Users.Name(r.User)] = sp.test.Samples[r.Start:r.End]
	}
	tu := &tuner{}
	changed := 0
	for _, u := range rep.Users {
		a, err := tu.auc(m, tests[u.User])
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(a) != math.Float64bits(float64(u.LCFT)) && !(math.IsNaN(a) && !u.LCFT.Defined()) {
			t.Fatalf("user %s: reloaded model AUC %v, report's LCFT %v", u.User, a, u.LCFT)
		}
		if a != float64(u.Cloud) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the group model scores every user exactly as the global model: nothing was fine-tuned")
	}

	// Imported as a GlobalModel: the verify run accepts it; with the
	// cohort's data (every user is in the cohort), its Cloud AUC is the
	// cohort's LCFT AUC exactly (same users, same order of sums).
	if n := len(data.UserRanges(sp.test)); sum.Finetune.Users != int64(n) {
		t.Fatalf("cohort has %d of the %d test users; the exact comparison needs all", sum.Finetune.Users, n)
	}
	vs, err := Run(ctx, &runspec.Spec{Version: 1, Kind: runspec.KindVerify, Dataset: ds,
		GlobalModel:  &runspec.ModelArtifact{URI: sm.URI, Digest: sm.Digest, GlobalCTR: p.GlobalCTR},
		Optimization: runspec.Optimization{Epochs: 1, BatchSize: 1, LearningRate: 1}, OutputURI: "mem://group/verify", Shards: 1}, 0, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	lcft, _ := sum.Finetune.LCFT.Value()
	if vs.Pretrain.Digest != sm.Digest || vs.Pretrain.CloudAUC != lcft {
		t.Errorf("verify: digest %s AUC %v; cohort LCFT AUC %v (model %s)", vs.Pretrain.Digest, vs.Pretrain.CloudAUC, lcft, sm.Digest)
	}
	t.Logf("group model %s: Cloud %.5f, LCFT %.5f (verify %.5f)", sm.Digest[:15], p.CloudAUC, lcft, vs.Pretrain.CloudAUC)

	// PerUser runs and CompareStrategies save nothing.
	if sum, _ := mustRun(t, finetuneSpec(ds, p, "Auto", ModePerUser, "mem://group/peruser", 0.1, 1, 8)); sum.Model != nil {
		t.Errorf("PerUser run saved %+v", sum.Model)
	}
}

// TestGroupModelPredictsAsInMemory: the saved artifact predicts every test
// sample bit for bit as the replica that was fine-tuned in memory.
func TestGroupModelPredictsAsInMemory(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(80, 30, 0.8, 9)
	for _, arch := range []string{"LR", "WideDeep", "DIN"} {
		t.Run(arch, func(t *testing.T) {
			p := mustPretrain(t, pretrainSpec(ds, arch, "mem://inmem/"+arch, 9))
			base, _, err := LoadModel(ctx, &runspec.ModelArtifact{URI: p.ArtifactURI})
			if err != nil {
				t.Fatal(err)
			}
			sp, err := modelData(ctx, base, ds, nil, newLogger(nil, ""))
			if err != nil {
				t.Fatal(err)
			}
			lab := correction.Labels{Positive: 1, Negative: 0.3}
			o := runspec.Optimization{Optimizer: OptimizerAdam, LearningRate: 0.01, Epochs: 2, BatchSize: 16, Seed: 9}
			test := sp.test.Samples
			want := make([]float32, len(test))
			var saved *GroupModel
			_, err = runPooled(ctx, base, sp.train.Samples, []correction.Labels{correction.Identity, lab}, nil, o, newLogger(nil, ""), 1, func(arm pooledArm) error {
				if arm.rep == nil {
					t.Fatalf("pooled fine-tuning diverged: %s", arm.diverged)
				}
				if err := arm.rep.Predict(test, want); err != nil {
					return err
				}
				saved, err = saveGroupModel(ctx, "mem://inmem/"+arch+"/ft", base, arm, "sha256:cohort")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := LoadModel(ctx, &runspec.ModelArtifact{URI: saved.URI, Digest: saved.Digest})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(test))
			if err := m.Predict(test, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("sample %d: reloaded logit %v, in-memory %v", i, got[i], want[i])
				}
			}
			basez := make([]float32, len(test))
			if err := base.Predict(test, basez); err != nil {
				t.Fatal(err)
			}
			if slices.Equal(basez, got) {
				t.Error("the fine-tuned model predicts exactly as the global model")
			}
			if a, ok := metrics.AUC(got, labelsOf(test)); ok {
				t.Logf("%s: group model AUC over all test samples %.5f", arch, a)
			}
			var buf bytes.Buffer
			if _, err := m.Save(&buf); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func labelsOf(s []data.Sample) []float32 {
	y := make([]float32, len(s))
	for i := range s {
		y[i] = s[i].Label
	}
	return y
}
