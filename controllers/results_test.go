package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func TestCohortResultsAddShardsExactly(t *testing.T) {
	// Two shards: users with (n_u, AUC_u) = (10, 0.6), (30, 0.8) in shard 0 and (20, 0.5) in shard 1.
	// Cloud AUC = (6 + 24 + 10) / 60 = 0.666667. Local and LCFT add 0.01 and 0.02 per user.
	shard := func(idx int, sums [3]float64, w float64, users int64) *runspec.Summary {
		return &runspec.Summary{Kind: runspec.KindFinetune, Shard: idx, Finetune: &runspec.FinetuneStats{
			Cloud: runspec.WeightedAUC{Sum: sums[0], Weight: w}, Local: runspec.WeightedAUC{Sum: sums[1], Weight: w}, LCFT: runspec.WeightedAUC{Sum: sums[2], Weight: w},
			Users: users, Improved: users, Samples: 100, LocalCTRSum: 0.1 * float64(users), Seconds: 2,
		}}
	}
	out := runOutcome{summaries: []*runspec.Summary{
		shard(0, [3]float64{30, 30.4, 30.8}, 40, 2),
		shard(1, [3]float64{10, 10.2, 10.4}, 20, 1),
	}}
	out.summaries[0].Finetune.DivergedUsers = runspec.ArmCounts{Local: 1, LCFT: 1}
	out.summaries[1].Finetune.DivergedUsers = runspec.ArmCounts{LCFT: 1}
	// The group model, as the trainer saw the claim (mounted) and as the user names it.
	out.summaries[0].Model = &runspec.SavedModel{URI: "file://" + pvcMountRoot + "/models/runs/0123abcd/group-model.lcft", Digest: "sha256:" + strings.Repeat("a", 64)}
	var st v1.FineTuneCohortStatus
	if err := writeCohortResults(&st, "Auto", "0.3", "pvc://models/runs", "All", out); err != nil {
		t.Fatal(err)
	}
	got := []string{string(st.CloudAUC), string(st.LocalAUC), string(st.LCFTAUC), st.LiftVsCloud, st.LiftVsLocal, string(st.MeanLocalCTR), string(st.SamplesPerSecond)}
	want := []string{"0.666667", "0.676667", "0.686667", "0.02000", "0.01000", "0.1", "100"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if st.Users != 3 || st.UsersImproved != 3 {
		t.Errorf("users %d improved %d; want 3 and 3", st.Users, st.UsersImproved)
	}
	if d := st.DivergedUsers; d == nil || *d != (v1.DivergedUsers{Local: 1, LCFT: 2}) {
		t.Errorf("divergedUsers %+v; want {Local: 1, LCFT: 2}", d)
	}
	wantModel := &v1.CohortModel{URI: "pvc://models/runs/0123abcd/group-model.lcft", Digest: "sha256:" + strings.Repeat("a", 64), GlobalCTR: "0.3"}
	if diff := cmp.Diff(wantModel, st.Model); diff != "" {
		t.Errorf("status.model (-want +got):\n%s", diff)
	}
	if st.UserModels != nil {
		t.Errorf("userModels %+v without user-model files", st.UserModels)
	}
	// Shards with user-model files.
	for i, s := range out.summaries {
		s.UserModelsURI = fmt.Sprintf("file://%s/models/runs/0123abcd/user-models-shard-%d.lcftu", pvcMountRoot, i)
		s.Finetune.UserModels, s.Finetune.UserModelBytes = s.Finetune.Users, 1000*s.Finetune.Users+int64(i)
	}
	if err := writeCohortResults(&st, "Auto", "0.3", "pvc://models/runs", "Sparse", out); err != nil {
		t.Fatal(err)
	}
	wantUM := &v1.UserModelsStatus{Users: 3, Bytes: 3001, BytesPerUser: 1000, Scope: v1.ScopeSparse,
		URIs: []string{"pvc://models/runs/0123abcd/user-models-shard-0.lcftu", "pvc://models/runs/0123abcd/user-models-shard-1.lcftu"}}
	if diff := cmp.Diff(wantUM, st.UserModels); diff != "" {
		t.Errorf("status.userModels (-want +got):\n%s", diff)
	}
	// A run without a model (PerUser) clears it.
	out.summaries[0].Model = nil
	if err := writeCohortResults(&st, "Auto", "0.3", "pvc://models/runs", "All", out); err != nil || st.Model != nil {
		t.Errorf("status.model after a run without one: %+v, %v", st.Model, err)
	}
	empty := runOutcome{summaries: []*runspec.Summary{{Kind: runspec.KindFinetune, Finetune: &runspec.FinetuneStats{}}}}
	if err := writeCohortResults(&st, "Auto", "0.3", "pvc://models/runs", "All", empty); !errors.Is(err, errNoUsers) {
		t.Errorf("a cohort without users: want errNoUsers, got %v", err)
	}
	out.summaries[1].Finetune = nil
	if err := writeCohortResults(&st, "Auto", "0.3", "pvc://models/runs", "All", out); err == nil || !strings.Contains(err.Error(), "shard 1") {
		t.Errorf("a shard without results: want an error naming shard 1, got %v", err)
	}
}
