package model

import "github.com/lcft-dev/lcft-operator/trainer/optim"

// table is an embedding table of rows×dim float32 values, row-major, with
// sparse gradients and updates. In a replica (cow), data is the base's table,
// read-only, and written rows live in a private overlay.
type table struct {
	name      string
	rows, dim int
	std       float32 // initialisation standard deviation
	data      []float32

	// Optimizer state of a base model: stateLen*dim values per row and the
	// number of updates of each row.
	state []float32
	steps []int32

	// Copy-on-write overlay of a replica. slot[r] is -1 or the index k of
	// row r in ovRows; its values are ov[k*dim:(k+1)*dim], its optimizer
	// state ovState[k*stateLen*dim:...] and its update count ovSteps[k].
	cow     bool
	slot    []int32
	ovRows  []int32
	ov      []float32
	ovState []float32
	ovSteps []int32

	// Gradient of the current step. gslot[r] is -1 or the index k of row r
	// in touched; its gradient is grad[k*dim:(k+1)*dim].
	gslot   []int32
	touched []int32
	grad    []float32

	// mergeCount counts, per row of a base table, the replicas that wrote
	// the row during a Merge; it is all zeros between merges.
	mergeCount []int32
}

// row returns row r for reading.
func (t *table) row(r int32) []float32 {
	d := t.dim
	if t.cow {
		if k := t.slot[r]; k >= 0 {
			o := int(k) * d
			return t.ov[o : o+d : o+d]
		}
	}
	o := int(r) * d
	return t.data[o : o+d : o+d]
}

// at returns the value of row r of a 1-wide table.
func (t *table) at(r int32) float32 {
	if t.cow {
		if k := t.slot[r]; k >= 0 {
			return t.ov[k]
		}
	}
	return t.data[r]
}

// gradRow returns the gradient accumulator of row r, adding r to the step's
// touched rows (with a zero gradient) the first time. The returned slice is
// valid until the next call.
func (t *table) gradRow(r int32) []float32 {
	d := t.dim
	k := t.gslot[r]
	if k < 0 {
		k = int32(len(t.touched))
		t.gslot[r] = k
		t.touched = append(t.touched, r)
		t.grad = grow(t.grad, d)
	}
	o := int(k) * d
	return t.grad[o : o+d : o+d]
}

// prepare sizes the training buffers for stateLen state values per
// parameter, discarding any optimizer state.
func (t *table) prepare(stateLen int) {
	if t.gslot == nil {
		t.gslot = minusOnes(t.rows)
	}
	if t.cow {
		t.ovState = grow(t.ovState[:0], len(t.ovRows)*stateLen*t.dim)
		clear(t.ovSteps)
		return
	}
	t.state = make([]float32, t.rows*t.dim*stateLen)
	t.steps = make([]int32, t.rows)
}

// apply updates the touched rows with opt and clears the step's gradient.
func (t *table) apply(opt optim.Optimizer, stateLen int) {
	d := t.dim
	sd := stateLen * d
	for i, r := range t.touched {
		g := t.grad[i*d : i*d+d]
		var p, st []float32
		var step *int32
		if t.cow {
			k := t.slot[r]
			if k < 0 {
				k = t.overlay(r, sd)
			}
			o := int(k)
			p, st, step = t.ov[o*d:o*d+d], t.ovState[o*sd:o*sd+sd], &t.ovSteps[o]
		} else {
			o := int(r)
			p, st, step = t.data[o*d:o*d+d], t.state[o*sd:o*sd+sd], &t.steps[o]
		}
		*step++
		opt.Update(p, g, st, int(*step))
		t.gslot[r] = -1
	}
	t.touched = t.touched[:0]
	t.grad = t.grad[:0]
}

// overlay copies base row r into the overlay with zero optimizer state (sd
// values) and returns its overlay index.
func (t *table) overlay(r int32, sd int) int32 {
	k := int32(len(t.ovRows))
	t.ovRows = append(t.ovRows, r)
	o := int(r) * t.dim
	t.ov = append(t.ov, t.data[o:o+t.dim]...)
	t.ovState = grow(t.ovState, sd)
	t.ovSteps = append(t.ovSteps, 0)
	t.slot[r] = k
	return k
}

// discard clears the step's gradient without applying it.
func (t *table) discard() {
	for _, r := range t.touched {
		t.gslot[r] = -1
	}
	t.touched = t.touched[:0]
	t.grad = t.grad[:0]
}

// reset empties a replica's overlay, keeping its capacity.
func (t *table) reset() {
	t.discard()
	for _, r := range t.ovRows {
		t.slot[r] = -1
	}
	t.ovRows = t.ovRows[:0]
	t.ov = t.ov[:0]
	t.ovState = t.ovState[:0]
	t.ovSteps = t.ovSteps[:0]
}
