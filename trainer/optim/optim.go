// Package optim holds the optimizers that turn gradients into parameter
// updates: plain SGD with per-epoch learning-rate decay, and Adam.
//
// An Optimizer holds hyper-parameters only. Its mutable state (Adam's
// moments) lives in buffers owned by whoever owns the parameters (a model or
// a model replica), so that state is private to each replica, is sparse for
// embedding tables and is discarded together with the replica's changes.
// The same Update method serves dense parameters (a whole weight matrix) and
// sparse ones (one embedding row at a time).
//
// Update and StateLen only read an optimizer's fields, so one optimizer may
// serve several goroutines as long as nobody calls SetEpoch meanwhile. A
// runner whose workers are at different epochs uses one optimizer per worker
// (SGD is a few words; Adam adds bias-correction tables of about 70 KB with
// the default betas).
package optim

import (
	"fmt"
	"math"
)

// Optimizer updates parameters in place from their gradients.
type Optimizer interface {
	// StateLen is the number of float32 state values the optimizer keeps
	// per parameter: 0 for SGD, 2 for Adam.
	StateLen() int

	// SetEpoch sets the 0-based epoch used by the learning-rate schedule:
	// the learning rate is lr * decay^epoch.
	SetEpoch(epoch int)

	// LearningRate is the learning rate of the current epoch.
	LearningRate() float32

	// Update applies one step to param, which has the same length n as grad.
	// state holds StateLen()*n values laid out as StateLen() consecutive
	// blocks of n values; the caller zeroes it before the first update and
	// keeps it between updates. step is the 1-based number of updates
	// applied to these parameters, this one included; an embedding row
	// counts only the steps in which it was in the batch, which makes Adam
	// "lazy" (see Adam).
	//
	// Update panics if the lengths do not match: they are fixed by the
	// caller's parameter shapes, never by input data.
	Update(param, grad, state []float32, step int)
}

// schedule is the learning-rate schedule shared by the optimizers:
// lr * decay^epoch, with epoch counted from 0.
type schedule struct {
	lr    float32 // learning rate at epoch 0
	decay float32 // multiplicative factor applied per epoch
	epoch int
	cur   float32 // lr * decay^epoch
}

func newSchedule(lr, decay float32) (schedule, error) {
	if !(lr > 0) || math.IsInf(float64(lr), 0) {
		return schedule{}, fmt.Errorf("learning rate must be positive and finite, got %v", lr)
	}
	if !(decay > 0) || math.IsInf(float64(decay), 0) {
		return schedule{}, fmt.Errorf("learning-rate decay must be positive and finite (1 for none), got %v", decay)
	}
	return schedule{lr: lr, decay: decay, cur: lr}, nil
}

func (s *schedule) SetEpoch(epoch int) {
	if epoch < 0 {
		epoch = 0
	}
	s.epoch = epoch
	s.cur = float32(float64(s.lr) * math.Pow(float64(s.decay), float64(epoch)))
}

func (s *schedule) LearningRate() float32 { return s.cur }
