package optim

import (
	"fmt"
	"math"
)

// Adam is the Adam optimizer (Kingma and Ba), lazy for embedding rows:
//
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	param -= lr*decay^epoch * (m/(1-beta1^t)) / (sqrt(v/(1-beta2^t)) + eps)
//
// where t is the step count the caller passes to Update. Callers keep one t
// per dense parameter group and one t per embedding row, counting only the
// steps in which the row was in the batch. So a row's moments move only when
// the row is touched (like TensorFlow's LazyAdam), and its bias correction
// uses its own update count rather than the global step (unlike LazyAdam),
// which keeps the first update of a rarely seen row at full size.
//
// State layout per parameter block of n values: m in state[:n], v in
// state[n:2n].
type Adam struct {
	schedule
	beta1, beta2, eps float32
	c1, c2            []float32 // c1[t] = 1-beta1^t, c2[t] = 1-beta2^t for small t
}

// AdamConfig holds Adam's hyper-parameters.
type AdamConfig struct {
	LR      float32 // learning rate at epoch 0
	Beta1   float32 // first-moment decay, in [0, 1)
	Beta2   float32 // second-moment decay, in [0, 1)
	Epsilon float32 // added to sqrt(v), > 0
	Decay   float32 // multiplicative learning-rate decay per epoch, 1 for none
}

// DefaultAdamConfig returns the paper's settings: lr 0.001, beta1 0.9,
// beta2 0.999, epsilon 1e-8, no decay.
func DefaultAdamConfig() AdamConfig {
	return AdamConfig{LR: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Decay: 1}
}

// maxCorrectionTable caps the precomputed bias-correction tables.
const maxCorrectionTable = 1 << 16

// NewAdam returns an Adam optimizer.
func NewAdam(c AdamConfig) (*Adam, error) {
	s, err := newSchedule(c.LR, c.Decay)
	if err != nil {
		return nil, fmt.Errorf("optim: Adam: %w", err)
	}
	for _, b := range []struct {
		name string
		v    float32
	}{{"beta1", c.Beta1}, {"beta2", c.Beta2}} {
		if !(b.v >= 0 && b.v < 1) {
			return nil, fmt.Errorf("optim: Adam: %s must be in [0, 1), got %v", b.name, b.v)
		}
	}
	if !(c.Epsilon > 0) || math.IsInf(float64(c.Epsilon), 0) {
		return nil, fmt.Errorf("optim: Adam: epsilon must be positive and finite, got %v", c.Epsilon)
	}
	return &Adam{
		schedule: s,
		beta1:    c.Beta1,
		beta2:    c.Beta2,
		eps:      c.Epsilon,
		c1:       corrections(c.Beta1),
		c2:       corrections(c.Beta2),
	}, nil
}

// corrections returns 1-beta^t for t = 0, 1, ... up to the first t where it
// rounds to 1 in float32 (or maxCorrectionTable); later t use 1.
func corrections(beta float32) []float32 {
	c := []float32{0}
	p := 1.0
	for t := 1; t < maxCorrectionTable; t++ {
		p *= float64(beta)
		v := float32(1 - p)
		c = append(c, v)
		if v == 1 {
			break
		}
	}
	return c
}

func correction(table []float32, beta float32, t int) float32 {
	if t < len(table) {
		return table[t]
	}
	if table[len(table)-1] == 1 {
		return 1
	}
	return float32(1 - math.Pow(float64(beta), float64(t)))
}

// StateLen returns 2: the first and second moments.
func (*Adam) StateLen() int { return 2 }

// Update applies one Adam step; see Adam. step must be >= 1.
func (o *Adam) Update(param, grad, state []float32, step int) {
	n := len(param)
	grad = grad[:n]
	m := state[:n]
	v := state[n : 2*n]
	if step < 1 {
		step = 1
	}
	c1 := correction(o.c1, o.beta1, step)
	c2 := correction(o.c2, o.beta2, step)
	b1, b2 := o.beta1, o.beta2
	lr, eps := o.cur, o.eps
	for i, g := range grad {
		mi := b1*m[i] + (1-b1)*g
		vi := b2*v[i] + (1-b2)*g*g
		m[i], v[i] = mi, vi
		param[i] -= lr * (mi / c1) / (float32(math.Sqrt(float64(vi/c2))) + eps)
	}
}
