package model

import (
	"fmt"
	"math"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// ref is a float64 reference implementation of every architecture, written
// per sample straight from the formulas of the package documentation and
// sharing no code with the package's forward and backward passes. It reads
// the parameters by name, as float64 copies it owns, so tests can perturb
// them without float32 rounding.
type ref struct {
	cfg    Config
	schema data.Schema
	p      map[string][]float64
	cols   map[string]int
}

func newRef(m *Model) *ref {
	r := &ref{cfg: m.cfg, schema: m.schema, p: map[string][]float64{}, cols: map[string]int{}}
	for _, t := range m.p.tables {
		v := make([]float64, t.rows*t.dim)
		for row := range t.rows {
			for j, x := range t.row(int32(row)) {
				v[row*t.dim+j] = float64(x)
			}
		}
		r.p[t.name], r.cols[t.name] = v, t.dim
	}
	for _, d := range append(m.p.denses[:len(m.p.denses):len(m.p.denses)], m.p.patch...) {
		v := make([]float64, len(d.data))
		for i, x := range d.data {
			v[i] = float64(x)
		}
		r.p[d.name], r.cols[d.name] = v, d.cols
	}
	return r
}

func (r *ref) param(name string) []float64 {
	v, ok := r.p[name]
	if !ok {
		panic(fmt.Sprintf("reference: no parameter %q", name))
	}
	return v
}

func (r *ref) row(name string, id int32) []float64 {
	d := r.cols[name]
	return r.param(name)[int(id)*d : int(id)*d+d]
}

// mean is the mean of the rows of table name, zeros for no ids.
func (r *ref) mean(name string, ids []int32) []float64 {
	out := make([]float64, r.cols[name])
	for _, id := range ids {
		for j, v := range r.row(name, id) {
			out[j] += v / float64(len(ids))
		}
	}
	return out
}

func refDot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// linear: b + wUser[u] + wItem[i] + mean wCat + mean wPos + mean wNeg;
// with an LR patch, b + shift + Σ_f (1 + scale[f]) term_f.
func (r *ref) linear(s *data.Sample) float64 {
	if sc, ok := r.p["patch.linear.scale"]; ok && r.cfg.Arch == ArchLR {
		terms := []float64{r.row("linear.user", s.User)[0], r.row("linear.item", s.Item)[0],
			r.mean("linear.category", s.Categories())[0], r.mean("linear.posHistory", s.PosHistory())[0],
			r.mean("linear.negHistory", s.NegHistory())[0]}
		z := r.param("linear.bias")[0] + r.param("patch.linear.shift")[0]
		for f, t := range terms {
			z += (1 + sc[f]) * t
		}
		return z
	}
	return r.param("linear.bias")[0] + r.row("linear.user", s.User)[0] + r.row("linear.item", s.Item)[0] +
		r.mean("linear.category", s.Categories())[0] + r.mean("linear.posHistory", s.PosHistory())[0] +
		r.mean("linear.negHistory", s.NegHistory())[0]
}

// fields: [eUser[u], eItem[i], mean eCat, mean eItem over pos, over neg].
func (r *ref) fields(s *data.Sample) [][]float64 {
	return [][]float64{
		r.row("embed.user", s.User), r.row("embed.item", s.Item), r.mean("embed.category", s.Categories()),
		r.mean("embed.item", s.PosHistory()), r.mean("embed.item", s.NegHistory()),
	}
}

// layer returns x·w (+ b, then relu, when hidden) for the weight
// name+".weight" and bias name+".bias".
func (r *ref) layer(name string, x []float64, hidden bool) []float64 {
	w, n := r.param(name+".weight"), r.cols[name+".weight"]
	if len(w) != len(x)*n {
		panic(fmt.Sprintf("reference: %s is %d values, want %d×%d", name, len(w), len(x), n))
	}
	out := make([]float64, n)
	for j := range n {
		for i, v := range x {
			out[j] += v * w[i*n+j]
		}
		if hidden {
			out[j] = math.Max(out[j]+r.param(name + ".bias")[j], 0)
		}
	}
	return out
}

// mlp: ReLU hidden layers of HiddenUnits, then one linear unit, no bias;
// with a patch, each hidden output h becomes h ⊙ (1 + scale) + shift.
func (r *ref) mlp(x []float64) float64 {
	L := len(r.cfg.HiddenUnits)
	for l := range L {
		x = r.layer(fmt.Sprintf("mlp.%d", l), x, true)
		if sc, ok := r.p[fmt.Sprintf("patch.mlp.%d.scale", l)]; ok {
			sh := r.param(fmt.Sprintf("patch.mlp.%d.shift", l))
			for j := range x {
				x[j] = x[j]*(1+sc[j]) + sh[j]
			}
		}
	}
	return r.layer(fmt.Sprintf("mlp.%d", L), x, false)[0]
}

// attend: (1/H) Σ_h a(e_h, e_c) e_h with a = relu(u·w1 + b1)·w2 + b2,
// u = [e_h, e_c, e_h - e_c, e_h ⊙ e_c], H = max(HistoryLen, 1).
func (r *ref) attend(name string, hist []int32, item int32) []float64 {
	ec := r.row("embed.item", item)
	out := make([]float64, len(ec))
	for _, h := range hist {
		eh := r.row("embed.item", h)
		var u []float64
		u = append(u, eh...)
		u = append(u, ec...)
		for j := range eh {
			u = append(u, eh[j]-ec[j])
		}
		for j := range eh {
			u = append(u, eh[j]*ec[j])
		}
		hid := r.layer(name+".0", u, true)
		a := refDot(hid, r.param(name+".1.weight")) + r.param(name + ".1.bias")[0]
		for j := range out {
			out[j] += a * eh[j] / float64(max(r.schema.HistoryLen, 1))
		}
	}
	return out
}

func concat(v [][]float64) []float64 {
	var out []float64
	for _, x := range v {
		out = append(out, x...)
	}
	return out
}

// logit is the model's logit for s.
func (r *ref) logit(s *data.Sample) float64 {
	switch r.cfg.Arch {
	case ArchLR:
		return r.linear(s)
	case ArchWideDeep:
		return r.linear(s) + r.mlp(concat(r.fields(s)))
	case ArchDeepFM:
		f := r.fields(s)
		fm := 0.0 // Σ_{f<g} <v_f, v_g>, equal to the documented 0.5*((Σv)² - Σv²)
		for a := range f {
			for b := a + 1; b < len(f); b++ {
				fm += refDot(f[a], f[b])
			}
		}
		return r.linear(s) + fm + r.mlp(concat(f))
	case ArchPNN:
		f := r.fields(s)
		x := concat(f)
		for a := range f {
			for b := a + 1; b < len(f); b++ {
				x = append(x, refDot(f[a], f[b]))
			}
		}
		return r.param("output.bias")[0] + r.mlp(x)
	case ArchDIN:
		f := r.fields(s)
		f[3] = r.attend("attention.pos", s.PosHistory(), s.Item)
		f[4] = r.attend("attention.neg", s.NegHistory(), s.Item)
		return r.linear(s) + r.mlp(concat(f))
	}
	panic("reference: unknown architecture " + r.cfg.Arch)
}

// loss is the mean of softplus(z) - y*z over batch.
func (r *ref) loss(batch []data.Sample, labels []float32) float64 {
	sum := 0.0
	for i := range batch {
		z := r.logit(&batch[i])
		sum += softplus(z) - float64(labels[i])*z
	}
	return sum / float64(len(batch))
}
