// Package runner turns a resolved run spec (runspec.Spec) into results: it
// pretrains the global (Cloud) model, verifies an imported one, fine-tunes a
// cohort of users per user or pooled with and without label correction, and
// grid-searches the Hard strategy's labels. It writes artifacts and full
// reports through package storage and returns the compact, additive
// runspec.Summary that a Kubernetes shard puts in its termination message.
//
// # Determinism
//
// Every random choice is seeded from the spec: the global model's
// initialisation and per-epoch shuffles from Optimization.Seed, each user's
// fine-tuning batch order from (Optimization.Seed, UserKey(raw user id)).
// Users are assigned to shards by UserKey mod Shards. Per-user results are
// computed on worker goroutines (one model replica each) into a slice
// indexed by the user's position and summed sequentially in user order, so
// a run's numbers are bit-identical whatever GOMAXPROCS is, and each user's
// numbers are bit-identical whatever the shard count. Totals over shards
// equal the one-shard totals up to the order of float64 additions.
//
// # Errors
//
// Errors wrap ErrBadInput when a retry cannot help (ExitCode maps them to
// runspec.ExitBadInput); everything else (storage hiccups, cancellation)
// maps to runspec.ExitFailure.
package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/progress"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// options are knobs that do not belong in the spec because they must not
// change results (workers) or are fixed conventions (bootstrap size).
type options struct {
	workers   int // goroutines for per-user work, each with one model replica
	resamples int // paired bootstrap resamples
	// pretrainWorkers is the number of data-parallel pretraining workers
	// (EnvPretrainWorkers); unlike workers it changes the results.
	pretrainWorkers int
	// tracker counts progress for the shard's endpoint (nil: none).
	tracker *progress.Tracker
}

// DefaultBootstrapResamples is the number of paired bootstrap resamples of
// the reports' confidence intervals.
const DefaultBootstrapResamples = 1000

func defaultOptions() options {
	return options{workers: runtime.GOMAXPROCS(0), resamples: DefaultBootstrapResamples}
}

// Run executes spec as shard shard (0-based, below spec.Shards), writing
// progress lines to progress (nil discards them), and returns the shard's
// summary. Kinds: pretrain, verify, finetune, search (see the package
// documentation and DESIGN.md). On error the summary is nil; ExitCode(err)
// is the process exit code.
//
// The environment variable EnvPretrainWorkers sets the number of
// data-parallel pretraining workers.
func Run(ctx context.Context, spec *runspec.Spec, shard int, progress io.Writer) (*runspec.Summary, error) {
	return RunTracked(ctx, spec, shard, progress, nil)
}

// RunTracked is Run counting its progress in tr (nil: not counted), which
// the trainer serves to the controller (package progress).
func RunTracked(ctx context.Context, spec *runspec.Spec, shard int, progress io.Writer, tr *progress.Tracker) (*runspec.Summary, error) {
	opts := defaultOptions()
	n, err := pretrainWorkersFromEnv(os.Getenv(EnvPretrainWorkers))
	if err != nil {
		return nil, badInput("%w", err)
	}
	opts.pretrainWorkers = n
	opts.tracker = tr
	return run(ctx, spec, shard, progress, opts)
}

func run(ctx context.Context, spec *runspec.Spec, shard int, progress io.Writer, opts options) (*runspec.Summary, error) {
	if spec == nil {
		return nil, badInput("no run spec")
	}
	if err := spec.Validate(); err != nil {
		return nil, asBadInput(err)
	}
	if shard < 0 || shard >= spec.Shards {
		return nil, badInput("shard %d is outside [0, %d)", shard, spec.Shards)
	}
	opts.workers = max(1, opts.workers)
	opts.pretrainWorkers = max(1, opts.pretrainWorkers)
	lg := newLogger(progress, fmt.Sprintf("[%s shard %d/%d]", spec.Kind, shard, spec.Shards))
	lg.tr = opts.tracker
	var sum *runspec.Summary
	var err error
	switch spec.Kind {
	case runspec.KindPretrain:
		sum, err = pretrain(ctx, spec, lg, opts)
	case runspec.KindVerify:
		sum, err = verify(ctx, spec, lg)
	case runspec.KindFinetune:
		sum, err = finetune(ctx, spec, shard, lg, opts)
	case runspec.KindSearch:
		sum, err = search(ctx, spec, shard, lg, opts)
	default:
		err = badInput("kind %q is not supported", spec.Kind)
	}
	if err != nil {
		lg.printf("failed: %v", err)
		return nil, err
	}
	sum.Kind, sum.Shard, sum.Arch = spec.Kind, shard, runtime.GOARCH
	sum.PeakRSSBytes, sum.CgroupPeakBytes = peakRSS(), cgroupPeak()
	lg.printf("done (peak RSS %.1f MiB, container peak %.1f MiB)", float64(sum.PeakRSSBytes)/(1<<20), float64(sum.CgroupPeakBytes)/(1<<20))
	return sum, nil
}

// logger writes timestamped progress lines; safe for concurrent use.
type logger struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	start  time.Time
	// tr counts progress (nil: not counted); its methods are safe on nil.
	tr *progress.Tracker
}

func newLogger(w io.Writer, prefix string) *logger {
	if w == nil {
		w = io.Discard
	}
	return &logger{w: w, prefix: prefix, start: time.Now()}
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %7.1fs %s\n", l.prefix, time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}
