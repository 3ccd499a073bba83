package correction

import (
	"math"
	"strings"
	"testing"
)

const eps = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= eps }

func TestEquivalentCTR(t *testing.T) {
	cases := []struct{ r, yp, yn, want float64 }{
		{0.25, 1, 0, 0.25},      // identity labels: equivalent CTR is r
		{0.25, 2, 0, 0.5},       // 0.25*2
		{0.25, 1, 1.0 / 3, 0.5}, // 0.25 + 0.75/3
		{0, 7, 0.3, 0.3},
		{1, 0.3, 7, 0.3},
	}
	for _, c := range cases {
		if got := EquivalentCTR(c.r, c.yp, c.yn); !near(got, c.want) {
			t.Errorf("EquivalentCTR(%v, %v, %v) = %v, want %v", c.r, c.yp, c.yn, got, c.want)
		}
	}
}

// The paper's Example 1: g = 0.5, r = 0.25.
func TestPaperExample1(t *testing.T) {
	l, applied, err := SoftPositiveLabels(0.5, 0.25)
	if err != nil || !applied || !near(l.Positive, 2) || l.Negative != 0 {
		t.Errorf("SoftPositive(0.5, 0.25) = %+v, %v, %v; want {2 0}, true, nil", l, applied, err)
	}
	l, applied, err = SoftNegativeLabels(0.5, 0.25)
	if err != nil || !applied || l.Positive != 1 || !near(l.Negative, 1.0/3) {
		t.Errorf("SoftNegative(0.5, 0.25) = %+v, %v, %v; want {1 1/3}, true, nil", l, applied, err)
	}
	// Auto takes the side that stays in [0, 1]: r < g -> SoftNegative.
	l, _, _ = AutoLabels(0.5, 0.25)
	if l.Positive != 1 || !near(l.Negative, 1.0/3) {
		t.Errorf("Auto(0.5, 0.25) = %+v, want SoftNegative's {1 1/3}", l)
	}
}

func TestEdgeCases(t *testing.T) {
	const g = 0.4
	cases := []struct {
		name    string
		f       Func
		r       float64
		want    Labels
		applied bool
	}{
		{"SoftPositive r=0: nothing to relabel", SoftPositiveLabels, 0, Identity, false},
		{"SoftPositive r=1: y+=g", SoftPositiveLabels, 1, Labels{g, 0}, true},
		{"SoftNegative r=0: y-=g", SoftNegativeLabels, 0, Labels{1, g}, true},
		{"SoftNegative r=1: nothing to relabel", SoftNegativeLabels, 1, Identity, false},
		{"Auto r=0 -> SoftNegative", AutoLabels, 0, Labels{1, g}, true},
		{"Auto r=1 -> SoftPositive", AutoLabels, 1, Labels{g, 0}, true},
		{"Auto r=g -> identity", AutoLabels, g, Identity, false},
		{"SoftPositive r=g -> identity", SoftPositiveLabels, g, Identity, false},
		{"SoftNegative r=g -> identity", SoftNegativeLabels, g, Identity, false},
		{"None", NoCorrection, 0.9, Identity, false},
	}
	for _, c := range cases {
		l, applied, err := c.f(g, c.r)
		if err != nil {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if !near(l.Positive, c.want.Positive) || !near(l.Negative, c.want.Negative) || applied != c.applied {
			t.Errorf("%s: got %+v applied=%v, want %+v applied=%v", c.name, l, applied, c.want, c.applied)
		}
		for _, x := range []float64{l.Positive, l.Negative} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Errorf("%s: non-finite label %v", c.name, x)
			}
		}
	}
}

func TestInvalidCTRs(t *testing.T) {
	bad := []struct{ g, r float64 }{
		{0, 0.5}, {1, 0.5}, {-0.1, 0.5}, {1.5, 0.5}, {math.NaN(), 0.5},
		{0.5, -0.01}, {0.5, 1.01}, {0.5, math.NaN()}, {0.5, math.Inf(1)},
	}
	hard := HardTable{{Min: 0, Max: 1, Positive: 1, Negative: 0.1}}
	for _, s := range Strategies {
		var table HardTable
		if s == Hard {
			table = hard
		}
		c, err := New(s, table)
		if err != nil {
			t.Fatalf("New(%s): %v", s, err)
		}
		for _, b := range bad {
			if _, _, err := c.Correct(b.g, b.r); err == nil {
				t.Errorf("%s.Correct(%v, %v): want error", s, b.g, b.r)
			}
		}
	}
}

// Property: whenever a soft strategy applies, the equivalent CTR of the
// corrected labels is g; Auto's labels stay in [0, 1].
func TestEquivalentCTRIsGlobal(t *testing.T) {
	strategies := map[string]Func{"SoftPositive": SoftPositiveLabels, "SoftNegative": SoftNegativeLabels, "Auto": AutoLabels}
	n := 0
	for gi := 1; gi < 100; gi += 7 {
		g := float64(gi) / 100
		for ri := 0; ri <= 200; ri++ {
			r := float64(ri) / 200
			for name, f := range strategies {
				l, applied, err := f(g, r)
				if err != nil {
					t.Fatalf("%s(%v, %v): %v", name, g, r, err)
				}
				if applied {
					n++
					if e := EquivalentCTR(r, l.Positive, l.Negative); math.Abs(e-g) > 1e-12 {
						t.Errorf("%s(%v, %v) = %+v: equivalent CTR %v, want g", name, g, r, l, e)
					}
				} else if l != Identity {
					t.Errorf("%s(%v, %v): not applied but labels %+v", name, g, r, l)
				}
				if name == "Auto" && (l.Positive < 0 || l.Positive > 1 || l.Negative < 0 || l.Negative > 1) {
					t.Errorf("Auto(%v, %v) = %+v leaves [0, 1]", g, r, l)
				}
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d applied cases checked", n)
	}
}

func TestLabelsFor(t *testing.T) {
	l := Labels{Positive: 2, Negative: 0.25}
	if l.For(1) != 2 || l.For(0) != 0.25 {
		t.Errorf("For: got %v, %v", l.For(1), l.For(0))
	}
}

func TestParseStrategy(t *testing.T) {
	for _, s := range Strategies {
		got, err := ParseStrategy(string(s))
		if err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %q, %v", s, got, err)
		}
	}
	if got, err := ParseStrategy(" softpositive "); err != nil || got != SoftPositive {
		t.Errorf("ParseStrategy case-insensitive: %q, %v", got, err)
	}
	_, err := ParseStrategy("Soft")
	if err == nil || !strings.Contains(err.Error(), `"Soft"`) || !strings.Contains(err.Error(), "SoftNegative") {
		t.Errorf("ParseStrategy(Soft) error %v should name the input and the valid values", err)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Hard, nil); err == nil {
		t.Error("New(Hard, nil): want error")
	}
	if _, err := New(Auto, HardTable{{Min: 0, Max: 1, Positive: 1, Negative: 0}}); err == nil {
		t.Error("New(Auto, table): want error")
	}
	if _, err := New("Bogus", nil); err == nil {
		t.Error("New(Bogus): want error")
	}
	if _, err := New(Hard, HardTable{{Min: 0.5, Max: 0.2, Positive: 1, Negative: 0}}); err == nil {
		t.Error("New(Hard, invalid table): want error")
	}
	c, err := New(SoftPositive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, _, _ := c.Correct(0.5, 0.25); !near(l.Positive, 2) {
		t.Errorf("New(SoftPositive).Correct = %+v", l)
	}
}
