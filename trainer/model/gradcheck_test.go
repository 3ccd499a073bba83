package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// gradBatch has non-trivial histories (repeats, an item both as candidate
// and in history, empty lists), several categories and soft labels
// including 2 and 1/3.
func gradBatch() ([]data.Sample, []float32) {
	batch := []data.Sample{
		{User: 0, Item: 1, Categories: []int32{0, 2}, PosHistory: []int32{2, 3, 3}, NegHistory: []int32{4}},
		{User: 1, Item: 2, Categories: []int32{1}, PosHistory: []int32{1}, NegHistory: nil},
		{User: 0, Item: 5, Categories: []int32{2, 1, 0}, PosHistory: nil, NegHistory: []int32{0, 5, 2}},
		{User: 2, Item: 3, Categories: []int32{0}, PosHistory: []int32{0, 1, 2, 4}, NegHistory: []int32{3}},
		{User: 1, Item: 0, Categories: []int32{1, 1}, PosHistory: []int32{5}, NegHistory: []int32{1, 2}},
	}
	labels := []float32{1, 0, 2, 1.0 / 3, 0.75}
	return batch, labels
}

// meanLoss is the mean loss of m on batch, computed by the forward pass.
func meanLoss(m *Model, batch []data.Sample, labels []float32) float64 {
	ws := newWorkspace(m.net.widths())
	ws.ensure(len(batch))
	m.net.forward(ws, batch)
	n := len(batch)
	return crossEntropy(ws.z[:n], labels, ws.dz[:n], 1) / float64(n)
}

// group is one parameter group's values with its analytic gradient.
type group struct {
	name     string
	values   []float32 // the parameters, perturbed in place
	analytic []float64
}

// analyticGroups runs the real backward pass and collects every group's
// gradient, full size (zero for rows the batch did not touch).
func analyticGroups(t *testing.T, m *Model, batch []data.Sample, labels []float32) []group {
	t.Helper()
	if _, err := m.gradients(batch, labels, mustSGD(t, 1)); err != nil {
		t.Fatal(err)
	}
	var gs []group
	for _, tb := range m.p.tables {
		g := group{name: tb.name, values: tb.data, analytic: make([]float64, len(tb.data))}
		for k, r := range tb.touched {
			for j := 0; j < tb.dim; j++ {
				g.analytic[int(r)*tb.dim+j] = float64(tb.grad[k*tb.dim+j])
			}
		}
		gs = append(gs, g)
	}
	for _, d := range m.p.denses {
		g := group{name: d.name, values: d.data, analytic: make([]float64, len(d.data))}
		for i, v := range d.grad {
			g.analytic[i] = float64(v)
		}
		gs = append(gs, g)
	}
	m.p.discard()
	return gs
}

// numeric returns the central finite-difference gradient of g's values.
func numeric(m *Model, g group, batch []data.Sample, labels []float32, eps float32) []float64 {
	out := make([]float64, len(g.values))
	for i, v := range g.values {
		g.values[i] = v + eps
		up := float64(g.values[i])
		lp := meanLoss(m, batch, labels)
		g.values[i] = v - eps
		down := float64(g.values[i])
		lm := meanLoss(m, batch, labels)
		g.values[i] = v
		out[i] = (lp - lm) / (up - down)
	}
	return out
}

// compare returns the mismatches between analytic and numeric gradients:
// per element |a-n| <= 2e-4 + 1e-2*max(|a|,|n|), and per group
// |a-n|/(|a|+|n|) <= 2e-3 in the 2-norm.
func compare(name string, a, n []float64) []string {
	var bad []string
	var diff, norm float64
	for i := range a {
		d := math.Abs(a[i] - n[i])
		diff += d * d
		norm += a[i]*a[i] + n[i]*n[i]
		if d > 2e-4+1e-2*math.Max(math.Abs(a[i]), math.Abs(n[i])) {
			bad = append(bad, fmt.Sprintf("%s[%d]: analytic %.6g, numeric %.6g", name, i, a[i], n[i]))
		}
	}
	if norm == 0 {
		return append(bad, fmt.Sprintf("%s: zero gradient, the check exercises nothing", name))
	}
	if rel := math.Sqrt(diff) / math.Sqrt(norm); rel > 2e-3 {
		bad = append(bad, fmt.Sprintf("%s: relative error %.3g", name, rel))
	}
	return bad
}

func TestGradients(t *testing.T) {
	batch, labels := gradBatch()
	for _, cfg := range tinyConfigs() {
		t.Run(cfg.Arch, func(t *testing.T) {
			m := mustNew(t, cfg, tinySchema)
			// Move every parameter off its initial value (LR starts at zero)
			// so that every group has a non-trivial gradient.
			randomise(m, rand.New(rand.NewPCG(7, 8)), 0.5)
			groups := analyticGroups(t, m, batch, labels)
			worst := 0.0
			if want := len(m.p.tables) + len(m.p.denses); len(groups) != want {
				t.Fatalf("checked %d groups, model has %d", len(groups), want)
			}
			for _, g := range groups {
				num := numeric(m, g, batch, labels, 1e-3)
				worst = max(worst, relErr(g.analytic, num))
				for _, msg := range compare(g.name, g.analytic, num) {
					t.Error(msg)
				}
				// The check must be able to fail: a 5% error in the largest
				// gradient entry is caught.
				wrong := append([]float64(nil), g.analytic...)
				imax := 0
				for i := range wrong {
					if math.Abs(wrong[i]) > math.Abs(wrong[imax]) {
						imax = i
					}
				}
				wrong[imax] *= 1.05
				if len(compare(g.name, wrong, num)) == 0 {
					t.Errorf("%s: a 5%% error in entry %d went unnoticed", g.name, imax)
				}
			}
			t.Logf("%d groups checked (%d tables, %d dense), worst relative error %.2g",
				len(groups), len(m.p.tables), len(m.p.denses), worst)
		})
	}
}

// relErr is |a-n|/sqrt(|a|²+|n|²) in the 2-norm.
func relErr(a, n []float64) float64 {
	var diff, norm float64
	for i := range a {
		diff += (a[i] - n[i]) * (a[i] - n[i])
		norm += a[i]*a[i] + n[i]*n[i]
	}
	return math.Sqrt(diff / norm)
}
