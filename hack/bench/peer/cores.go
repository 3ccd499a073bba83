package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"

	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// coresResult is the runner (what the operator's Jobs execute) on 1 and on
// 2 cores: GOMAXPROCS, which is also the runner's number of per-user
// workers. Runs alternate 1, 2, 1, 2.
type coresResult struct {
	Work coresWork `json:"work"`
	Runs []coreRun `json:"runs"`
}

type coreRun struct {
	Procs int    `json:"procs"`
	Phase string `json:"phase"` // pretrain | finetune
	Load  string `json:"load"`  // /proc/loadavg before the run
	After string `json:"after"` // and after it
	// Work is training samples for pretraining (from the runner's epoch
	// log lines) and users for fine-tuning; Seconds the time the runner
	// reports for that work (pretraining: the epochs; fine-tuning: its
	// FinetuneStats.Seconds, fine-tuning and evaluation).
	Work    float64 `json:"work"`
	Seconds float64 `json:"seconds"`
	Wall    float64 `json:"wall"` // the whole runner.Run, loading included
	CPU     float64 `json:"cpu"`  // process CPU seconds over the whole Run
}

// coresWork sizes the runs of cores: each should take several seconds on
// one core, so that the 1-to-2-core ratio measures the scaling rather than
// the scheduler's time slices (at 1,500 users and one pretraining epoch a
// run took 0.2 to 0.5 s, and the ratios ranged from 0.57x to 1.12x).
type coresWork struct {
	Users          int `json:"users"`          // synthetic users, 50 samples each
	PretrainEpochs int `json:"pretrainEpochs"` // epochs over the 80% training split
}

// coreDataset: Wide&Deep of the peer's shapes, pretrained on a synthetic
// dataset, then fine-tuned per user with SGD lr 0.01, batch 32, one epoch,
// no label correction (one fine-tuning per user).
func coreDataset(users int) runspec.Dataset {
	return runspec.Dataset{
		Format:        runner.FormatSynthetic,
		HistoryLength: 20,
		Synthetic:     &runspec.Synthetic{Users: users, Items: 5000, Categories: 20, SamplesPerUser: 50, GlobalCTR: 0.45, Drift: 0.6, Seed: 5},
		Split:         runspec.Split{Method: runner.SplitPerUserFraction, TrainFraction: 0.8},
	}
}

// epochLine matches the runner's end-of-epoch log line, serial or
// data-parallel (which adds ", N workers"): samples, seconds (rounded to
// 0.1 s) and samples/s (to 1 sample/s, the precise one).
var epochLine = regexp.MustCompile(`epoch \d+/\d+: lr \S+, loss \S+, (\d+) samples in [0-9.]+ s \(([0-9]+) samples/s(?:, \d+ workers)?\)`)

func cores(dir string, work coresWork, stdout io.Writer) (*coresResult, error) {
	if work.Users <= 0 || work.PretrainEpochs <= 0 {
		return nil, fmt.Errorf("cores: %d users and %d pretraining epochs, want both positive", work.Users, work.PretrainEpochs)
	}
	root := filepath.Join(dir, "cores")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	res := &coresResult{Work: work}
	// Pretraining is serial unless asked for workers: "auto" gives it one
	// data-parallel worker per GOMAXPROCS, which is what is measured here.
	if old, ok := os.LookupEnv(runner.EnvPretrainWorkers); ok {
		defer os.Setenv(runner.EnvPretrainWorkers, old)
	} else {
		defer os.Unsetenv(runner.EnvPretrainWorkers)
	}
	if err := os.Setenv(runner.EnvPretrainWorkers, "auto"); err != nil {
		return nil, err
	}
	var pre *runspec.PretrainStats
	for i, procs := range []int{1, 2, 1, 2} {
		runtime.GOMAXPROCS(procs)
		spec := &runspec.Spec{
			Version: runspec.Version, Kind: runspec.KindPretrain, Name: "bench/peer", Dataset: coreDataset(work.Users),
			Model:        &runspec.Model{Architecture: model.ArchWideDeep, EmbeddingDim: embeddingDim, HiddenUnits: hiddenUnits},
			Optimization: runspec.Optimization{Optimizer: runner.OptimizerSGD, LearningRate: 0.05, LearningRateDecay: 1, Epochs: work.PretrainEpochs, BatchSize: 32, Seed: 1},
			OutputURI:    filepath.Join(root, fmt.Sprintf("pretrain-%d", i)), Shards: 1,
		}
		r, log, sum, err := timeRun(spec, procs, "pretrain")
		if err != nil {
			return nil, err
		}
		for _, m := range epochLine.FindAllSubmatch(log, -1) {
			n, _ := strconv.ParseFloat(string(m[1]), 64)
			rate, _ := strconv.ParseFloat(string(m[2]), 64)
			if rate > 0 {
				r.Work, r.Seconds = r.Work+n, r.Seconds+n/rate
			}
		}
		if r.Work == 0 { // no epoch line: the whole pretraining run
			r.Work, r.Seconds = float64(sum.Pretrain.Samples), sum.Pretrain.Seconds
		}
		pre = sum.Pretrain
		res.Runs = append(res.Runs, r)
		fmt.Fprintf(stdout, "pretrain  GOMAXPROCS=%d: %.0f samples in %.2f s (run %.2f s wall, %.2f s CPU), load before %s, after %s\n", procs, r.Work, r.Seconds, r.Wall, r.CPU, r.Load, r.After)
	}
	for i, procs := range []int{1, 2, 1, 2} {
		runtime.GOMAXPROCS(procs)
		spec := &runspec.Spec{
			Version: runspec.Version, Kind: runspec.KindFinetune, Name: "bench/peer", Dataset: coreDataset(work.Users),
			GlobalModel:  &runspec.ModelArtifact{URI: pre.ArtifactURI, Digest: pre.Digest, GlobalCTR: pre.GlobalCTR},
			Optimization: runspec.Optimization{Optimizer: runner.OptimizerSGD, LearningRate: 0.01, LearningRateDecay: 1, Epochs: 1, BatchSize: 32, Seed: 1},
			Correction:   &runspec.Correction{Strategy: "None"},
			Cohort:       &runspec.Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: 1, Mode: runner.ModePerUser},
			OutputURI:    filepath.Join(root, fmt.Sprintf("finetune-%d", i)), Shards: 1,
		}
		r, _, sum, err := timeRun(spec, procs, "finetune")
		if err != nil {
			return nil, err
		}
		r.Work, r.Seconds = float64(sum.Finetune.Users), sum.Finetune.Seconds
		res.Runs = append(res.Runs, r)
		fmt.Fprintf(stdout, "finetune  GOMAXPROCS=%d: %.0f users in %.2f s (run %.2f s wall, %.2f s CPU), load before %s, after %s\n", procs, r.Work, r.Seconds, r.Wall, r.CPU, r.Load, r.After)
	}
	return res, nil
}

// timeRun runs spec through the runner and returns its timings and log.
func timeRun(spec *runspec.Spec, procs int, phase string) (coreRun, []byte, *runspec.Summary, error) {
	r := coreRun{Procs: procs, Phase: phase, Load: loadAvg()}
	var log bytes.Buffer
	c := startClock()
	sum, err := runner.Run(context.Background(), spec, 0, &log)
	var t timing
	c.stop(&t)
	if err != nil {
		return r, nil, nil, fmt.Errorf("%s on %d cores: %w\n%s", phase, procs, err, log.Bytes())
	}
	if (phase == "pretrain") != (sum.Pretrain != nil) || (phase == "finetune") != (sum.Finetune != nil) {
		return r, nil, nil, fmt.Errorf("%s: the runner's summary has no %s statistics", phase, phase)
	}
	r.Wall, r.CPU, r.After = t.Wall, t.CPU, loadAvg()
	return r, log.Bytes(), sum, nil
}

// loadAvg is the first three fields of /proc/loadavg, or "n/a".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	var a, b1, c string
	if _, err := fmt.Sscan(string(b), &a, &b1, &c); err != nil {
		return "n/a"
	}
	return a + " " + b1 + " " + c
}
