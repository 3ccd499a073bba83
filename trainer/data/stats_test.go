package data

import (
	"math"
	"slices"
	"testing"
)

func TestUserStatsAndRanges(t *testing.T) {
	ds, err := readTestCanonical(testCanonical)
	if err != nil {
		t.Fatal(err)
	}
	ranges := UserRanges(ds)
	wantRanges := []Range{{User: 0, Start: 0, End: 3}, {User: 1, Start: 3, End: 4}, {User: 2, Start: 4, End: 5}}
	if !slices.Equal(ranges, wantRanges) {
		t.Errorf("UserRanges = %v, want %v", ranges, wantRanges)
	}
	stats := ComputeUserStats(ds)
	want := []UserStats{
		{User: 0, Positives: 2, Negatives: 1, LocalCTR: 2.0 / 3}, // alice
		{User: 1, Positives: 0, Negatives: 1, LocalCTR: 0},       // bob
		{User: 2, Positives: 1, Negatives: 0, LocalCTR: 1},       // carol
	}
	if !slices.Equal(stats, want) {
		t.Errorf("ComputeUserStats = %v, want %v", stats, want)
	}
	if g, err := GlobalCTR(ds); err != nil || g != 3.0/5 {
		t.Errorf("GlobalCTR = %v, %v; want 0.6", g, err)
	}
	if _, err := GlobalCTR(&Dataset{}); err == nil {
		t.Error("GlobalCTR of empty dataset: want error")
	}
	if UserRanges(nil) != nil {
		t.Error("UserRanges(nil) not nil")
	}
}

func TestLocalCTRQuantiles(t *testing.T) {
	stats := []UserStats{{LocalCTR: 0.4}, {LocalCTR: 0}, {LocalCTR: 1}, {LocalCTR: 0.2}, {LocalCTR: 0.6}}
	// Sorted 0, 0.2, 0.4, 0.6, 1. q=0.5 -> 0.4; q=0.25 -> position 1 -> 0.2;
	// q=0.9 -> position 3.6 -> 0.6 + 0.6*(1-0.6) = 0.84.
	got, err := LocalCTRQuantiles(stats, []float64{0, 0.25, 0.5, 0.9, 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 0.2, 0.4, 0.84, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("quantiles = %v, want %v", got, want)
			break
		}
	}
	if _, err := LocalCTRQuantiles(nil, []float64{0.5}); err == nil {
		t.Error("no users: want error")
	}
	if _, err := LocalCTRQuantiles(stats, []float64{1.5}); err == nil {
		t.Error("q=1.5: want error")
	}
	if _, err := LocalCTRQuantiles(stats, []float64{math.NaN()}); err == nil {
		t.Error("q=NaN: want error")
	}
}
