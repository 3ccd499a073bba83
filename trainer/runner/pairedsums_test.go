package runner

import (
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// TestCohortIntervalFromShardSums: the LCFT-Local and LCFT-Cloud intervals
// of a cohort, computed from the shards' summed PairedSums (what the
// controller puts in the status), equal the intervals computed directly
// from every shard's per-user rows, and do not depend on the shard count.
func TestCohortIntervalFromShardSums(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(150, 25, 0.8, 21)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://paired/model", 21))
	var bySharding []runspec.FinetuneStats
	for _, shards := range []int{1, 3} {
		var tot runspec.FinetuneStats
		var rows []UserRow
		for sh := range shards {
			sum, err := Run(ctx, finetuneSpec(ds, p, "Auto", ModePerUser, "mem://paired/cohort", 0.1, shards, 21), sh, nil)
			if err != nil {
				t.Fatal(err)
			}
			tot.Add(sum.Finetune)
			rows = append(rows, readReport(t, sum.ReportURI).Users...)
		}
		bySharding = append(bySharding, tot)
		for _, arm := range []struct {
			name string
			sums runspec.PairedSums
			diff func(UserRow) float64
		}{
			{"LCFT-Local", tot.LCFTLocal, func(u UserRow) float64 { return float64(u.LCFT - u.Local) }},
			{"LCFT-Cloud", tot.LCFTCloud, func(u UserRow) float64 { return float64(u.LCFT - u.Cloud) }},
		} {
			got, ok := arm.sums.Interval95()
			if !ok {
				t.Fatalf("%d shards, %s: no interval", shards, arm.name)
			}
			want := normalIntervalFromRows(rows, arm.diff)
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-6 })); diff != "" {
				t.Errorf("%d shards, %s: interval from the summed sums differs from the rows' (-rows +sums):\n%s", shards, arm.name, diff)
			}
			t.Logf("%d shards: %s %+.5f [%+.5f, %+.5f] over %d users, significant %v", shards, arm.name, got.Mean, got.Lo, got.Hi, got.Users, got.Significant())
		}
	}
	if bySharding[0].LCFTLocal != bySharding[1].LCFTLocal || bySharding[0].LCFTCloud != bySharding[1].LCFTCloud {
		t.Errorf("sums differ between 1 and 3 shards: %+v vs %+v", bySharding[0].LCFTLocal, bySharding[1].LCFTLocal)
	}
}

// normalIntervalFromRows is the normal interval of the size-weighted mean
// difference over the two-class users, in floating point from the rows.
func normalIntervalFromRows(rows []UserRow, diff func(UserRow) float64) runspec.Interval {
	var w, w2, s float64
	var n int64
	var ds, ns []float64
	for _, u := range rows {
		if !u.Cloud.Defined() || !u.Local.Defined() || !u.LCFT.Defined() {
			continue
		}
		d, k := diff(u), float64(u.Test)
		ds, ns = append(ds, d), append(ns, k)
		w += k
		w2 += k * k
		s += k * d
		n++
	}
	m := s / w
	var ss float64
	for i, d := range ds {
		ss += ns[i] * (d - m) * (d - m)
	}
	se := math.Sqrt(ss/(w-w2/w)*w2) / w
	const z = 1.959963984540054
	return runspec.Interval{Mean: m, Lo: m - z*se, Hi: m + z*se, Users: n}
}
