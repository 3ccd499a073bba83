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
}

// userOutcome holds a user's test AUCs; NaN marks an undefined AUC
// (single-class test set).
type userOutcome struct {
	cloud float64
	arms  []float64 // aligned with userTask.arms
}

// run scores one task. Arms with the same labels as an earlier arm reuse
// its AUC: fine-tuning is deterministic, so running it again would give
// the same number.
func (t *tuner) run(base *model.Model, task *userTask) (userOutcome, error) {
	res := userOutcome{arms: make([]float64, len(task.arms))}
	var err error
	if res.cloud, err = t.auc(base, task.test); err != nil {
		return res, err
	}
arms:
	for a, lab := range task.arms {
		for b := range a {
			if task.arms[b] == lab {
				res.arms[a] = res.arms[b]
				continue arms
			}
		}
		if err := t.fineTune(task.train, lab, task.key); err != nil {
			return res, err
		}
		if res.arms[a], err = t.auc(t.rep.Model, task.test); err != nil {
			return res, err
		}
	}
	return res, nil
}

// runPerUser runs tasks on up to workers goroutines, each with its own
// replica and optimizer, and returns the outcomes aligned with tasks.
// Results do not depend on workers: each task's outcome depends only on
// the base model, the task and o. Progress goes to lg about ten times.
func runPerUser(ctx context.Context, base *model.Model, tasks []userTask, o runspec.Optimization, workers int, lg *logger, what string) ([]userOutcome, error) {
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
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("user %q: %w", task.raw, err)
						cancel()
					})
					return
				}
				out[i] = res
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

// runPooled fine-tunes one replica per arm on pool (the training samples
// of every cohort user) and scores each task's test samples with it. The
// tasks' own arms are ignored: every user gets the pooled arms.
func runPooled(ctx context.Context, base *model.Model, pool []data.Sample, arms []correction.Labels, tasks []userTask, o runspec.Optimization, lg *logger) ([]userOutcome, error) {
	t, err := newTuner(base, o)
	if err != nil {
		return nil, err
	}
	out := make([]userOutcome, len(tasks))
	for i := range tasks {
		out[i].arms = make([]float64, len(arms))
		if out[i].cloud, err = t.auc(base, tasks[i].test); err != nil {
			return nil, fmt.Errorf("user %q: %w", tasks[i].raw, err)
		}
	}
arms:
	for a, lab := range arms {
		for b := range a {
			if arms[b] == lab {
				for i := range out {
					out[i].arms[a] = out[i].arms[b]
				}
				continue arms
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pooled fine-tuning interrupted: %w", err)
		}
		start := time.Now()
		if err := t.fineTune(pool, lab, pooledStream); err != nil {
			return nil, fmt.Errorf("pooled fine-tuning: %w", err)
		}
		secs := time.Since(start).Seconds()
		lg.printf("pooled fine-tuning with labels (%.4g, %.4g): %d samples × %d epochs in %.1f s (%.0f samples/s)",
			lab.Positive, lab.Negative, len(pool), o.Epochs, secs, float64(len(pool)*o.Epochs)/max(secs, 1e-9))
		for i := range tasks {
			if out[i].arms[a], err = t.auc(t.rep.Model, tasks[i].test); err != nil {
				return nil, fmt.Errorf("user %q: %w", tasks[i].raw, err)
			}
		}
	}
	return out, nil
}

// nan is an undefined AUC.
var nan = math.NaN()
