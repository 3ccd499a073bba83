package model

import (
	"errors"
	"fmt"
)

// Replica is a copy-on-write copy of a base model for fine-tuning. It reads
// the base's embedding tables in place and keeps a private overlay of the
// rows it has updated (memory proportional to what it touched), private
// copies of the dense parameters (the MLP, DIN's activation units) and its
// own optimizer state, which starts empty: fine-tuning does not continue
// the base's optimizer moments. Training a replica never changes its base.
//
// Fork allocates, per table, two int32 arrays with one entry per row (4
// bytes × 2 × rows: about 3 MB for Wide&Deep on MovieLens-20M), so use one
// replica per worker goroutine and Reset it between users rather than one
// replica per user. The base must not be trained while its replicas are in
// use; a replica whose base was trained since Fork or Reset returns an error
// until Reset.
//
// The embedded *Model gives a replica Predict (which sees the overlay),
// TrainStep, Save (which writes the merged parameters, a full model) and the
// accessors.
type Replica struct {
	*Model
}

// Fork returns a new replica of m. m must be a base model.
func (m *Model) Fork() (*Replica, error) {
	if m.base != nil {
		return nil, errors.New("model: fork: cannot fork a replica; fork its base")
	}
	p := &params{base: m.p}
	net := archs[m.cfg.Arch].build(p, m.cfg, m.schema)
	if p.err != nil {
		return nil, fmt.Errorf("model: fork: %w", p.err)
	}
	for _, t := range p.tables {
		t.slot = minusOnes(t.rows)
	}
	r := &Model{
		cfg:    m.cfg,
		schema: m.schema,
		p:      p,
		net:    net,
		pool:   m.pool,
		base:   m,
		forked: m.version,
	}
	return &Replica{Model: r}, nil
}

// Reset returns the replica to its base's current parameters and empties
// its optimizer state, in time proportional to the rows it overlaid plus
// the dense parameters. It keeps its buffers, so a reused replica allocates
// nothing once it has served its largest user.
func (r *Replica) Reset() {
	stale := r.forked != r.base.version
	r.p.reset(stale)
	r.forked = r.base.version
}

// Base returns the replica's base model.
func (r *Replica) Base() *Model { return r.base }

// OverlayRows returns the number of embedding rows (over all tables) the
// replica has written since Fork or Reset.
func (r *Replica) OverlayRows() int {
	n := 0
	for _, t := range r.p.tables {
		n += len(t.ovRows)
	}
	return n
}

// FreezeDense freezes (or thaws) the replica's dense parameters: the MLP,
// biases, DIN's activation units. Training a frozen replica updates only
// the embedding and wide rows its batches touch (the paper's "sparse
// model update"), skips the MLP's weight gradients, and leaves a Delta of
// those rows alone. It keeps through Reset; freezing discards nothing the
// replica has already learned until Reset.
func (r *Replica) FreezeDense(frozen bool) {
	for _, d := range r.p.denses {
		d.frozen = frozen
	}
}
