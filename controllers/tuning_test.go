package controllers

import (
	"flag"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

func TestTuningFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    Tuning
		wantErr bool
	}{
		{name: "defaults", want: Tuning{MaxConcurrentReconciles: 4, KubeAPIQPS: -1, KubeAPIBurst: 100}},
		{
			name: "all set",
			args: []string{"--max-concurrent-reconciles=16", "--kube-api-qps=200", "--kube-api-burst=400", "--pprof-bind-address=127.0.0.1:8082"},
			want: Tuning{MaxConcurrentReconciles: 16, KubeAPIQPS: 200, KubeAPIBurst: 400, PprofBindAddress: "127.0.0.1:8082"},
		},
		{name: "no workers", args: []string{"--max-concurrent-reconciles=0"}, want: Tuning{KubeAPIQPS: -1, KubeAPIBurst: 100}, wantErr: true},
		{name: "zero qps", args: []string{"--kube-api-qps=0"}, want: Tuning{MaxConcurrentReconciles: 4, KubeAPIBurst: 100}, wantErr: true},
		{name: "qps without burst", args: []string{"--kube-api-qps=50", "--kube-api-burst=0"}, want: Tuning{MaxConcurrentReconciles: 4, KubeAPIQPS: 50}, wantErr: true},
		{name: "burst ignored without a limit", args: []string{"--kube-api-burst=0"}, want: Tuning{MaxConcurrentReconciles: 4, KubeAPIQPS: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DefaultTuning()
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			got.BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("parsing %v: %v", tc.args, err)
			}
			if err := got.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %t", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tuning (-want +got):\n%s", diff)
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
