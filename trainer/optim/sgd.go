package optim

import (
	"fmt"

	"github.com/lcft-dev/lcft-operator/trainer/kernels"
)

// SGD is plain stochastic gradient descent:
//
//	param -= lr * decay^epoch * grad
//
// It keeps no state. The paper's cloud training uses lr 1.0 and decay 0.1
// (epoch 0 at 1.0, epoch 1 at 0.1); its fine-tuning uses lr 0.01, decay 1.
type SGD struct {
	schedule
}

// NewSGD returns an SGD optimizer with learning rate lr at epoch 0 and a
// multiplicative per-epoch decay (1 for a constant rate).
func NewSGD(lr, decay float32) (*SGD, error) {
	s, err := newSchedule(lr, decay)
	if err != nil {
		return nil, fmt.Errorf("optim: SGD: %w", err)
	}
	return &SGD{schedule: s}, nil
}

// StateLen returns 0: SGD keeps no state.
func (*SGD) StateLen() int { return 0 }

// Update applies param -= lr*grad. state and step are unused.
func (o *SGD) Update(param, grad, _ []float32, _ int) {
	kernels.Axpy(-o.cur, grad, param)
}
