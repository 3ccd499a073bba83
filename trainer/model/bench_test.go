package model

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

// benchSchema is about MovieLens-small sized.
var benchSchema = data.Schema{NumUsers: 1000, NumItems: 10000, NumCategories: 20, HistoryLen: 20}

var benchWideDeep = benchConfig(ArchWideDeep)

// benchConfig is the benchmarks' configuration of a deep architecture.
func benchConfig(arch string) Config {
	return Config{Arch: arch, EmbeddingDim: 16, HiddenUnits: []int{64, 32}, Seed: 1}
}

func benchTrain(b *testing.B, cfg Config, opt optim.Optimizer) {
	m := mustNew(b, cfg, benchSchema)
	batch := randomSamples(rand.New(rand.NewPCG(1, 2)), benchSchema, 32*64)
	y := labelsOf(batch)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		lo := (i % 64) * 32
		if _, err := m.TrainStep(batch[lo:lo+32], y[lo:lo+32], opt); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkTrainStepWideDeep(b *testing.B) { benchTrain(b, benchWideDeep, mustSGD(b, 0.1)) }

func BenchmarkTrainStepWideDeepAdam(b *testing.B) {
	benchTrain(b, benchWideDeep, mustAdam(b, 0.001))
}

func BenchmarkTrainStepLR(b *testing.B) { benchTrain(b, Config{Arch: ArchLR}, mustSGD(b, 0.1)) }

func BenchmarkTrainStepDeepFM(b *testing.B) {
	benchTrain(b, benchConfig(ArchDeepFM), mustSGD(b, 0.1))
}

func BenchmarkTrainStepPNN(b *testing.B) { benchTrain(b, benchConfig(ArchPNN), mustSGD(b, 0.1)) }

func BenchmarkTrainStepDIN(b *testing.B) { benchTrain(b, benchConfig(ArchDIN), mustSGD(b, 0.1)) }

func benchPredict(b *testing.B, cfg Config) {
	m := mustNew(b, cfg, benchSchema)
	batch := randomSamples(rand.New(rand.NewPCG(1, 2)), benchSchema, 1024)
	z := make([]float32, len(batch))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Predict(batch, z); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch)*b.N)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkPredictWideDeep(b *testing.B) { benchPredict(b, benchWideDeep) }

func BenchmarkPredictLR(b *testing.B) { benchPredict(b, Config{Arch: ArchLR}) }

func BenchmarkPredictDeepFM(b *testing.B) { benchPredict(b, benchConfig(ArchDeepFM)) }

func BenchmarkPredictPNN(b *testing.B) { benchPredict(b, benchConfig(ArchPNN)) }

func BenchmarkPredictDIN(b *testing.B) { benchPredict(b, benchConfig(ArchDIN)) }

// userSamples returns n samples of one user.
func userSamples(n int) ([]data.Sample, []float32) {
	s := randomSamples(rand.New(rand.NewPCG(3, 4)), benchSchema, n)
	for i := range s {
		s[i].User = 7
	}
	return s, labelsOf(s)
}

// BenchmarkFineTuneUser: one user's per-user fine-tuning on a reused
// replica: Reset, one epoch over 128 samples in batches of 32 with Adam,
// predictions on 32 test samples.
func BenchmarkFineTuneUser(b *testing.B) {
	benchFineTuneUser(b, benchWideDeep, mustAdam(b, 0.001))
}

// benchFineTuneUser fine-tunes one user per iteration as described above
// with cfg and opt, reporting users/s and the CPU time per user.
func benchFineTuneUser(b *testing.B, cfg Config, opt optim.Optimizer) {
	benchFineTuneUserWith(b, cfg, opt, func(*Replica) {})
}

// benchFineTuneUserWith is benchFineTuneUser on a replica set up by scope.
func benchFineTuneUserWith(b *testing.B, cfg Config, opt optim.Optimizer, scope func(*Replica)) {
	m := mustNew(b, cfg, benchSchema)
	r, err := m.Fork()
	if err != nil {
		b.Fatal(err)
	}
	scope(r)
	s, y := userSamples(160)
	z := make([]float32, 32)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		r.Reset()
		for lo := 0; lo < 128; lo += 32 {
			if _, err := r.TrainStep(s[lo:lo+32], y[lo:lo+32], opt); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.Predict(s[128:], z); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkFineTuneUserPatch: BenchmarkFineTuneUser in Patch scope (the
// backbone frozen, the FiLM patch alone trained).
func BenchmarkFineTuneUserPatch(b *testing.B) {
	benchFineTuneUserWith(b, benchWideDeep, mustAdam(b, 0.001), func(r *Replica) { r.UsePatch(true) })
}

// BenchmarkReplicaReset: Reset alone, after fine-tuning on 128 samples as
// above. ns/op includes the fine-tuning; reset-ns/op is the Reset alone.
func BenchmarkReplicaReset(b *testing.B) {
	m := mustNew(b, benchWideDeep, benchSchema)
	r, err := m.Fork()
	if err != nil {
		b.Fatal(err)
	}
	opt := mustAdam(b, 0.001)
	s, y := userSamples(128)
	rows := 0
	var reset time.Duration
	b.ReportAllocs()
	for b.Loop() {
		for lo := 0; lo < 128; lo += 32 {
			if _, err := r.TrainStep(s[lo:lo+32], y[lo:lo+32], opt); err != nil {
				b.Fatal(err)
			}
		}
		rows = r.OverlayRows()
		t0 := time.Now()
		r.Reset()
		reset += time.Since(t0)
	}
	b.ReportMetric(float64(reset.Nanoseconds())/float64(b.N), "reset-ns/op")
	b.ReportMetric(float64(rows), "rows/reset")
}

// BenchmarkFork: the one-off cost of a worker's replica.
func BenchmarkFork(b *testing.B) {
	m := mustNew(b, benchWideDeep, benchSchema)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Fork(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFineTuneUserFreshFork is BenchmarkFineTuneUser's peer: the same
// fine-tuning, but each user gets a new replica (Fork) instead of a Reset of
// a reused one. hack/bench.sh reports the ratio of the two.
func BenchmarkFineTuneUserFreshFork(b *testing.B) {
	m := mustNew(b, benchWideDeep, benchSchema)
	opt := mustAdam(b, 0.001)
	s, y := userSamples(160)
	z := make([]float32, 32)
	b.ReportAllocs()
	for b.Loop() {
		r, err := m.Fork()
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < 128; lo += 32 {
			if _, err := r.TrainStep(s[lo:lo+32], y[lo:lo+32], opt); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.Predict(s[128:], z); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

// peerShape is the configuration of the comparison with PyTorch (issue 12):
// Wide&Deep, embeddings of 8, MLP 200-80, trained with SGD at lr 0.01.
var peerShape = Config{Arch: ArchWideDeep, EmbeddingDim: 8, HiddenUnits: []int{200, 80}, Seed: 1}

// BenchmarkFineTuneUserSGD: BenchmarkFineTuneUser in the peer's shape, with
// SGD. LCFT_KERNELS=generic measures the pure-Go kernels.
func BenchmarkFineTuneUserSGD(b *testing.B) { benchFineTuneUser(b, peerShape, mustSGD(b, 0.01)) }

// BenchmarkTrainStepSGD: a training step in the peer's shape at batch 32
// and 1024.
func BenchmarkTrainStepSGD(b *testing.B) {
	for _, n := range []int{32, 1024} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) {
			m := mustNew(b, peerShape, benchSchema)
			opt := mustSGD(b, 0.01)
			batch := randomSamples(rand.New(rand.NewPCG(1, 2)), benchSchema, 4*n)
			y := labelsOf(batch)
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			i := 0
			for b.Loop() {
				lo := (i % 4) * n
				if _, err := m.TrainStep(batch[lo:lo+n], y[lo:lo+n], opt); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the user and system CPU time of the process so far, in
// nanoseconds: on a shared machine it is steadier than the wall time.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
