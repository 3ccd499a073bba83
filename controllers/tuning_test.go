package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

func TestTuningValidate(t *testing.T) {
	cases := []struct {
		name    string
		change  func(*Tuning)
		wantErr bool
	}{
		{name: "defaults", change: func(*Tuning) {}},
		{name: "limited", change: func(t *Tuning) { t.KubeAPIQPS, t.KubeAPIBurst = 200, 400 }},
		{name: "burst unused without a limit", change: func(t *Tuning) { t.KubeAPIBurst = 0 }},
		{name: "no workers", change: func(t *Tuning) { t.MaxConcurrentReconciles = 0 }, wantErr: true},
		{name: "zero rate", change: func(t *Tuning) { t.KubeAPIQPS = 0 }, wantErr: true},
		{name: "rate without burst", change: func(t *Tuning) { t.KubeAPIQPS, t.KubeAPIBurst = 50, 0 }, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tuning := DefaultTuning()
			tc.change(&tuning)
			if err := tuning.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %t", err, tc.wantErr)
			}
		})
	}
}

func TestTuningApply(t *testing.T) {
	type applied struct {
		QPS     float32
		Burst   int
		Workers int
		Pprof   string
	}
	cases := []struct {
		name   string
		tuning Tuning
		want   applied
	}{
		{name: "defaults: no client-side limit", tuning: DefaultTuning(), want: applied{QPS: -1, Burst: 0, Workers: 4}},
		{name: "limited", tuning: Tuning{MaxConcurrentReconciles: 8, KubeAPIQPS: 50, KubeAPIBurst: 75, PprofBindAddress: ":8082"}, want: applied{QPS: 50, Burst: 75, Workers: 8, Pprof: ":8082"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &rest.Config{QPS: 5, Burst: 10}
			var opts ctrl.Options
			tc.tuning.Apply(cfg, &opts)
			got := applied{QPS: cfg.QPS, Burst: cfg.Burst, Workers: opts.Controller.MaxConcurrentReconciles, Pprof: opts.PprofBindAddress}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
		})
	}
}
