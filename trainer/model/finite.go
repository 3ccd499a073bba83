package model

import (
	"errors"
	"fmt"
)

// ErrNonFinite is wrapped by CheckFinite's errors: a parameter is NaN or
// infinite, as after a diverged training run.
var ErrNonFinite = errors.New("non-finite parameter")

// CheckFinite returns an error wrapping ErrNonFinite that names the first
// NaN or infinite parameter value, or nil when every value is finite.
//
// A base model checks all its parameters. A replica checks what it owns:
// the embedding rows it has overlaid since Fork or Reset and its dense
// parameters (the rows it never wrote are its base's, which Load refuses
// when not finite and training keeps finite or reports). The replica's
// check costs time proportional to what it touched plus the dense
// parameters, so it can run after every user's fine-tuning.
//
// Training can overflow float32 without a non-finite loss being seen yet
// (an embedding row of an item outside the last batch, a gradient that
// overflowed in the last step), and Load refuses such a model; checking
// the parameters after training catches both.
func (m *Model) CheckFinite() error {
	for _, t := range m.p.tables {
		if t.cow {
			for k, r := range t.ovRows {
				if i, v, bad := firstNonFinite(t.ov[k*t.dim : (k+1)*t.dim]); bad {
					return fmt.Errorf("%w: table %q row %d value %d is %v", ErrNonFinite, t.name, r, i, v)
				}
			}
			continue
		}
		if i, v, bad := firstNonFinite(t.data); bad {
			return fmt.Errorf("%w: table %q row %d value %d is %v", ErrNonFinite, t.name, i/t.dim, i%t.dim, v)
		}
	}
	for _, d := range append(m.p.denses[:len(m.p.denses):len(m.p.denses)], m.p.patch...) {
		if i, v, bad := firstNonFinite(d.data); bad {
			return fmt.Errorf("%w: parameter %q [%d, %d] is %v", ErrNonFinite, d.name, i/d.cols, i%d.cols, v)
		}
	}
	return nil
}

// firstNonFinite returns the index and value of the first NaN or infinite
// value of v.
func firstNonFinite(v []float32) (int, float32, bool) {
	for i, f := range v {
		// f-f is 0 for finite f, NaN for NaN and ±Inf: one comparison
		// covers both cases.
		if f-f != 0 {
			return i, f, true
		}
	}
	return 0, 0, false
}
