package controllers

import (
	"errors"
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
	var st v1.FineTuneCohortStatus
	if err := writeCohortResults(&st, "Auto", "0.3", out); err != nil {
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
	empty := runOutcome{summaries: []*runspec.Summary{{Kind: runspec.KindFinetune, Finetune: &runspec.FinetuneStats{}}}}
	if err := writeCohortResults(&st, "Auto", "0.3", empty); !errors.Is(err, errNoUsers) {
		t.Errorf("a cohort without users: want errNoUsers, got %v", err)
	}
	out.summaries[1].Finetune = nil
	if err := writeCohortResults(&st, "Auto", "0.3", out); err == nil || !strings.Contains(err.Error(), "shard 1") {
		t.Errorf("a shard without results: want an error naming shard 1, got %v", err)
	}
}
