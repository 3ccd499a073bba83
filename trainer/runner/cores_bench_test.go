package runner

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// coresDataset is the data of the core-scaling benchmarks: 600 synthetic
// users with 80 samples each, in the shape of the PyTorch comparison
// (Wide&Deep, embeddings of 8, MLP 200-80, SGD, batch 32).
func coresDataset() runspec.Dataset { return synthDataset(600, 80, 0.8, 21) }

func coresPretrainSpec(out string) *runspec.Spec {
	s := pretrainSpec(coresDataset(), "WideDeep", out, 21)
	s.Model.HiddenUnits = []int{200, 80}
	s.Optimization.Epochs = 1
	return s
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkPretrainWorkers: one pretraining epoch (data loading and the
// Cloud AUC included) with 1 and 2 data-parallel workers; run with -cpu 2.
func BenchmarkPretrainWorkers(b *testing.B) {
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers%d", w), func(b *testing.B) {
			var samples int64
			cpu0 := processCPU(b)
			for i := 0; b.Loop(); i++ {
				spec := coresPretrainSpec(fmt.Sprintf("mem://bench-pretrain/w%d/%d", w, i))
				sum, err := run(context.Background(), spec, 0, nil, options{workers: 1, resamples: 10, pretrainWorkers: w})
				if err != nil {
					b.Fatal(err)
				}
				samples = sum.Pretrain.Samples
			}
			b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkPerUserWorkers: per-user fine-tuning of the 600 users (one epoch
// each, with their evaluation) on 1 and 2 worker goroutines; run with -cpu 2.
func BenchmarkPerUserWorkers(b *testing.B) {
	p, err := run(context.Background(), coresPretrainSpec("mem://bench-peruser/model"), 0, nil, options{workers: 1, resamples: 10})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers%d", w), func(b *testing.B) {
			var users int64
			cpu0 := processCPU(b)
			for i := 0; b.Loop(); i++ {
				spec := finetuneSpec(coresDataset(), p.Pretrain, "Auto", ModePerUser, fmt.Sprintf("mem://bench-peruser/w%d/%d", w, i), 0.01, 1, 21)
				sum, err := run(context.Background(), spec, 0, nil, options{workers: w, resamples: 10})
				if err != nil {
					b.Fatal(err)
				}
				users = sum.Finetune.Users
			}
			b.ReportMetric(float64(users)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
