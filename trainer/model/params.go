package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

// params is the parameter set of a model or a replica: embedding tables
// (sparse updates) and dense parameters, in declaration order (which is also
// the artifact order).
type params struct {
	tables []*table
	denses []*dense
	// patch holds a replica's patch vectors (patch.go): trained like dense
	// parameters, but neither in artifacts nor in a Delta's Dense.
	patch []*dense

	// base is the base model's parameter set when this set belongs to a
	// replica; nil otherwise.
	base *params
	// err records a declaration that does not match base (a bug).
	err error

	// stateLen is the optimizer state per parameter the buffers are sized
	// for; trainReady reports whether training buffers exist.
	stateLen   int
	trainReady bool
}

// table declares an embedding table of rows×dim values initialised from
// N(0, std²) (zeros when std is 0). In a replica it returns a copy-on-write
// view of the base's table declared at the same position.
func (p *params) table(name string, rows, dim int, std float32) *table {
	t := &table{name: name, rows: rows, dim: dim, std: std}
	if p.base != nil {
		i := len(p.tables)
		if i >= len(p.base.tables) || p.base.tables[i].name != name ||
			p.base.tables[i].rows != rows || p.base.tables[i].dim != dim {
			p.err = fmt.Errorf("model: replica table %q does not match its base", name)
		} else {
			t.data = p.base.tables[i].data
			t.cow = true
		}
	}
	p.tables = append(p.tables, t)
	return t
}

// dense declares a dense parameter of rows×cols values, row-major,
// initialised from N(0, std²) (zeros when std is 0). In a replica it returns
// a private copy of the base's parameter declared at the same position.
func (p *params) dense(name string, rows, cols int, std float32) *dense {
	d := &dense{name: name, rows: rows, cols: cols, std: std}
	if p.base != nil {
		i := len(p.denses)
		if i >= len(p.base.denses) || p.base.denses[i].name != name ||
			p.base.denses[i].rows != rows || p.base.denses[i].cols != cols {
			p.err = fmt.Errorf("model: replica parameter %q does not match its base", name)
		} else {
			d.base = p.base.denses[i]
			d.data = append([]float32(nil), d.base.data...)
			d.grad = make([]float32, len(d.data))
		}
	}
	p.denses = append(p.denses, d)
	return d
}

// constant declares a dense parameter of rows×cols values initialised to v.
func (p *params) constant(name string, rows, cols int, v float32) *dense {
	d := p.dense(name, rows, cols, 0)
	d.mean = v
	return d
}

// initialise allocates and initialises the parameters of a base model.
func (p *params) initialise(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6c6366742d6d646c)) // "lcft-mdl"
	fill := func(v []float32, std float32) {
		if std == 0 {
			return
		}
		for i := range v {
			v[i] = std * float32(rng.NormFloat64())
		}
	}
	for _, t := range p.tables {
		t.data = make([]float32, t.rows*t.dim)
		fill(t.data, t.std)
	}
	for _, d := range p.denses {
		d.data = make([]float32, d.rows*d.cols)
		d.grad = make([]float32, len(d.data))
		fill(d.data, d.std)
		for i := range d.data {
			d.data[i] += d.mean
		}
	}
}

// count returns the number of parameters.
func (p *params) count() int {
	n := 0
	for _, t := range p.tables {
		n += t.rows * t.dim
	}
	for _, d := range p.denses {
		n += d.rows * d.cols
	}
	return n
}

// prepare makes the training buffers ready for an optimizer keeping
// stateLen values per parameter. Changing stateLen discards optimizer state.
func (p *params) prepare(stateLen int) {
	if p.trainReady && p.stateLen == stateLen {
		return
	}
	for _, t := range p.tables {
		t.prepare(stateLen)
	}
	for _, d := range append(p.denses[:len(p.denses):len(p.denses)], p.patch...) {
		d.state = make([]float32, len(d.data)*stateLen)
		d.steps = 0
	}
	p.stateLen = stateLen
	p.trainReady = true
}

// zeroGrad clears the dense gradients before a backward pass.
func (p *params) zeroGrad() {
	for _, d := range p.denses {
		clear(d.grad)
	}
	for _, d := range p.patch {
		clear(d.grad)
	}
}

// apply runs the optimizer on the touched rows of every table and on every
// dense parameter, and clears the step's sparse gradients.
func (p *params) apply(opt optim.Optimizer) {
	for _, t := range p.tables {
		t.apply(opt, p.stateLen)
	}
	for _, d := range p.denses {
		d.apply(opt)
	}
	for _, d := range p.patch {
		d.apply(opt)
	}
}

// discard drops the step's sparse gradients without applying them.
func (p *params) discard() {
	for _, t := range p.tables {
		t.discard()
	}
}

// reset returns a replica's parameters and optimizer state to the base;
// stale forces a copy of every dense parameter (the base has changed).
func (p *params) reset(stale bool) {
	for _, t := range p.tables {
		t.reset()
	}
	for _, d := range p.denses {
		d.dirty = d.dirty || stale
		d.reset()
	}
	p.resetPatch()
}

// grow extends s by n zeros, reusing capacity when it can.
func grow(s []float32, n int) []float32 {
	l := len(s)
	if cap(s)-l >= n {
		s = s[:l+n]
		clear(s[l:])
		return s
	}
	return append(s, make([]float32, n)...)
}

// minusOnes returns n int32 values set to -1.
func minusOnes(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = -1
	}
	return s
}
