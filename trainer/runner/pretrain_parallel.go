package runner

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// EnvPretrainWorkers names the environment variable with the number of
// data-parallel pretraining workers: a positive integer, or "auto" for
// GOMAXPROCS. Unset means 1, the serial loop, whose results do not depend
// on the machine. With k > 1 workers results are deterministic for that k
// but differ from the serial ones (see trainGlobalParallel).
const EnvPretrainWorkers = "LCFT_PRETRAIN_WORKERS"

// pretrainSync is the number of batches each pretraining worker trains on
// its replica between two merges into the global model.
const pretrainSync = 4

// pretrainWorkersFromEnv parses the value of EnvPretrainWorkers.
func pretrainWorkersFromEnv(v string) (int, error) {
	switch v {
	case "":
		return 1, nil
	case "auto":
		return runtime.GOMAXPROCS(0), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive integer or \"auto\"", EnvPretrainWorkers, v)
	}
	return n, nil
}

// pretrainWorker trains one replica of the global model on its slice of a
// round's samples.
type pretrainWorker struct {
	rep     *model.Replica
	batch   []data.Sample
	y       []float32
	idx     []int // sample indices of this round
	lossSum float64
	loss    float32 // last batch's loss, to catch divergence
	err     error
}

// run trains w's replica on samples[w.idx] in batches of size.
func (w *pretrainWorker) run(samples []data.Sample, size int, opt optim.Optimizer) {
	w.lossSum, w.err = 0, nil
	for lo := 0; lo < len(w.idx); lo += size {
		hi := min(lo+size, len(w.idx))
		w.batch, w.y = w.batch[:0], w.y[:0]
		for _, i := range w.idx[lo:hi] {
			w.batch = append(w.batch, samples[i])
			w.y = append(w.y, samples[i].Label)
		}
		loss, err := w.rep.TrainStep(w.batch, w.y, opt)
		if err != nil {
			w.err = err
			return
		}
		w.loss = loss
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			return
		}
		w.lossSum += float64(loss) * float64(hi-lo)
	}
}

// trainGlobalParallel is trainGlobal on workers goroutines (synchronous
// data-parallel SGD with Hogwild-style merges): every epoch's shuffle (the
// serial loop's) is cut into rounds of workers × pretrainSync batches; in a
// round worker w trains its replica of m on the w-th run of pretrainSync
// batches, then m takes the sum of the replicas' changes (model.Merge) and
// the replicas restart from it. Each sample is seen once per epoch, as in
// the serial loop; a dense parameter moves by up to workers updates per
// round, an embedding row by those of the workers whose batches hold it.
// The optimizer must be stateless (SGD): Merge does not merge optimizer
// state.
func trainGlobalParallel(ctx context.Context, m *model.Model, samples []data.Sample, opt optim.Optimizer, o runspec.Optimization, workers int, lg *logger) error {
	n := len(samples)
	order := shuffleOrder(n)
	rng := pretrainRNG(o.Seed)
	ws := make([]*pretrainWorker, workers)
	reps := make([]*model.Replica, workers)
	for i := range ws {
		r, err := m.Fork()
		if err != nil {
			return fmt.Errorf("pretraining worker %d: %w", i, err)
		}
		reps[i] = r
		ws[i] = &pretrainWorker{rep: r, batch: make([]data.Sample, 0, o.BatchSize), y: make([]float32, 0, o.BatchSize)}
	}
	span := o.BatchSize * pretrainSync
	lg.tr.Begin("pretraining", runspec.UnitSamples, int64(n)*int64(o.Epochs))
	for epoch := range o.Epochs {
		opt.SetEpoch(epoch)
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		start, lastLog := time.Now(), time.Now()
		var lossSum float64
		for lo := 0; lo < n; lo += workers * span {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("pretraining interrupted: %w", err)
			}
			var wg sync.WaitGroup
			for w, wk := range ws {
				a := min(n, lo+w*span)
				wk.idx = order[a:min(n, a+span)]
				wg.Go(func() { wk.run(samples, o.BatchSize, opt) })
			}
			wg.Wait()
			for w, wk := range ws {
				if wk.err != nil {
					return fmt.Errorf("pretraining, epoch %d, worker %d: %w", epoch+1, w, wk.err)
				}
				if math.IsNaN(float64(wk.loss)) || math.IsInf(float64(wk.loss), 0) {
					return badInput("pretraining diverged at epoch %d (loss %v): lower the learning rate", epoch+1, wk.loss)
				}
				lossSum += wk.lossSum
			}
			if err := m.Merge(reps); err != nil {
				return fmt.Errorf("pretraining, epoch %d: %w", epoch+1, err)
			}
			hi := min(n, lo+workers*span)
			lg.tr.Add(int64(hi - lo))
			if time.Since(lastLog) > 10*time.Second {
				lastLog = time.Now()
				lg.printf("epoch %d/%d: %d/%d samples, loss %.4f, %.0f samples/s", epoch+1, o.Epochs, hi, n, lossSum/float64(hi), float64(hi)/time.Since(start).Seconds())
			}
		}
		secs := time.Since(start).Seconds()
		lg.printf("epoch %d/%d: lr %g, loss %.4f, %d samples in %.1f s (%.0f samples/s, %d workers)", epoch+1, o.Epochs, opt.LearningRate(), lossSum/float64(n), n, secs, float64(n)/max(secs, 1e-9), workers)
	}
	return nil
}
