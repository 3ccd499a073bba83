package metrics

import (
	"math"
	"testing"
)

func TestUserAUC(t *testing.T) {
	var a UserAUC
	// User 1: 4 samples, AUC 1. User 2: 6 samples (the 8.5/9 case).
	// User 3: single class, skipped and counted.
	if _, _, err := AddScores(&a, []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := AddScores(&a, []float64{0.1, 0.4, 0.4, 0.8, 0.8, 0.3}, []float64{0, 1, 0, 1, 1, 0}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := AddScores(&a, []float32{0.1, 0.2}, []float32{1, 1}); ok || err != nil {
		t.Fatalf("single-class user: ok=%v err=%v", ok, err)
	}
	// (4*1 + 6*8.5/9) / 10
	want := (4 + 6*8.5/9) / 10
	got, ok := a.Value()
	if !ok || math.Abs(got-want) > 1e-15 || a.Users != 2 || a.SkippedUsers != 1 || a.Weight != 10 {
		t.Errorf("UserAUC = %+v (value %v), want value %v, 2 users, 1 skipped, weight 10", a, got, want)
	}
	if _, _, err := AddScores(&a, []float64{1}, []float64{1, 0}); err == nil {
		t.Error("length mismatch: want error")
	}
	if err := a.Add(1, 0.5, true); err == nil {
		t.Error("defined AUC with 1 sample: want error")
	}
	if err := a.Add(3, 1.5, true); err == nil {
		t.Error("AUC 1.5: want error")
	}
	if _, ok := (UserAUC{SkippedUsers: 3}).Value(); ok {
		t.Error("no scored users: Value ok")
	}
}

func TestUserAUCMergeEqualsUnion(t *testing.T) {
	aucs := []float64{0.5, 0.75, math.NaN(), 1, 0.25, 0.6, math.NaN(), 0.9}
	ns := []float64{10, 4, 3, 8, 2, 20, 5, 6}
	whole, err := WeightedMean(aucs, ns)
	if err != nil {
		t.Fatal(err)
	}
	var merged UserAUC
	for _, shard := range [][2]int{{0, 3}, {3, 4}, {4, 8}} {
		part, err := WeightedMean(aucs[shard[0]:shard[1]], ns[shard[0]:shard[1]])
		if err != nil {
			t.Fatal(err)
		}
		merged.Merge(part)
	}
	if merged.Users != whole.Users || merged.SkippedUsers != whole.SkippedUsers || merged.Weight != whole.Weight ||
		math.Abs(merged.WeightedAUCSum-whole.WeightedAUCSum) > 1e-12 {
		t.Errorf("merged %+v, whole %+v", merged, whole)
	}
	if whole.Users != 6 || whole.SkippedUsers != 2 {
		t.Errorf("whole = %+v, want 6 users and 2 skipped", whole)
	}
	if _, err := WeightedMean([]float64{0.5}, []float64{0}); err == nil {
		t.Error("zero weight: want error")
	}
	if _, err := WeightedMean([]float64{0.5}, nil); err == nil {
		t.Error("length mismatch: want error")
	}
}
