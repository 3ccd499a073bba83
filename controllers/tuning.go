package controllers

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Tuning is how much work the manager does at once and how fast it talks to
// the API server: the settings that matter with thousands of objects
// (make bench-controller measures them).
type Tuning struct {
	// MaxConcurrentReconciles is the number of workers of each controller.
	MaxConcurrentReconciles int
	// KubeAPIQPS limits the manager's requests per second on the client
	// side; negative: no client-side limit (the API server's priority and
	// fairness alone decide), controller-runtime's default.
	KubeAPIQPS float64
	// KubeAPIBurst is the burst above KubeAPIQPS, when that is positive.
	KubeAPIBurst int
	// PprofBindAddress serves net/http/pprof; empty or "0": off.
	PprofBindAddress string
}

// DefaultTuning is the manager's tuning when no flag is given.
func DefaultTuning() Tuning {
	return Tuning{MaxConcurrentReconciles: 4, KubeAPIQPS: -1, KubeAPIBurst: 100}
}

// Validate checks the values the manager's flags gave.
func (t Tuning) Validate() error {
	var errs []error
	if t.MaxConcurrentReconciles < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-reconciles=%d: want at least 1", t.MaxConcurrentReconciles))
	}
	if t.KubeAPIQPS == 0 {
		errs = append(errs, errors.New("--kube-api-qps=0: want a positive rate, or a negative one for no client-side limit"))
	}
	if t.KubeAPIQPS > 0 && t.KubeAPIBurst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-burst=%d: want at least 1 with --kube-api-qps=%g", t.KubeAPIBurst, t.KubeAPIQPS))
	}
	return errors.Join(errs...)
}

// Apply sets the client rate of cfg and the controllers' concurrency and the
// pprof endpoint of opts.
func (t Tuning) Apply(cfg *rest.Config, opts *ctrl.Options) {
	cfg.QPS, cfg.Burst = float32(t.KubeAPIQPS), 0
	if t.KubeAPIQPS > 0 {
		cfg.Burst = t.KubeAPIBurst
	}
	opts.Controller.MaxConcurrentReconciles = t.MaxConcurrentReconciles
	opts.PprofBindAddress = t.PprofBindAddress
}
