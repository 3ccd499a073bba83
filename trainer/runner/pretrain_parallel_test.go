package runner

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// TestPretrainWorkers: data-parallel pretraining is deterministic for a
// worker count and reaches the serial loop's Cloud AUC within 0.02 on the
// synthetic data (measured: see the log with -v).
func TestPretrainWorkers(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(300, 40, 0.8, 11)
	auc := map[int]float64{}
	for _, workers := range []int{1, 2, 4, 2} {
		spec := pretrainSpec(ds, "WideDeep", fmt.Sprintf("mem://pretrain-workers/w%d", workers), 11)
		sum, err := run(ctx, spec, 0, testLog(t), options{workers: 1, resamples: 10, pretrainWorkers: workers})
		if err != nil {
			t.Fatal(err)
		}
		got := sum.Pretrain.CloudAUC
		t.Logf("pretraining workers %d: Cloud AUC %.4f", workers, got)
		if prev, ok := auc[workers]; ok && prev != got {
			t.Errorf("workers %d: AUC %v, then %v: not deterministic", workers, prev, got)
		}
		auc[workers] = got
	}
	if !(auc[1] > 0.6) {
		t.Fatalf("serial Cloud AUC %v: the data carry no signal, the comparison means nothing", auc[1])
	}
	for _, w := range []int{2, 4} {
		if d := math.Abs(auc[w] - auc[1]); d > 0.02 {
			t.Errorf("workers %d: Cloud AUC %.4f, serial %.4f (|Δ| %.4f > 0.02)", w, auc[w], auc[1], d)
		}
	}
}

func TestPretrainWorkersFromEnv(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int
		wantErr bool
	}{{"", 1, false}, {"3", 3, false}, {"0", 0, true}, {"-2", 0, true}, {"x", 0, true}} {
		got, err := pretrainWorkersFromEnv(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("pretrainWorkersFromEnv(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if got, err := pretrainWorkersFromEnv("auto"); err != nil || got < 1 {
		t.Errorf("auto: %d, %v", got, err)
	}
}
