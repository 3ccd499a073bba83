package runner

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// userTask is one user's per-user work: score the user's test samples with
// the base model (Cloud), then, for each label set ("arm"), fine-tune a
// fresh replica on the user's training samples with those targets and
// score the test samples again.
type userTask struct {
	raw         string // raw user id, for messages
	key         uint64 // UserKey(raw): seeds the batch shuffle
	train, test []data.Sample
	arms        []correction.Labels
	// keep, when >= 0 (with keepDeltas set), is the arm whose fine-tuned
	// model is kept as a delta (userOutcome.delta).
	keep int
	// units is what the task counts for in the shard's progress (1 user,
	// or its arms in a search's cells).
	units int64
}

// userOutcome holds a user's test AUCs; NaN marks an undefined AUC
// (single-class test set).
type userOutcome struct {
	cloud float64
	arms  []float64 // aligned with userTask.arms
	// diverged[a] is why arm a's fine-tuning diverged ("" when it did
	// not); such an arm's AUC is the Cloud AUC (see diverge.go).
	diverged []string
	// delta is the encoded model.Delta of arm keep (nil when not kept or
	// when that arm diverged).
	delta []byte
}

// rollBack records that arm a diverged: the user keeps the Cloud model.
func (o *userOutcome) rollBack(a int, reason string) {
	o.arms[a], o.diverged[a] = o.cloud, reason
}

// run scores one task. Arms with the same labels as an earlier arm reuse
// its outcome: fine-tuning is deterministic, so running it again would
// give the same result. An arm whose fine-tuning diverges is rolled back
// to the Cloud model; only other errors fail the task.
func (t *tuner) run(base *model.Model, task *userTask) (userOutcome, error) {
	res := userOutcome{arms: make([]float64, len(task.arms)), diverged: make([]string, len(task.arms))}
	var err error
	if res.cloud, err = t.cloudAUC(base, task.test); err != nil {
		return res, err
	}
arms:
	for a, lab := range task.arms {
		for b := range a {
			if task.arms[b] == lab {
				res.arms[a], res.diverged[a] = res.arms[b], res.diverged[b]
				continue arms
			}
		}
		err := t.fineTune(task.train, lab, task.key)
		if err == nil {
			res.arms[a], err = t.auc(t.rep.Model, task.test)
		}
		if reason, ok := divergedReason(err); ok {
			res.rollBack(a, fmt.Sprintf("labels (%.4g, %.4g): %s", lab.Positive, lab.Negative, reason))
			continue
		}
		if err != nil {
			return res, err
		}
		if t.keepDeltas && task.keep >= 0 && lab == task.arms[task.keep] {
			res.delta = t.rep.Delta().AppendBinary(nil)
		}
	}
	return res, nil
}

// runPerUser runs tasks on up to workers goroutines, each with its own
// replica and optimizer, and returns the outcomes aligned with tasks.
// Results do not depend on workers: each task's outcome depends only on
// the base model, the task and o. Progress goes to lg about ten times.
//
// With sink set, each task's kept delta (userTask.keep) goes to sink as
// soon as the task is done (from the worker's goroutine; sink must be safe
// for concurrent use) and is not kept in the outcome.
func runPerUser(ctx context.Context, base *model.Model, tasks []userTask, o runspec.Optimization, workers int, lg *logger, what string,
	sink func(i int, delta []byte, rolledBack bool) error) ([]userOutcome, error) {
	out := make([]userOutcome, len(tasks))
	if len(tasks) == 0 {
		return out, nil
	}
	workers = max(1, min(workers, len(tasks)))
	tuners := make([]*tuner, workers)
	for w := range tuners {
		t, err := newTuner(base, o)
		if err != nil {
			return nil, err
		}
		t.keepDeltas = sink != nil
		tuners[w] = t
	}
	var totalSamples int64
	for i := range tasks {
		totalSamples += int64(len(tasks[i].train) * distinctArms(tasks[i].arms) * o.Epochs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done, samples atomic.Int64
		errOnce             sync.Once
		firstErr            error
		wg                  sync.WaitGroup
	)
	start := time.Now()
	step := int64(max(1, len(tasks)/10))
	lg.printf("%s: %d users on %d workers, %d fine-tuning sample passes", what, len(tasks), workers, totalSamples)
	for _, t := range tuners {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(tasks) {
					return
				}
				task := &tasks[i]
				res, err := t.run(base, task)
				if err == nil && sink != nil && task.keep >= 0 {
					err = sink(i, res.delta, res.diverged[task.keep] != "")
					res.delta = nil
				}
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("user %q: %w", task.raw, err)
						cancel()
					})
					return
				}
				out[i] = res
				lg.tr.Add(task.units)
				s := samples.Add(int64(len(task.train) * distinctArms(task.arms) * o.Epochs))
				if d := done.Add(1); d%step == 0 || d == int64(len(tasks)) {
					secs := time.Since(start).Seconds()
					lg.printf("%s: %d/%d users, %.1f s, %.0f samples/s", what, d, len(tasks), secs, float64(s)/max(secs, 1e-9))
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s interrupted: %w", what, err)
	}
	return out, nil
}

func distinctArms(arms []correction.Labels) int {
	n := 0
outer:
	for a := range arms {
		for b := range a {
			if arms[a] == arms[b] {
				continue outer
			}
		}
		n++
	}
	return n
}

// pooledStream seeds the batch shuffle of pooled fine-tuning (the PCG
// stream next to Optimization.Seed; users use their UserKey instead).
const pooledStream = 0x706f6f6c6564 // "pooled"

// pooledArm is what runPooled hands its keep callback: the fine-tuned
// replica of an arm, or nil when that arm diverged (its users keep the
// Cloud model), with the reason.
type pooledArm struct {
	rep      *model.Replica
	diverged string
}

// runPooled fine-tunes one replica per arm on pool (the training samples
// of every cohort user) and scores each task's test samples with it. The
// tasks' own arms are ignored: every user gets the pooled arms. An arm
// whose pooled model diverges (non-finite loss or parameter, or a
// non-finite logit for any user) rolls every user back to the Cloud model
// there. When keep is set, it is called once, with the model of arm
// keepArm, before the replica is reused.
func runPooled(ctx context.Context, base *model.Model, pool []data.Sample, arms []correction.Labels, tasks []userTask, o runspec.Optimization, lg *logger,
	keepArm int, keep func(pooledArm) error) ([]userOutcome, error) {
	t, err := newTuner(base, o)
	if err != nil {
		return nil, err
	}
	out := make([]userOutcome, len(tasks))
	for i := range tasks {
		out[i].arms, out[i].diverged = make([]float64, len(arms)), make([]string, len(arms))
		if out[i].cloud, err = t.cloudAUC(base, tasks[i].test); err != nil {
			return nil, fmt.Errorf("user %q: %w", tasks[i].raw, err)
		}
	}
arms:
	for a, lab := range arms {
		for b := range a {
			if arms[b] == lab {
				for i := range out {
					out[i].arms[a], out[i].diverged[a] = out[i].arms[b], out[i].diverged[b]
				}
				continue arms
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pooled fine-tuning interrupted: %w", err)
		}
		start := time.Now()
		err := t.fineTune(pool, lab, pooledStream)
		secs := time.Since(start).Seconds()
		for i := 0; err == nil && i < len(tasks); i++ {
			if out[i].arms[a], err = t.auc(t.rep.Model, tasks[i].test); err != nil {
				err = fmt.Errorf("scoring user %q: %w", tasks[i].raw, err)
			}
		}
		reason, isDiverged := divergedReason(err)
		switch {
		case isDiverged:
			reason = fmt.Sprintf("pooled model, labels (%.4g, %.4g): %s", lab.Positive, lab.Negative, reason)
			lg.printf("%s: every user of the arm keeps the Cloud model", reason)
			for i := range out {
				out[i].rollBack(a, reason)
			}
		case err != nil:
			return nil, fmt.Errorf("pooled fine-tuning: %w", err)
		default:
			lg.printf("pooled fine-tuning with labels (%.4g, %.4g): %d samples × %d epochs in %.1f s (%.0f samples/s)",
				lab.Positive, lab.Negative, len(pool), o.Epochs, secs, float64(len(pool)*o.Epochs)/max(secs, 1e-9))
		}
		lg.tr.Add(int64(len(pool)) * int64(o.Epochs))
		if keep != nil && lab == arms[keepArm] {
			pa := pooledArm{rep: t.rep, diverged: reason}
			if isDiverged {
				pa.rep = nil
			}
			if err := keep(pa); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// nan is an undefined AUC.
var nan = math.NaN()
