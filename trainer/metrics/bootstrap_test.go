package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPairedBootstrapConstantShift(t *testing.T) {
	// B = A - 0.01 for every user: every resample's difference is 0.01.
	a := []float64{0.6, 0.7, 0.8, 0.55, math.NaN()}
	b := []float64{0.59, 0.69, 0.79, 0.54, 0.5}
	w := []float64{3, 10, 7, 2, 4}
	mean, lo, hi, err := PairedBootstrap(a, b, w, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{mean, lo, hi} {
		if math.Abs(x-0.01) > 1e-12 {
			t.Errorf("mean, lo, hi = %v, %v, %v; want all 0.01", mean, lo, hi)
		}
	}
}

func TestPairedBootstrapNoisy(t *testing.T) {
	// 400 equally weighted users, d_u = A_u - B_u ~ N(0.02, 0.05^2), while the
	// AUC levels themselves vary a lot between users (pairing removes that).
	// The 95% interval of the mean difference should be about
	// mean ± 1.96*0.05/sqrt(400) = mean ± 0.0049.
	rng := rand.New(rand.NewPCG(7, 8))
	n := 400
	a, b, w := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		base := 0.3 + 0.4*rng.Float64()
		d := 0.02 + 0.05*rng.NormFloat64()
		a[i], b[i], w[i] = base+d/2, base-d/2, 1
	}
	mean, lo, hi, err := PairedBootstrap(a, b, w, 2000, 42)
	if err != nil {
		t.Fatal(err)
	}
	half := (hi - lo) / 2
	if !(lo < mean && mean < hi) {
		t.Errorf("mean %v outside [%v, %v]", mean, lo, hi)
	}
	if math.Abs(mean-0.02) > 3*0.05/20 {
		t.Errorf("mean %v is more than 3 standard errors from 0.02", mean)
	}
	if half < 0.0049*0.8 || half > 0.0049*1.2 {
		t.Errorf("half-width %v, want about 0.0049", half)
	}
	// Same seed, same interval; another seed, a slightly different one.
	m2, lo2, hi2, _ := PairedBootstrap(a, b, w, 2000, 42)
	if m2 != mean || lo2 != lo || hi2 != hi {
		t.Error("same seed gave a different interval")
	}
	_, lo3, _, _ := PairedBootstrap(a, b, w, 2000, 43)
	if lo3 == lo {
		t.Error("different seed gave an identical bound")
	}
}

func TestPairedBootstrapErrors(t *testing.T) {
	a, b, w := []float64{0.5, 0.6}, []float64{0.4, 0.5}, []float64{1, 1}
	if _, _, _, err := PairedBootstrap(a, b[:1], w, 10, 1); err == nil {
		t.Error("length mismatch: want error")
	}
	if _, _, _, err := PairedBootstrap(a, b, w, 0, 1); err == nil {
		t.Error("0 resamples: want error")
	}
	if _, _, _, err := PairedBootstrap(a, b, []float64{1, -1}, 10, 1); err == nil {
		t.Error("negative weight: want error")
	}
	nan := []float64{math.NaN(), math.NaN()}
	if _, _, _, err := PairedBootstrap(nan, b, w, 10, 1); err == nil {
		t.Error("no defined users: want error")
	}
	if _, _, _, err := PairedBootstrapLevel(a, b, w, 10, 1, 1); err == nil {
		t.Error("level 1: want error")
	}
}
