package runner

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// ModelFile is the name of the model artifact inside a pretraining run's
// OutputURI.
const ModelFile = "model.lcft"

// Quantiles are the local-CTR quantiles of training users reported by
// pretrain and verify, to help place cohort boundaries.
var Quantiles = []float64{0.1, 0.25, 0.5, 0.75, 0.9}

// pretrain trains the global model on the train split, evaluates its
// user-level AUC on the test split and saves it to OutputURI/model.lcft.
func pretrain(ctx context.Context, spec *runspec.Spec, lg *logger, opts options) (*runspec.Summary, error) {
	if spec.Distill != nil {
		return distill(ctx, spec, lg, opts)
	}
	start := time.Now()
	sp, err := loadSplit(ctx, spec.Dataset, data.Selection{}, nil)
	if err != nil {
		return nil, err
	}
	train := sp.train
	fd, err := prepareFit(ctx, spec, sp, lg)
	if err != nil {
		return nil, err
	}
	fit, held, g := fd.fit, fd.held, fd.g
	mc := model.Config{Arch: spec.Model.Architecture, EmbeddingDim: spec.Model.EmbeddingDim, HiddenUnits: spec.Model.HiddenUnits,
		Seed: spec.Optimization.Seed, EmbeddingInitStd: spec.Model.EmbeddingInitStd}
	m, err := model.New(mc, train.Schema)
	if err != nil {
		return nil, badInput("building the global model: %w", err)
	}
	// The artifact carries the raw ids behind its rows and the dataset's
	// digest: later runs map their data through them.
	if err := m.SetProvenance(model.Provenance{Vocab: train.Vocab, DatasetDigest: sp.digest}); err != nil {
		return nil, fmt.Errorf("recording the vocabulary: %w", err)
	}
	opt, err := newOptimizer(spec.Optimization)
	if err != nil {
		return nil, err
	}
	lg.printf("dataset %s: %s", orDefault(spec.Dataset.URI, spec.Dataset.Format), sp.digest)
	if held != nil {
		lg.printf("holding out the last %g of each user's train rows: %d rows the model never trains on", spec.Dataset.Split.HoldoutFraction, len(held.Samples))
	}
	lg.printf("pretraining %s (%d parameters) on %d samples of %d users, global CTR %.4f; %s lr %g decay %g, batch %d, %d epochs",
		mc.Arch, m.NumParams(), len(fit.Samples), train.Schema.NumUsers, g, orDefault(spec.Optimization.Optimizer, OptimizerSGD),
		spec.Optimization.LearningRate, spec.Optimization.LearningRateDecay, spec.Optimization.BatchSize, spec.Optimization.Epochs)
	if err := trainGlobal(ctx, m, fit.Samples, opt, spec.Optimization, opts.pretrainWorkers, lg); err != nil {
		return nil, err
	}
	stats, err := fd.stats(m, spec, sp)
	if err != nil {
		return nil, err
	}
	lg.printf("cloud user-level AUC %.4f over %d test users (%d single-class users left out)", stats.CloudAUC, stats.Users, stats.singleClass)

	if stats.ArtifactURI, stats.Digest, err = saveGlobal(ctx, spec.OutputURI, m); err != nil {
		return nil, err
	}
	stats.Seconds = time.Since(start).Seconds()
	lg.printf("saved %s (%s)", stats.ArtifactURI, stats.Digest)
	return &runspec.Summary{Pretrain: &stats.PretrainStats}, nil
}

// saveGlobal saves a global model as outputURI/ModelFile and returns its
// URI and digest ("sha256:<hex>").
func saveGlobal(ctx context.Context, outputURI string, m *model.Model) (uri, digest string, err error) {
	uri = storage.Join(outputURI, ModelFile)
	err = storage.Write(ctx, uri, func(w io.Writer) error {
		d, err := m.Save(w)
		digest = d
		return err
	})
	if err != nil {
		return "", "", storageError(err, "saving the global model")
	}
	return uri, fmtDigest(digest), nil
}

// fitted is what a global model trains on: fit, the train split without
// the rows held out (held, nil when none are), and fit's global CTR g;
// partitions is the URI of the split's partitions ("" when none were
// written).
type fitted struct {
	partitions string
	fit, held  *data.Dataset
	g          float64
}

// prepareFit writes the split's partitions when the spec asks for them,
// holds out the spec's share of each user's train rows and measures the
// global CTR of the rest.
func prepareFit(ctx context.Context, spec *runspec.Spec, sp *split, lg *logger) (f fitted, err error) {
	if spec.WritePartitions {
		if f.partitions, err = writePartitions(ctx, storage.Join(spec.OutputURI, PartitionsDir), spec.Dataset, sp.digest, sp.train, sp.test, lg); err != nil {
			return fitted{}, err
		}
	}
	if f.fit, f.held, err = holdOut(sp.train, spec.Dataset.Split.HoldoutFraction); err != nil {
		return fitted{}, err
	}
	if f.g, err = trainCTR(f.fit); err != nil {
		return fitted{}, err
	}
	return f, nil
}

// stats measures m, trained on f, on the split and records what it
// trained on.
func (f fitted) stats(m *model.Model, spec *runspec.Spec, sp *split) (*pretrainStats, error) {
	stats, err := dataStats(m, sp.train, sp.test)
	if err != nil {
		return nil, err
	}
	stats.GlobalCTR, stats.DatasetDigest, stats.PartitionsURI = f.g, sp.digest, f.partitions
	stats.Samples = int64(len(f.fit.Samples))
	if f.held != nil {
		stats.HoldoutFraction, stats.HoldoutSamples = spec.Dataset.Split.HoldoutFraction, int64(len(f.held.Samples))
	}
	return stats, nil
}

// holdOut splits train into the rows a model trains on and the last
// runspec.HoldoutCount(n, f) of each user's n rows, held out (nil when f is
// 0: fit is train itself). The split copies the samples once.
func holdOut(train *data.Dataset, f float64) (fit, held *data.Dataset, err error) {
	if f == 0 {
		return train, nil, nil
	}
	if !(f > 0 && f <= runspec.MaxHoldoutFraction) {
		return nil, nil, badInput("holdout fraction %v is outside (0, %g]", f, runspec.MaxHoldoutFraction)
	}
	fit, held, err = data.SplitLast(train, func(n int) int { return runspec.HoldoutCount(n, f) })
	if err != nil {
		return nil, nil, badInput("holding out rows: %w", err)
	}
	if len(fit.Samples) == 0 {
		return nil, nil, badInput("holdout fraction %v leaves no rows to train on", f)
	}
	return fit, held, nil
}

// trainCTR is the global CTR g of the train split, which must be in (0, 1):
// label correction is undefined otherwise.
func trainCTR(train *data.Dataset) (float64, error) {
	g, err := data.GlobalCTR(train)
	if err != nil {
		return 0, badInput("global CTR: %w", err)
	}
	if !(g > 0 && g < 1) {
		return 0, badInput("the train split's global CTR is %v: a CTR model needs both clicks and non-clicks", g)
	}
	return g, nil
}

type pretrainStats struct {
	runspec.PretrainStats
	singleClass int
}

// dataStats fills the data-dependent fields of PretrainStats: users and
// samples of the train split, the local-CTR quantiles of training users,
// and m's user-level Cloud AUC on the test split (0 when undefined).
func dataStats(m *model.Model, train, test *data.Dataset) (*pretrainStats, error) {
	if err := checkSchema(m, train); err != nil {
		return nil, err
	}
	us := data.ComputeUserStats(train)
	qv, err := data.LocalCTRQuantiles(us, Quantiles)
	if err != nil {
		return nil, badInput("local CTR quantiles: %w", err)
	}
	st := &pretrainStats{PretrainStats: runspec.PretrainStats{Users: int64(len(us)), Samples: int64(len(train.Samples))}}
	for i, q := range Quantiles {
		st.Quantiles = append(st.Quantiles, [2]float64{q, qv[i]})
	}
	ev, err := evalCloud(m, test)
	if err != nil {
		return nil, err
	}
	if !math.IsNaN(ev.AUC) {
		st.CloudAUC = ev.AUC
	}
	st.singleClass = ev.SingleClassUsers
	return st, nil
}

// verify checks that the imported model at GlobalModel.URI loads and has
// the spec's digest. When the spec names a dataset, it also reports the
// data statistics of pretrain (users, samples, quantiles, Cloud AUC), and
// the train split's global CTR if the spec gives none.
func verify(ctx context.Context, spec *runspec.Spec, lg *logger) (*runspec.Summary, error) {
	start := time.Now()
	m, digest, err := LoadModel(ctx, spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	lg.printf("%s loads (%s, %d parameters) and has digest %s", spec.GlobalModel.URI, m.Config().Arch, m.NumParams(), digest)
	st := &runspec.PretrainStats{
		ArtifactURI: spec.GlobalModel.URI,
		Digest:      digest,
		GlobalCTR:   spec.GlobalModel.GlobalCTR,
		Users:       int64(m.Schema().NumUsers),
	}
	if spec.Dataset.Format != "" {
		sp, err := modelData(ctx, m, spec.Dataset, nil, lg)
		if err != nil {
			return nil, err
		}
		train, test := sp.train, sp.test
		ds, err := dataStats(m, train, test)
		if err != nil {
			return nil, fmt.Errorf("evaluating the imported model: %w", err)
		}
		ds.ArtifactURI, ds.Digest, ds.GlobalCTR, ds.DatasetDigest = st.ArtifactURI, st.Digest, st.GlobalCTR, sp.digest
		if ds.GlobalCTR == 0 {
			if ds.GlobalCTR, err = trainCTR(train); err != nil {
				return nil, err
			}
		}
		st = &ds.PretrainStats
		lg.printf("cloud user-level AUC %.4f on the dataset's test split", st.CloudAUC)
	}
	st.Seconds = time.Since(start).Seconds()
	return &runspec.Summary{Pretrain: st}, nil
}
