package runner

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// TestSoftTargetGradient: training on a distillation target t = w*p_T +
// (1-w)*y uses the cross-entropy gradient p - t. LR's logit is linear in
// its parameters, so one SGD step on one sample moves that sample's logit
// by exactly -lr*(p-t)*|grad z|²: the moves for two targets are in the
// ratio (p-t1)/(p-t2), whatever |grad z|² is.
func TestSoftTargetGradient(t *testing.T) {
	schema := data.Schema{NumUsers: 3, NumItems: 4, NumCategories: 2, HistoryLen: 2}
	s := []data.Sample{data.NewSample(1, 2, []int32{1}, []int32{0}, []int32{3}, 1, 0)}
	const w, pTeacher = 0.6, 0.2
	targets := []float32{1, float32(w*pTeacher + (1-w)*1)} // the hard label and the soft target
	var moves [2]float64
	var p float64
	for k, target := range targets {
		m, err := model.New(model.Config{Arch: "LR", EmbeddingDim: 1, Seed: 3, EmbeddingInitStd: 0.3}, schema)
		if err != nil {
			t.Fatal(err)
		}
		z0 := make([]float32, 1)
		if err := m.Predict(s, z0); err != nil {
			t.Fatal(err)
		}
		p = float64(model.Sigmoid(z0[0]))
		opt, err := optim.NewSGD(0.1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.TrainStep(s, []float32{target}, opt); err != nil {
			t.Fatal(err)
		}
		z1 := make([]float32, 1)
		if err := m.Predict(s, z1); err != nil {
			t.Fatal(err)
		}
		moves[k] = float64(z1[0] - z0[0])
	}
	want := (p - float64(targets[0])) / (p - float64(targets[1]))
	if got := moves[0] / moves[1]; math.Abs(got-want) > 1e-4*math.Abs(want) {
		t.Errorf("logit moves %v: ratio %v, want (p-t1)/(p-t2) = %v", moves, got, want)
	}
	if moves[1] <= 0 || moves[0] <= moves[1] {
		t.Errorf("logit moves %v: both targets are above p = %v, the hard label the further", moves, p)
	}
}

// distillFixture pretrains a small model and fine-tunes its users per user
// with deltas (one cohort, two shards) and pooled (a group model for the
// users with local CTR in [0, 0.5)).
type distillFixture struct {
	ds       runspec.Dataset
	p        *runspec.PretrainStats
	perUser  runspec.Teacher
	pooled   runspec.Teacher
	shardURI []string
}

func newDistillFixture(t *testing.T, out string) *distillFixture {
	t.Helper()
	ctx := context.Background()
	f := &distillFixture{ds: synthDataset(80, 30, 0.8, 5)}
	f.p = mustPretrain(t, pretrainSpec(f.ds, "WideDeep", out+"/base", 5))
	spec := finetuneSpec(f.ds, f.p, "Auto", ModePerUser, out+"/peruser", 0.1, 2, 5)
	spec.Cohort.UserModels = runspec.UserModelsDeltas
	f.perUser = runspec.Teacher{Name: "ns/peruser"}
	for shard := range 2 {
		sum, err := run(ctx, spec, shard, testLog(t), options{workers: 2, resamples: 10})
		if err != nil {
			t.Fatal(err)
		}
		f.perUser.UserModels = append(f.perUser.UserModels, runspec.ModelArtifact{URI: sum.UserModelsURI})
	}
	pooled := finetuneSpec(f.ds, f.p, "Auto", ModePooled, out+"/pooled", 0.1, 1, 5)
	pooled.Cohort.MaxCTR = 0.5
	sum, err := run(ctx, pooled, 0, testLog(t), options{workers: 2, resamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	f.pooled = runspec.Teacher{Name: "ns/pooled", GroupModel: &runspec.ModelArtifact{URI: sum.Model.URI, Digest: sum.Model.Digest}, Cohort: pooled.Cohort}
	return f
}

// TestTeachTargets: every row of a user a teacher holds takes w*p+(1-w)*y
// with p its own model's probability (the predecessor plus its delta, or
// the group model), the first teacher winning; other rows keep their
// labels.
func TestTeachTargets(t *testing.T) {
	ctx := context.Background()
	f := newDistillFixture(t, "mem://teach")
	w := 0.7 // a variable: 1-w is then computed in float64, as the trainer computes it
	d := &runspec.Distill{Predecessor: runspec.ModelArtifact{URI: f.p.ArtifactURI, Digest: f.p.Digest}, Weight: w,
		Teachers: []runspec.Teacher{f.pooled, f.perUser}}
	base, digest, err := LoadModel(ctx, &d.Predecessor)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := modelData(ctx, base, f.ds, nil, newLogger(nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := teach(ctx, d, base, digest, sp.train, sp.train, sp.test)
	if err != nil {
		t.Fatal(err)
	}
	gm, _, err := LoadModel(ctx, f.pooled.GroupModel)
	if err != nil {
		t.Fatal(err)
	}
	var ums []*UserModels
	for _, a := range f.perUser.UserModels {
		um, err := ReadUserModels(ctx, a.URI)
		if err != nil {
			t.Fatal(err)
		}
		ums = append(ums, um)
	}
	rep, err := base.Fork()
	if err != nil {
		t.Fatal(err)
	}
	var taught, pooledUsers int64
	for _, r := range data.UserRanges(sp.train) {
		rows := sp.train.Samples[r.Start:r.End]
		raw := sp.train.Vocab.Users.Name(r.User)
		pos := 0
		for _, s := range rows {
			if s.Label == 1 {
				pos++
			}
		}
		var scorer *model.Model
		if ctr := float64(pos) / float64(len(rows)); ctr < 0.5 && len(rows) >= 5 && hasTest(sp.test, r.User) {
			scorer = gm
			pooledUsers++
		} else {
			for _, um := range ums {
				delta, ok, err := um.Delta(raw, base)
				if err != nil {
					t.Fatal(err)
				}
				if ok && delta != nil {
					if err := rep.ApplyDelta(delta); err != nil {
						t.Fatal(err)
					}
					scorer = rep.Model
				}
			}
		}
		want := make([]float32, len(rows))
		if scorer != nil {
			taught++
			if err := scorer.Predict(rows, want); err != nil {
				t.Fatal(err)
			}
		}
		for k, s := range rows {
			y := s.Label
			if scorer != nil {
				y = float32(w*float64(model.Sigmoid(want[k])) + (1-w)*float64(s.Label))
			}
			if got := tc.samples[r.Start+k].Label; got != y {
				t.Fatalf("user %s row %d: target %v, want %v (label %v, taught %v)", raw, k, got, y, s.Label, scorer != nil)
			}
		}
	}
	if tc.taughtUsers != taught || tc.perTeacher[0] != pooledUsers || pooledUsers == 0 || tc.perTeacher[1] == 0 {
		t.Errorf("taught %d users (%v per teacher), want %d (%d by the group model)", tc.taughtUsers, tc.perTeacher, taught, pooledUsers)
	}
}

func hasTest(test *data.Dataset, u int32) bool {
	for _, r := range data.UserRanges(test) {
		if r.User == u && r.Len() > 0 {
			return true
		}
	}
	return false
}

// TestDistillRound: a round runs through Run, is deterministic (the same
// spec saves the same bytes), reports the comparison with the predecessor
// (the long tail is ceil(share*n) of the n compared users) and is refused
// as bad input, naming the artifact, when a teacher is missing, corrupt,
// of another digest or made from another model.
func TestDistillRound(t *testing.T) {
	ctx := context.Background()
	f := newDistillFixture(t, "mem://round")
	spec := distillSpec(f.ds, f.p, "mem://round/distilled", 0.1, 0.5, f.perUser, f.pooled)
	spec.Distill.LongTailShare = 0.3
	spec.WritePartitions = true
	var digests []string
	for range 2 {
		sum, err := Run(ctx, spec, 0, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, sum.Pretrain.Digest)
		d := sum.Pretrain.Distill
		if d == nil || d.PredecessorDigest != f.p.Digest || d.TaughtUsers == 0 || d.PredecessorAUC != f.p.CloudAUC {
			t.Fatalf("distill stats %+v (predecessor %s, AUC %v)", d, f.p.Digest, f.p.CloudAUC)
		}
		if want := int64(math.Ceil(0.3 * float64(d.Overall.Users))); d.LongTail.Users != want || !(d.LongTail.Lo <= d.LongTail.Delta && d.LongTail.Delta <= d.LongTail.Hi) {
			t.Errorf("long tail %+v, want %d users and lo <= delta <= hi", d.LongTail, want)
		}
		if math.Abs(d.Overall.New-sum.Pretrain.CloudAUC) > 1e-12 {
			t.Errorf("overall new AUC %v, cloud AUC %v", d.Overall.New, sum.Pretrain.CloudAUC)
		}
		if sum.Pretrain.PartitionsURI == "" {
			t.Error("the round wrote no partitions")
		}
		if _, err := sum.Encode(); err != nil {
			t.Error(err)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two runs saved %v", digests)
	}

	// Init Fresh trains a new initialisation (any architecture on the
	// predecessor's rows); Init Predecessor refuses another architecture.
	fresh := distillSpec(f.ds, f.p, "mem://round/fresh", 0.5, 0.5, f.perUser)
	fresh.Distill.Init, fresh.Model.Architecture = runspec.DistillInitFresh, "DeepFM"
	fsum, err := Run(ctx, fresh, 0, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if fsum.Pretrain.Digest == digests[0] || fsum.Pretrain.Distill.PredecessorDigest != f.p.Digest {
		t.Errorf("fresh round: %+v", fsum.Pretrain)
	}
	mismatch := distillSpec(f.ds, f.p, "mem://round/mismatch", 0.1, 0.5, f.perUser)
	mismatch.Model.Architecture = "DeepFM"
	if _, err := Run(ctx, mismatch, 0, nil); ExitCode(err) != runspec.ExitBadInput || !strings.Contains(err.Error(), "not the predecessor's") {
		t.Errorf("another architecture from the predecessor: %v", err)
	}

	corrupt := "mem://round/corrupt.lcftu"
	if err := storage.WriteAll(ctx, corrupt, []byte("not a user-models file")); err != nil {
		t.Fatal(err)
	}
	other := mustPretrain(t, pretrainSpec(f.ds, "WideDeep", "mem://round/other", 99))
	otherTeacher := runspec.Teacher{Name: "ns/other", GroupModel: &runspec.ModelArtifact{URI: other.ArtifactURI}, Cohort: f.pooled.Cohort}
	otherSpec := finetuneSpec(f.ds, other, "Auto", ModePerUser, "mem://round/otherdeltas", 0.1, 1, 5)
	otherSpec.Cohort.UserModels = runspec.UserModelsDeltas
	osum, err := run(ctx, otherSpec, 0, testLog(t), options{workers: 2, resamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		teacher runspec.Teacher
		want    string
	}{
		{"missing", runspec.Teacher{Name: "ns/gone", UserModels: []runspec.ModelArtifact{{URI: "mem://round/nothing.lcftu"}}}, "mem://round/nothing.lcftu"},
		{"corrupt", runspec.Teacher{Name: "ns/bad", UserModels: []runspec.ModelArtifact{{URI: corrupt}}}, "user models " + corrupt},
		{"digest", runspec.Teacher{Name: "ns/digest", UserModels: []runspec.ModelArtifact{{URI: f.perUser.UserModels[0].URI, Digest: "sha256:" + strings.Repeat("0", 64)}}}, "the spec expects"},
		{"other model's deltas", runspec.Teacher{Name: "ns/otherdeltas", UserModels: []runspec.ModelArtifact{{URI: osum.UserModelsURI}}}, "not the predecessor"},
		{"missing group model", runspec.Teacher{Name: "ns/nogroup", GroupModel: &runspec.ModelArtifact{URI: "mem://round/none.lcft"}, Cohort: f.pooled.Cohort}, "mem://round/none.lcft"},
		{"other group model", otherTeacher, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := distillSpec(f.ds, f.p, "mem://round/bad", 0.1, 0.5, tc.teacher)
			_, err := Run(ctx, s, 0, nil)
			if err == nil {
				if tc.want == "" {
					return // a group model of the same shapes teaches: only its digest could tell
				}
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.teacher.Name) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the teacher %s and %q", err, tc.teacher.Name, tc.want)
			}
			if tc.name != "missing" && tc.name != "missing group model" && ExitCode(err) != runspec.ExitBadInput {
				t.Errorf("exit code %d, want %d", ExitCode(err), runspec.ExitBadInput)
			}
		})
	}
}
