package runner

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Optimizer names of runspec.Optimization.Optimizer.
const (
	OptimizerSGD  = "SGD" // the default
	OptimizerAdam = "Adam"
)

// newOptimizer builds the optimizer o describes. LearningRateDecay 0 means
// no decay (1): a decay of 0 would stop training after the first epoch,
// which nobody means. Adam takes the paper's betas and epsilon.
func newOptimizer(o runspec.Optimization) (optim.Optimizer, error) {
	decay := o.LearningRateDecay
	if decay == 0 {
		decay = 1
	}
	switch {
	case o.Optimizer == "" || strings.EqualFold(o.Optimizer, OptimizerSGD):
		opt, err := optim.NewSGD(float32(o.LearningRate), float32(decay))
		if err != nil {
			return nil, badInput("optimization: %w", err)
		}
		return opt, nil
	case strings.EqualFold(o.Optimizer, OptimizerAdam):
		c := optim.DefaultAdamConfig()
		c.LR, c.Decay = float32(o.LearningRate), float32(decay)
		opt, err := optim.NewAdam(c)
		if err != nil {
			return nil, badInput("optimization: %w", err)
		}
		return opt, nil
	default:
		return nil, badInput("optimizer %q is not one of %s, %s", o.Optimizer, OptimizerSGD, OptimizerAdam)
	}
}

// UserKey is the 64-bit FNV-1a hash of a raw user id. It assigns users to
// partitions and shards and seeds the shuffle of the user's fine-tuning
// batches, so none of these depends on dense ids, worker count or shard
// count.
func UserKey(rawID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(rawID))
	return h.Sum64()
}

// NumPartitions is the number of user partitions of a dataset: a user's
// partition is UserKey mod NumPartitions, and a shard takes the partitions
// p with p mod shards == its index, so a partitioned dataset gives each of
// up to NumPartitions shards exactly the files of its users.
const NumPartitions = 1024

// PartitionOf is the partition (in [0, NumPartitions)) of the user with
// raw id rawID.
func PartitionOf(rawID string) int { return int(UserKey(rawID) % NumPartitions) }

// ShardOf is the shard (in [0, shards)) that handles the user with raw id
// rawID: its partition mod shards.
func ShardOf(rawID string, shards int) int {
	return PartitionOf(rawID) % shards
}

// pretrainStream is the PCG stream of the global model's per-epoch
// shuffles, distinct from every user's stream in practice (users use their
// UserKey).
const pretrainStream = 0x70726574726169 // "pretrai"

// trainGlobal trains m on samples with their 0/1 labels: o.Epochs passes
// over a seeded shuffle (a new permutation per epoch, from o.Seed), batches
// of o.BatchSize, opt's learning rate set per epoch. It logs each epoch's
// mean loss and throughput and fails with bad input if the loss stops being
// finite (a learning rate too large for the data; retrying cannot help).
//
// With workers > 1 and a stateless optimizer (SGD) it trains data-parallel
// (trainGlobalParallel); Adam's per-parameter state stays serial.
func trainGlobal(ctx context.Context, m *model.Model, samples []data.Sample, opt optim.Optimizer, o runspec.Optimization, workers int, lg *logger) error {
	if workers > 1 && opt.StateLen() == 0 {
		return trainGlobalParallel(ctx, m, samples, opt, o, workers, lg)
	}
	n := len(samples)
	order := shuffleOrder(n)
	rng := pretrainRNG(o.Seed)
	batch := make([]data.Sample, 0, o.BatchSize)
	y := make([]float32, 0, o.BatchSize)
	lg.tr.Begin("pretraining", runspec.UnitSamples, int64(n)*int64(o.Epochs))
	for epoch := range o.Epochs {
		opt.SetEpoch(epoch)
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		start, lastLog := time.Now(), time.Now()
		var lossSum float64
		for lo := 0; lo < n; lo += o.BatchSize {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("pretraining interrupted: %w", err)
			}
			hi := min(lo+o.BatchSize, n)
			batch, y = batch[:0], y[:0]
			for _, i := range order[lo:hi] {
				batch = append(batch, samples[i])
				y = append(y, samples[i].Label)
			}
			loss, err := m.TrainStep(batch, y, opt)
			if err != nil {
				return fmt.Errorf("pretraining, epoch %d: %w", epoch+1, err)
			}
			if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				return badInput("pretraining diverged at epoch %d (loss %v): lower the learning rate", epoch+1, loss)
			}
			lossSum += float64(loss) * float64(hi-lo)
			lg.tr.Add(int64(hi - lo))
			if time.Since(lastLog) > 10*time.Second {
				lastLog = time.Now()
				lg.printf("epoch %d/%d: %d/%d samples, loss %.4f, %.0f samples/s", epoch+1, o.Epochs, hi, n, lossSum/float64(hi), float64(hi)/time.Since(start).Seconds())
			}
		}
		secs := time.Since(start).Seconds()
		lg.printf("epoch %d/%d: lr %g, loss %.4f, %d samples in %.1f s (%.0f samples/s)", epoch+1, o.Epochs, opt.LearningRate(), lossSum/float64(n), n, secs, float64(n)/max(secs, 1e-9))
	}
	return nil
}

// shuffleOrder returns the identity permutation of n, shuffled per epoch.
func shuffleOrder(n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return order
}

// pretrainRNG is the source of the global model's per-epoch shuffles.
func pretrainRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, pretrainStream)) }

// tuner fine-tunes one replica on one user's samples at a time. Each worker
// goroutine owns one; it allocates nothing per user once its buffers have
// grown to the largest user.
type tuner struct {
	rep    *model.Replica
	opt    optim.Optimizer
	o      runspec.Optimization
	order  []int
	batch  []data.Sample
	y      []float32
	logits []float32
	labels []float32
	// keepDeltas makes run encode the delta of each task's keep arm.
	keepDeltas bool
}

// newTuner forks base for fine-tuning with o; scope Sparse freezes the
// replica's dense parameters, scope Patch its whole backbone (it trains a
// patch alone).
func newTuner(base *model.Model, o runspec.Optimization) (*tuner, error) {
	rep, err := base.Fork()
	if err != nil {
		return nil, fmt.Errorf("forking the global model: %w", err)
	}
	opt, err := newOptimizer(o)
	if err != nil {
		return nil, err
	}
	if o.Scope == runspec.ScopePatch {
		rep.UsePatch(true)
	} else {
		rep.FreezeDense(o.Scope == runspec.ScopeSparse)
	}
	return &tuner{rep: rep, opt: opt, o: o}, nil
}

// fineTune resets the replica to the base and trains it on samples with
// lab's targets: o.Epochs passes, each over a shuffle drawn from the PCG
// stream (o.Seed, key), batches of o.BatchSize. The same (seed, key) gives
// the same batches whatever the labels, so two label sets of one user are
// compared on identical batch orders.
//
// A run whose loss stops being finite stops there, and one that ends with
// a non-finite parameter (an overflow the loss has not shown yet) is
// caught after the last step: both return a *divergedError, which callers
// treat as an outcome (the user is served the Cloud model), not a failure.
func (t *tuner) fineTune(samples []data.Sample, lab correction.Labels, key uint64) error {
	t.rep.Reset()
	n := len(samples)
	t.order = t.order[:0]
	for i := range n {
		t.order = append(t.order, i)
	}
	rng := rand.New(rand.NewPCG(t.o.Seed, key))
	for epoch := range t.o.Epochs {
		t.opt.SetEpoch(epoch)
		rng.Shuffle(n, func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
		for lo := 0; lo < n; lo += t.o.BatchSize {
			hi := min(lo+t.o.BatchSize, n)
			t.batch, t.y = t.batch[:0], t.y[:0]
			for _, i := range t.order[lo:hi] {
				t.batch = append(t.batch, samples[i])
				t.y = append(t.y, lab.For(samples[i].Label))
			}
			loss, err := t.rep.TrainStep(t.batch, t.y, t.opt)
			if err != nil {
				return fmt.Errorf("fine-tuning: %w", err)
			}
			if l := float64(loss); math.IsNaN(l) || math.IsInf(l, 0) {
				return diverged("loss %v at epoch %d, samples %d-%d", loss, epoch+1, lo+1, hi)
			}
		}
	}
	if err := t.rep.CheckFinite(); err != nil {
		return diverged("after %d epochs: %v", t.o.Epochs, err)
	}
	return nil
}

// auc is the AUC of m's logits on test against the observed 0/1 labels,
// NaN when undefined (single-class test set). A non-finite logit is a
// *divergedError (a fine-tuned model that overflowed); see cloudAUC for
// the global model.
func (t *tuner) auc(m *model.Model, test []data.Sample) (float64, error) {
	t.logits = growF32(t.logits, len(test))
	t.labels = growF32(t.labels, len(test))
	if err := m.Predict(test, t.logits); err != nil {
		return 0, fmt.Errorf("predicting: %w", err)
	}
	for i := range test {
		if z := float64(t.logits[i]); math.IsNaN(z) || math.IsInf(z, 0) {
			return 0, diverged("test logit %v", z)
		}
		t.labels[i] = test[i].Label
	}
	a, ok := metrics.AUC(t.logits, t.labels)
	if !ok {
		return math.NaN(), nil
	}
	return a, nil
}

// cloudAUC is auc for the global model itself, which has nothing to roll
// back to: a non-finite logit there is bad input (a model that cannot
// score), not a divergence.
func (t *tuner) cloudAUC(m *model.Model, test []data.Sample) (float64, error) {
	a, err := t.auc(m, test)
	if reason, ok := divergedReason(err); ok {
		return 0, badInput("the global model cannot score this data (%s): not a usable model", reason)
	}
	return a, err
}

func growF32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// cloudEval is a model's user-level AUC on a test split.
type cloudEval struct {
	AUC              float64 // sum n_u*AUC_u / sum n_u; NaN when no user has two classes
	Users            int     // users with a defined AUC
	SingleClassUsers int     // users left out
	Samples          int     // test samples scored
	Weighted         runspec.WeightedAUC
}

// evalCloud scores every test user with m (no fine-tuning), summing in
// user order.
func evalCloud(m *model.Model, test *data.Dataset) (cloudEval, error) {
	var ev cloudEval
	t := &tuner{}
	for _, r := range data.UserRanges(test) {
		s := test.Samples[r.Start:r.End]
		a, err := t.cloudAUC(m, s)
		if err != nil {
			return ev, err
		}
		ev.Samples += len(s)
		if math.IsNaN(a) {
			ev.SingleClassUsers++
			continue
		}
		ev.Users++
		ev.Weighted.Sum += float64(len(s)) * a
		ev.Weighted.Weight += float64(len(s))
	}
	ev.AUC = math.NaN()
	if v, ok := ev.Weighted.Value(); ok {
		ev.AUC = v
	}
	return ev, nil
}
