package optim

import (
	"math"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestSGD(t *testing.T) {
	o, err := NewSGD(1, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if o.StateLen() != 0 {
		t.Errorf("StateLen = %d", o.StateLen())
	}
	p := []float32{1, -2, 0.5}
	g := []float32{0.5, -1, 0}
	o.Update(p, g, nil, 1)
	if want := []float32{0.5, -1, 0.5}; !equal(p, want) {
		t.Errorf("epoch 0: %v, want %v", p, want)
	}
	for e, want := range []float64{1, 0.1, 0.01, 0.001} {
		o.SetEpoch(e)
		if !near(float64(o.LearningRate()), want, 1e-6) {
			t.Errorf("epoch %d: lr %v, want %v", e, o.LearningRate(), want)
		}
	}
	o.SetEpoch(1)
	o.Update(p, g, nil, 2)
	if want := []float32{0.45, -0.9, 0.5}; !equalTol(p, want, 1e-6) {
		t.Errorf("epoch 1: %v, want %v", p, want)
	}
	c, _ := NewSGD(0.01, 1)
	c.SetEpoch(5)
	if c.LearningRate() != 0.01 {
		t.Errorf("constant rate moved to %v", c.LearningRate())
	}
}

// TestAdam checks two steps against values computed by hand:
// g1 = 0.5: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25, step = lr*0.5/0.5.
// g2 = -1: m = 0.045-0.1 = -0.055, v = 0.00024975+0.001 = 0.00124975,
// mhat = -0.055/0.19 = -0.289474, vhat = 0.00124975/0.001999 = 0.625188,
// step = lr * -0.289474/0.790688 = -0.366102*lr.
func TestAdam(t *testing.T) {
	c := DefaultAdamConfig()
	c.LR = 0.1
	o, err := NewAdam(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.StateLen() != 2 {
		t.Errorf("StateLen = %d", o.StateLen())
	}
	p := []float32{1, 2}
	st := make([]float32, 4)
	o.Update(p, []float32{0.5, 0}, st, 1)
	if !equalTol(p, []float32{0.9, 2}, 1e-6) || !equalTol(st, []float32{0.05, 0, 0.00025, 0}, 1e-6) {
		t.Errorf("step 1: param %v state %v", p, st)
	}
	o.Update(p, []float32{-1, 0}, st, 2)
	if !equalTol(p, []float32{0.9 + 0.0366102, 2}, 1e-5) || !equalTol(st, []float32{-0.055, 0, 0.00124975, 0}, 1e-5) {
		t.Errorf("step 2: param %v state %v", p, st)
	}
	// Learning-rate decay applies to Adam as well.
	c.Decay = 0.5
	d, _ := NewAdam(c)
	d.SetEpoch(2)
	if !near(float64(d.LearningRate()), 0.025, 1e-6) {
		t.Errorf("decayed lr %v", d.LearningRate())
	}
}

// TestAdamLazyRows: a row updated at its own step 1 gets the full bias
// correction whatever other rows did, and a row not passed to Update keeps
// its values and state.
func TestAdamLazyRows(t *testing.T) {
	o, _ := NewAdam(DefaultAdamConfig())
	rows := [][]float32{{1}, {1}}
	state := [][]float32{make([]float32, 2), make([]float32, 2)}
	steps := []int{0, 0}
	for range 100 {
		steps[0]++
		o.Update(rows[0], []float32{1}, state[0], steps[0])
	}
	if rows[1][0] != 1 || state[1][0] != 0 || state[1][1] != 0 {
		t.Error("untouched row changed")
	}
	steps[1]++
	o.Update(rows[1], []float32{-3}, state[1], steps[1])
	if !near(float64(rows[1][0]), 1.001, 1e-6) {
		t.Errorf("first update of a late row: %v, want 1.001", rows[1][0])
	}
}

func TestAdamCorrectionTable(t *testing.T) {
	o, _ := NewAdam(DefaultAdamConfig())
	for _, step := range []int{1, 2, 10, 1000, 20000, 1 << 20} {
		for _, b := range []struct {
			beta  float32
			table []float32
		}{{o.beta1, o.c1}, {o.beta2, o.c2}} {
			want := 1 - math.Pow(float64(b.beta), float64(step))
			if got := correction(b.table, b.beta, step); !near(float64(got), want, 1e-6) {
				t.Errorf("1-%v^%d = %v, want %v", b.beta, step, got, want)
			}
		}
	}
	c := DefaultAdamConfig()
	c.Beta2 = 0.9999999
	slow, _ := NewAdam(c)
	if got, want := correction(slow.c2, slow.beta2, 1<<20), 1-math.Pow(float64(slow.beta2), 1<<20); !near(float64(got), want, 1e-5) {
		t.Errorf("beyond the table: %v, want %v", got, want)
	}
}

func TestInvalid(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"sgd lr 0", second(NewSGD(0, 1)), "learning rate must be positive"},
		{"sgd lr nan", second(NewSGD(nan, 1)), "learning rate"},
		{"sgd decay 0", second(NewSGD(1, 0)), "decay must be positive"},
		{"adam beta1", second(NewAdam(AdamConfig{LR: 1, Beta1: 1, Beta2: 0.9, Epsilon: 1, Decay: 1})), "beta1 must be in [0, 1)"},
		{"adam beta2", second(NewAdam(AdamConfig{LR: 1, Beta1: 0.9, Beta2: -0.1, Epsilon: 1, Decay: 1})), "beta2"},
		{"adam eps", second(NewAdam(AdamConfig{LR: 1, Beta1: 0.9, Beta2: 0.9, Decay: 1})), "epsilon"},
		{"adam lr", second(NewAdam(AdamConfig{Beta1: 0.9, Beta2: 0.9, Epsilon: 1, Decay: 1})), "learning rate"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestUpdateAllocatesNothing(t *testing.T) {
	a, _ := NewAdam(DefaultAdamConfig())
	s, _ := NewSGD(0.1, 1)
	p, g, st := make([]float32, 64), make([]float32, 64), make([]float32, 128)
	for _, o := range []Optimizer{a, s} {
		if n := testing.AllocsPerRun(10, func() { o.Update(p, g, st, 3) }); n != 0 {
			t.Errorf("%T: %v allocations", o, n)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func equal(a, b []float32) bool { return equalTol(a, b, 0) }

func equalTol(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !near(float64(a[i]), float64(b[i]), tol) {
			return false
		}
	}
	return true
}
