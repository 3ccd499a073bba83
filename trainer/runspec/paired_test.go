package runspec

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type userRow struct {
	n int64
	d float64
}

func randomRows(seed uint64, users int, shift float64) []userRow {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]userRow, users)
	for i := range rows {
		rows[i] = userRow{n: 1 + rng.Int64N(60), d: math.Max(-1, math.Min(1, shift+0.05*rng.NormFloat64()))}
	}
	return rows
}

// intervalFromRows is the interval computed directly in floating point
// from every user's (n, d).
func intervalFromRows(rows []userRow) Interval {
	var w, w2, s float64
	for _, r := range rows {
		w += float64(r.n)
		w2 += float64(r.n * r.n)
		s += float64(r.n) * r.d
	}
	m := s / w
	var ss float64
	for _, r := range rows {
		ss += float64(r.n) * (r.d - m) * (r.d - m)
	}
	se := math.Sqrt(ss/(w-w2/w)*w2) / w
	return Interval{Mean: m, Lo: m - 1.959963984540054*se, Hi: m + 1.959963984540054*se, Users: int64(len(rows))}
}

func TestPairedSumsShardsEqualAllRows(t *testing.T) {
	rows := randomRows(7, 500, 0.004)
	var all PairedSums
	for _, r := range rows {
		if err := all.Observe(r.n, r.d); err != nil {
			t.Fatal(err)
		}
	}
	for _, shards := range []int{1, 2, 3, 8} {
		parts := make([]PairedSums, shards)
		for i, r := range rows {
			if err := parts[(i*7919)%shards].Observe(r.n, r.d); err != nil {
				t.Fatal(err)
			}
		}
		var sum PairedSums
		for i := len(parts) - 1; i >= 0; i-- { // another order than all's
			sum = sum.Add(parts[i])
		}
		if diff := cmp.Diff(all, sum); diff != "" {
			t.Errorf("%d shards: sums differ from the unsharded sums (-all +shards):\n%s", shards, diff)
		}
	}
	got, ok := all.Interval95()
	if !ok {
		t.Fatal("no interval over 500 users")
	}
	want := intervalFromRows(rows)
	// Fixed point rounds each user's terms to 2^-21: far below 1e-7.
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-7 })); diff != "" {
		t.Errorf("interval from sums differs from the interval from all rows (-rows +sums):\n%s", diff)
	}
	if got.Hi-got.Lo <= 0 {
		t.Errorf("empty interval %+v", got)
	}
}

func TestPairedSumsHandComputed(t *testing.T) {
	// Two users, equal weights 2, d = 0.1 and 0.3: mean 0.2; sample
	// variance 0.02; se = sqrt(0.02/2) = 0.1.
	var p PairedSums
	for _, d := range []float64{0.1, 0.3} {
		if err := p.Observe(2, d); err != nil {
			t.Fatal(err)
		}
	}
	iv, ok := p.Interval95()
	if !ok {
		t.Fatal("no interval")
	}
	want := Interval{Mean: 0.2, Lo: 0.2 - 0.1959963984540054, Hi: 0.2 + 0.1959963984540054, Users: 2}
	// sum n*d² is rounded to 2^-21 per user, and the variance subtracts
	// W*m² from it: a few 1e-6 off at this tiny size.
	if diff := cmp.Diff(want, iv, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-5 })); diff != "" {
		t.Errorf("interval (-want +got):\n%s", diff)
	}
	if !p.Significant() {
		t.Error("interval [0.004, 0.396] should be significant")
	}
}

func TestPairedSumsUndefined(t *testing.T) {
	var p PairedSums
	if _, ok := p.Interval95(); ok {
		t.Error("interval of no users")
	}
	if err := p.Observe(3, 0.5); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Interval95(); ok || p.Significant() {
		t.Error("interval of one user")
	}
	for _, bad := range []struct {
		n int64
		d float64
	}{{0, 0.1}, {1, math.NaN()}, {1, 1.5}} {
		if err := p.Observe(bad.n, bad.d); err == nil {
			t.Errorf("Observe(%d, %v) accepted", bad.n, bad.d)
		}
	}
}
