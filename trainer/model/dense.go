package model

import "github.com/lcft-dev/lcft-operator/trainer/optim"

// dense is a dense parameter of rows×cols float32 values, row-major, with a
// dense gradient. A replica holds a private copy of its base's values.
type dense struct {
	name       string
	rows, cols int
	std        float32 // initialisation standard deviation
	mean       float32 // initialisation mean
	data, grad []float32
	state      []float32 // optimizer state, stateLen*len(data) values
	steps      int       // number of updates applied

	base  *dense // the base's parameter, for a replica
	dirty bool   // data differs from base.data
	// frozen parameters of a replica are not updated (see
	// Replica.FreezeDense); layers may skip their gradients.
	frozen bool
}

// apply updates the parameter with opt, unless it is frozen.
func (d *dense) apply(opt optim.Optimizer) {
	if d.frozen {
		return
	}
	d.steps++
	opt.Update(d.data, d.grad, d.state, d.steps)
	d.dirty = true
}

// reset restores a replica's values from its base and zeroes the optimizer
// state.
func (d *dense) reset() {
	if d.dirty {
		copy(d.data, d.base.data)
		d.dirty = false
	}
	clear(d.state)
	d.steps = 0
}
