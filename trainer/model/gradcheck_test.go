package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// gradBatch has non-trivial histories: repeats within a list, an item both
// as the candidate and in its own history, the same item in both histories
// of a sample, histories overlapping across samples (and with other
// samples' candidates), empty lists (one sample with both empty), full
// lists (tinySchema.HistoryLen 4), several categories and soft labels
// including 2 and 1/3.
func gradBatch() ([]data.Sample, []float32) {
	batch := []data.Sample{
		data.NewSample(0, 1, []int32{0, 2}, []int32{2, 3, 3}, []int32{4}, 0, 0),
		data.NewSample(1, 2, []int32{1}, []int32{1}, nil, 0, 0),
		data.NewSample(0, 5, []int32{2, 1, 0}, nil, []int32{0, 5, 2}, 0, 0),
		data.NewSample(2, 3, []int32{0}, []int32{0, 1, 2, 4}, []int32{3}, 0, 0),
		data.NewSample(1, 0, []int32{1, 1}, []int32{5}, []int32{1, 2}, 0, 0),
		data.NewSample(3, 4, []int32{2}, nil, nil, 0, 0),
		data.NewSample(2, 2, []int32{0, 1}, []int32{2, 4, 2}, []int32{4, 4, 1, 2}, 0, 0),
	}
	labels := []float32{1, 0, 2, 1.0 / 3, 0.75, 0, 1}
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
	for _, d := range append(m.p.denses[:len(m.p.denses):len(m.p.denses)], m.p.patch...) {
		g := group{name: d.name, values: d.data, analytic: make([]float64, len(d.data))}
		for i, v := range d.grad {
			g.analytic[i] = float64(v)
		}
		gs = append(gs, g)
	}
	m.p.discard()
	return gs
}

// numeric returns the central finite-difference gradient of the loss
// with respect to g's values, computed by the float64 reference
// implementation. Finite differences of the float32 forward pass have a
// noise floor of about ulp(z)·|dL/dz|/2ε (≈3e-6 per entry at ε = 1e-3),
// which swamps small gradients such as DIN's activation-unit ones, and a
// step that large crosses ReLU kinks; in float64 with ε = 1e-6 both are
// negligible, and the reference also checks the forward pass against the
// documented formulas (TestReferenceForward).
func numeric(r *ref, g group, batch []data.Sample, labels []float32, eps float64) []float64 {
	v := r.p[g.name]
	out := make([]float64, len(v))
	for i, x := range v {
		v[i] = x + eps
		lp := r.loss(batch, labels)
		v[i] = x - eps
		lm := r.loss(batch, labels)
		v[i] = x
		out[i] = (lp - lm) / (2 * eps)
	}
	return out
}

// compare returns the mismatches between analytic and numeric gradients:
// per element |a-n| <= 1e-7 + 1e-4*max(|a|,|n|), and per group
// |a-n|/(|a|+|n|) <= 1e-5 in the 2-norm. The analytic gradients are
// float32 sums: their errors measure below 1.2e-7 absolute and 1.1e-5
// relative per element, and 4e-7 per group.
func compare(name string, a, n []float64) []string {
	var bad []string
	var diff, norm float64
	for i := range a {
		d := math.Abs(a[i] - n[i])
		diff += d * d
		norm += a[i]*a[i] + n[i]*n[i]
		if d > 1e-7+1e-4*math.Max(math.Abs(a[i]), math.Abs(n[i])) {
			bad = append(bad, fmt.Sprintf("%s[%d]: analytic %.6g, numeric %.6g", name, i, a[i], n[i]))
		}
	}
	if norm == 0 {
		return append(bad, fmt.Sprintf("%s: zero gradient, the check exercises nothing", name))
	}
	if rel := math.Sqrt(diff) / math.Sqrt(norm); rel > 1e-5 {
		bad = append(bad, fmt.Sprintf("%s: relative error %.3g", name, rel))
	}
	return bad
}

// TestGradients checks the analytic gradient of every parameter group of
// every architecture against finite differences.
func TestGradients(t *testing.T) {
	batch, labels := gradBatch()
	for _, cfg := range tinyConfigs() {
		t.Run(cfg.Arch, func(t *testing.T) {
			m := mustNew(t, cfg, tinySchema)
			// Move every parameter off its initial value (LR starts at zero)
			// so that every group has a non-trivial gradient.
			randomise(m, rand.New(rand.NewPCG(7, 8)), 0.5)
			r := newRef(m)
			groups := analyticGroups(t, m, batch, labels)
			worst, worstName := 0.0, ""
			if want := len(m.p.tables) + len(m.p.denses); len(groups) != want {
				t.Fatalf("checked %d groups, model has %d", len(groups), want)
			}
			for _, g := range groups {
				num := numeric(r, g, batch, labels, 1e-6)
				if e := relErr(g.analytic, num); e > worst {
					worst, worstName = e, g.name
				}
				for _, msg := range compare(g.name, g.analytic, num) {
					t.Error(msg)
				}
				checkCatchesOnePercent(t, g.name, g.analytic, num)
			}
			t.Logf("%d groups checked (%d tables, %d dense), worst relative error %.2g (%s)",
				len(groups), len(m.p.tables), len(m.p.denses), worst, worstName)
		})
	}
}

// TestReferenceForward checks the logits of every architecture against
// the float64 reference implementation of the documented formulas.
func TestReferenceForward(t *testing.T) {
	batch, _ := gradBatch()
	batch = append(batch, randomSamples(rand.New(rand.NewPCG(9, 10)), tinySchema, 40)...)
	for _, cfg := range tinyConfigs() {
		m := mustNew(t, cfg, tinySchema)
		randomise(m, rand.New(rand.NewPCG(7, 8)), 0.5)
		r := newRef(m)
		worst := 0.0
		for i, z := range predict(t, m, batch) {
			want := r.logit(&batch[i])
			e := math.Abs(float64(z)-want) / (1 + math.Abs(want))
			worst = max(worst, e)
			if e > 1e-5 {
				t.Errorf("%s sample %d: logit %v, reference %v", cfg.Arch, i, z, want)
			}
		}
		t.Logf("%s: worst logit error %.2g", cfg.Arch, worst)
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

// checkCatchesOnePercent makes sure the comparison can fail: a 1% error in
// the largest entry of the analytic gradient must be caught.
func checkCatchesOnePercent(t *testing.T, name string, analytic, num []float64) {
	t.Helper()
	wrong := append([]float64(nil), analytic...)
	imax := 0
	for i := range wrong {
		if math.Abs(wrong[i]) > math.Abs(wrong[imax]) {
			imax = i
		}
	}
	wrong[imax] *= 1.01
	if len(compare(name, wrong, num)) == 0 {
		t.Errorf("%s: a 1%% error in entry %d went unnoticed", name, imax)
	}
}
