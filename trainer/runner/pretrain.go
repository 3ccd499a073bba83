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
	start := time.Now()
	sp, err := loadSplit(ctx, spec.Dataset, data.Selection{}, nil)
	if err != nil {
		return nil, err
	}
	train, test := sp.train, sp.test
	var partitions string
	if spec.WritePartitions {
		if partitions, err = writePartitions(ctx, storage.Join(spec.OutputURI, PartitionsDir), spec.Dataset, sp.digest, train, test, lg); err != nil {
			return nil, err
		}
	}
	g, err := trainCTR(train)
	if err != nil {
		return nil, err
	}
	mc := model.Config{Arch: spec.Model.Architecture, EmbeddingDim: spec.Model.EmbeddingDim, HiddenUnits: spec.Model.HiddenUnits, Seed: spec.Optimization.Seed}
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
	lg.printf("pretraining %s (%d parameters) on %d samples of %d users, global CTR %.4f; %s lr %g decay %g, batch %d, %d epochs",
		mc.Arch, m.NumParams(), len(train.Samples), train.Schema.NumUsers, g, orDefault(spec.Optimization.Optimizer, OptimizerSGD),
		spec.Optimization.LearningRate, spec.Optimization.LearningRateDecay, spec.Optimization.BatchSize, spec.Optimization.Epochs)
	if err := trainGlobal(ctx, m, train.Samples, opt, spec.Optimization, opts.pretrainWorkers, lg); err != nil {
		return nil, err
	}
	stats, err := dataStats(m, train, test)
	if err != nil {
		return nil, err
	}
	stats.GlobalCTR, stats.DatasetDigest, stats.PartitionsURI = g, sp.digest, partitions
	lg.printf("cloud user-level AUC %.4f over %d test users (%d single-class users left out)", stats.CloudAUC, stats.Users, stats.singleClass)

	uri := storage.Join(spec.OutputURI, ModelFile)
	var digest string
	err = storage.Write(ctx, uri, func(w io.Writer) error {
		d, err := m.Save(w)
		digest = d
		return err
	})
	if err != nil {
		return nil, storageError(err, "saving the global model")
	}
	stats.ArtifactURI, stats.Digest = uri, fmtDigest(digest)
	stats.Seconds = time.Since(start).Seconds()
	lg.printf("saved %s (%s)", uri, stats.Digest)
	return &runspec.Summary{Pretrain: &stats.PretrainStats}, nil
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
