package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// dataFlags build a runspec.Dataset.
type dataFlags struct {
	uri, format   string
	threshold     float64
	historyLen    int
	split         string
	trainFraction float64
	splitTime     int64
	negatives     int
	negativeSeed  uint64
	holdout       float64
	testHistories string
	synth         synthFlags
}

// synthFlags are the synthetic generator's settings.
type synthFlags struct {
	users, items, categories, samples int
	ctr, drift                        float64
	seed                              uint64
}

func (s *synthFlags) register(fs *flag.FlagSet, prefix string) {
	d := data.DefaultSynthConfig()
	fs.IntVar(&s.users, prefix+"users", d.NumUsers, "synthetic: number of users")
	fs.IntVar(&s.items, prefix+"items", d.NumItems, "synthetic: number of items")
	fs.IntVar(&s.categories, prefix+"categories", d.NumCategories, "synthetic: number of item categories")
	fs.IntVar(&s.samples, prefix+"samples-per-user", d.SamplesPerUser, "synthetic: mean samples per user")
	fs.Float64Var(&s.ctr, prefix+"global-ctr", d.GlobalCTR, "synthetic: mean click-through rate, in (0, 1)")
	fs.Float64Var(&s.drift, prefix+"drift", d.Drift, "synthetic: CTR drift in [0, 1): spread of users' CTRs around the global CTR")
	fs.Uint64Var(&s.seed, prefix+"data-seed", d.Seed, "synthetic: generator seed")
}

func (s *synthFlags) spec() *runspec.Synthetic {
	return &runspec.Synthetic{Users: s.users, Items: s.items, Categories: s.categories, SamplesPerUser: s.samples, GlobalCTR: s.ctr, Drift: s.drift, Seed: s.seed}
}

func (d *dataFlags) register(fs *flag.FlagSet, defaultFormat string) {
	fs.StringVar(&d.uri, "data", "", "dataset URI: MovieLens or Amazon directory, canonical samples or implicit-feedback file (unused for Synthetic)")
	fs.StringVar(&d.format, "format", defaultFormat, "dataset format: MovieLens, Samples, Synthetic, Amazon or Implicit")
	fs.Float64Var(&d.threshold, "threshold", 0, "MovieLens: a rating >= threshold is a click (0: 4 stars)")
	fs.IntVar(&d.historyLen, "history-len", data.DefaultHistoryLen, "cap on each sample's positive and negative histories")
	fs.StringVar(&d.split, "split", "", "train/test split: PerUserFraction (chronological per user) or Timestamp (default: Timestamp at the paper's time for Amazon, else PerUserFraction)")
	fs.Float64Var(&d.trainFraction, "train-fraction", runner.DefaultTrainFraction, "PerUserFraction: share of each user's samples for training")
	fs.Int64Var(&d.splitTime, "split-time", 0, "Timestamp: samples before this Unix time train, the rest test (0 for Amazon: 1385078400)")
	fs.IntVar(&d.negatives, "negatives", data.DefaultNegativesPerPositive, "Amazon, Implicit: negatives sampled per positive")
	fs.Uint64Var(&d.negativeSeed, "negative-seed", 1, "Amazon, Implicit: seed of the negative sampling")
	fs.Float64Var(&d.holdout, "holdout-fraction", 0, "pretrain: hold the last floor(n*f) of each user's n train rows out of the model's training; search and finetune: the fraction the model was pretrained with")
	fs.StringVar(&d.testHistories, "test-histories", runspec.TestHistoriesEarlierRows, "which rows a test row's histories come from: EarlierRows (the user's earlier rows, earlier test rows included) or TrainRows (the user's train rows only)")
	d.synth.register(fs, "synth-")
}

func (d *dataFlags) dataset() (runspec.Dataset, error) {
	ds := runspec.Dataset{
		Format: d.format, URI: d.uri, PositiveThreshold: d.threshold, HistoryLength: d.historyLen, TestHistories: d.testHistories,
		Split: runspec.Split{Method: d.split, TrainFraction: d.trainFraction, Timestamp: d.splitTime, HoldoutFraction: d.holdout},
	}
	switch d.format {
	case runner.FormatSynthetic:
		ds.Synthetic = d.synth.spec()
	case runner.FormatAmazon, runner.FormatImplicit:
		ds.Negatives = &runspec.Negatives{PerPositive: d.negatives, Seed: d.negativeSeed}
		if d.uri == "" {
			return ds, badInput("--data is required for format %s", d.format)
		}
	case runner.FormatMovieLens, runner.FormatSamples:
		if d.uri == "" {
			return ds, badInput("--data is required for format %s", d.format)
		}
	default:
		return ds, badInput("--format %q is not one of MovieLens, Samples, Synthetic, Amazon, Implicit", d.format)
	}
	ds.Split = runner.DefaultSplit(ds)
	if ds.Split.Method == "" {
		ds.Split.Method = runner.SplitPerUserFraction
	}
	return ds, nil
}

// modelFlags build a runspec.Model.
type modelFlags struct {
	arch    string
	dim     int
	hidden  string
	initStd float64
}

func (m *modelFlags) register(fs *flag.FlagSet, defaultArch string) {
	fs.StringVar(&m.arch, "arch", defaultArch, "model architecture: LR, WideDeep, DeepFM, PNN or DIN")
	fs.IntVar(&m.dim, "embedding-dim", 16, "embedding width of the deep models")
	fs.StringVar(&m.hidden, "hidden", "64,32", "MLP hidden layer widths, comma-separated")
	fs.Float64Var(&m.initStd, "embedding-init-std", runspec.DefaultEmbeddingInitStd, "standard deviation of the normal initialisation of embedding rows")
}

func (m *modelFlags) model(arch string) (*runspec.Model, error) {
	hidden, err := parseInts(m.hidden)
	if err != nil {
		return nil, badInput("--hidden: %w", err)
	}
	return &runspec.Model{Architecture: arch, EmbeddingDim: m.dim, HiddenUnits: hidden, EmbeddingInitStd: m.initStd}, nil
}

// optFlags build a runspec.Optimization; prefix distinguishes the
// experiment's fine-tuning flags ("ft-") from its pretraining ones.
type optFlags struct {
	optimizer string
	lr, decay float64
	epochs    int
	batch     int
	scope     string // fine-tuning only
	seed      *uint64
}

// pretrainDefaults and finetuneDefaults are the paper's settings.
var (
	pretrainDefaults = runspec.Optimization{Optimizer: runner.OptimizerSGD, LearningRate: 1, LearningRateDecay: 0.1, Epochs: 2, BatchSize: 32}
	finetuneDefaults = runspec.Optimization{Optimizer: runner.OptimizerSGD, LearningRate: 0.01, LearningRateDecay: 1, Epochs: 1, BatchSize: 32}
)

func (o *optFlags) register(fs *flag.FlagSet, prefix, what string, def runspec.Optimization, seed *uint64) {
	fs.StringVar(&o.optimizer, prefix+"optimizer", def.Optimizer, what+": optimizer, SGD or Adam")
	fs.Float64Var(&o.lr, prefix+"lr", def.LearningRate, what+": learning rate")
	fs.Float64Var(&o.decay, prefix+"decay", def.LearningRateDecay, what+": learning-rate multiplier per epoch")
	fs.IntVar(&o.epochs, prefix+"epochs", def.Epochs, what+": epochs")
	fs.IntVar(&o.batch, prefix+"batch-size", def.BatchSize, what+": mini-batch size")
	if what == "fine-tuning" {
		fs.StringVar(&o.scope, prefix+"scope", runspec.ScopeAll, what+": All parameters, Sparse (only the embedding rows a user touches; dense layers frozen) or Patch (backbone frozen; a per-user FiLM scale and shift of the MLP's hidden units)")
	}
	o.seed = seed
}

func (o *optFlags) optimization() runspec.Optimization {
	return runspec.Optimization{Optimizer: o.optimizer, LearningRate: o.lr, LearningRateDecay: o.decay, Epochs: o.epochs, BatchSize: o.batch, Seed: *o.seed, Scope: o.scope}
}

// cohortFlags build a runspec.Cohort.
type cohortFlags struct {
	minCTR, maxCTR float64
	minSamples     int
	mode           string
	userModels     string
}

func (c *cohortFlags) register(fs *flag.FlagSet, defMinSamples int) {
	fs.Float64Var(&c.minCTR, "min-ctr", 0, "cohort: lowest local CTR (inclusive)")
	fs.Float64Var(&c.maxCTR, "max-ctr", 1, "cohort: highest local CTR (exclusive; 1 includes 1)")
	fs.IntVar(&c.minSamples, "min-samples", defMinSamples, "cohort: users with fewer training samples are skipped")
	fs.StringVar(&c.mode, "mode", runner.ModePerUser, "fine-tuning mode: PerUser or Pooled")
	fs.StringVar(&c.userModels, "user-models", runspec.UserModelsNone, "PerUser: None, or Deltas to save each user's LCFT model as a delta (user-models-shard-<i>.lcftu)")
}

func (c *cohortFlags) cohort() *runspec.Cohort {
	return &runspec.Cohort{MinCTR: c.minCTR, MaxCTR: c.maxCTR, MinSamples: c.minSamples, Mode: c.mode, UserModels: c.userModels}
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q is not a finite number", f)
		}
		out = append(out, x)
	}
	return out, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseStrategies parses a comma-separated list of strategy names.
func parseStrategies(s string) ([]string, error) {
	var out []string
	for _, f := range splitList(s) {
		st, err := correction.ParseStrategy(f)
		if err != nil {
			return nil, err
		}
		out = append(out, string(st))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no strategy in %q", s)
	}
	return out, nil
}
