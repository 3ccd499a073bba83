package metrics

import (
	"math"
	"testing"
)

func TestCompareUsers(t *testing.T) {
	base := []float64{0.5, 0.5, 0.5, 0.5, math.NaN(), 0.7}
	meth := []float64{0.6, 0.5 + 1e-10, 0.4, 0.5 - 1e-10, 0.9, math.NaN()}
	c, err := CompareUsers(base, meth, DefaultTolerance)
	if err != nil {
		t.Fatal(err)
	}
	want := Changes{Improved: 1, Unchanged: 2, Degraded: 1, Skipped: 2}
	if c != want {
		t.Errorf("CompareUsers = %+v, want %+v", c, want)
	}
	imp, unch, deg := c.Shares()
	if imp != 0.25 || unch != 0.5 || deg != 0.25 {
		t.Errorf("Shares = %v %v %v", imp, unch, deg)
	}
	// Tolerance 0: the 1e-10 moves count.
	c0, _ := CompareUsers(base, meth, 0)
	if c0.Improved != 2 || c0.Degraded != 2 || c0.Unchanged != 0 {
		t.Errorf("tolerance 0: %+v", c0)
	}
	var m Changes
	m.Merge(c)
	m.Merge(c0)
	if m.Compared() != 8 || m.Skipped != 4 {
		t.Errorf("merged %+v", m)
	}
	if _, err := CompareUsers(base, meth[:2], 0); err == nil {
		t.Error("length mismatch: want error")
	}
	if _, err := CompareUsers(base, meth, -1); err == nil {
		t.Error("negative tolerance: want error")
	}
}
