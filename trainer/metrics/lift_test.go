package metrics

import (
	"math"
	"testing"
)

func TestLiftByBucket(t *testing.T) {
	edges, err := EqualEdges(2) // [0, 0.5), [0.5, 1]
	if err != nil {
		t.Fatal(err)
	}
	ctr := []float64{0.1, 0.2, 0.5, 1.0, 0.3, -0.1}
	a := []float64{0.7, 0.6, 0.8, 0.9, math.NaN(), 0.5}
	b := []float64{0.6, 0.6, 0.8, 0.7, 0.5, 0.5}
	w := []float64{10, 30, 5, 5, 4, 1}
	got, err := LiftByBucket(ctr, a, b, w, edges)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d buckets", len(got))
	}
	// Bucket 0: users 0, 1 (user 4 skipped: NaN under A; user 5 outside).
	// A = (10*0.7 + 30*0.6)/40 = 0.625; B = 0.6; lift 0.025.
	lo := got[0]
	if lo.Users() != 2 || lo.A.SkippedUsers != 1 {
		t.Errorf("bucket 0 %+v", lo)
	}
	if l, ok := lo.Lift(); !ok || math.Abs(l-0.025) > 1e-12 {
		t.Errorf("bucket 0 lift %v, %v; want 0.025", l, ok)
	}
	// Bucket 1: users 2 (0.5 is the lower edge) and 3 (1.0, the last edge).
	// A = (5*0.8+5*0.9)/10 = 0.85; B = 0.75; lift 0.1.
	hi := got[1]
	if l, ok := hi.Lift(); hi.Users() != 2 || !ok || math.Abs(l-0.1) > 1e-12 {
		t.Errorf("bucket 1 %+v lift %v", hi, l)
	}
	empty, _ := LiftByBucket(nil, nil, nil, nil, edges)
	if _, ok := empty[0].Lift(); ok {
		t.Error("empty bucket has a lift")
	}
	if _, err := LiftByBucket(ctr, a, b, w, []float64{0, 0.5, 0.5, 1}); err == nil {
		t.Error("repeated edge: want error")
	}
	if _, err := LiftByBucket(ctr, a[:1], b, w, edges); err == nil {
		t.Error("length mismatch: want error")
	}
	if _, err := EqualEdges(0); err == nil {
		t.Error("EqualEdges(0): want error")
	}
}

func TestBucketOf(t *testing.T) {
	edges, _ := EqualEdges(10)
	cases := map[float64]int{0: 0, 0.05: 0, 0.1: 1, 0.95: 9, 1: 9, -0.01: -1, 1.01: -1, math.NaN(): -1}
	for x, want := range cases {
		if got := bucketOf(edges, x); got != want {
			t.Errorf("bucketOf(%v) = %d, want %d", x, got, want)
		}
	}
}
