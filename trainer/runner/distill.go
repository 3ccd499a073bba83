package runner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// distill is a pretraining run with spec.Distill: a MoMoDistill round. It
// reads the dataset through the predecessor's vocabulary (rows of users or
// items the predecessor never saw are dropped and counted, as in a
// fine-tuning run), writes its partitions when asked, gives the rows of
// taught users their teachers' soft targets (teach), trains the new model
// on them exactly as pretrain trains on hard labels (same optimizer,
// batches, shuffles, holdout), evaluates it as pretrain does, compares it
// with the predecessor user by user (comparePredecessor) and saves it to
// OutputURI/model.lcft.
func distill(ctx context.Context, spec *runspec.Spec, lg *logger, opts options) (*runspec.Summary, error) {
	start := time.Now()
	d := spec.Distill
	base, baseDigest, err := LoadModel(ctx, &d.Predecessor)
	if err != nil {
		return nil, fmt.Errorf("distill predecessor: %w", err)
	}
	vocab := base.Provenance().Vocab
	if vocab == nil {
		return nil, badInput("distill predecessor %s has no vocabulary (a format 1 artifact): teachers cannot be matched to users", d.Predecessor.URI)
	}
	sp, err := modelData(ctx, base, spec.Dataset, nil, lg)
	if err != nil {
		return nil, err
	}
	train, test := sp.train, sp.test
	fd, err := prepareFit(ctx, spec, sp, lg)
	if err != nil {
		return nil, err
	}
	fit := fd.fit
	tc, err := teach(ctx, d, base, baseDigest, fit, train, test)
	if err != nil {
		return nil, err
	}
	for i, t := range d.Teachers {
		lg.printf("teacher %d (%s) taught %d users", i, t.Name, tc.perTeacher[i])
	}
	lg.printf("distilling: %d of %d users (%d of %d rows) take the target %g*teacher+(1-%g)*label; %d rolled-back users keep their labels",
		tc.taughtUsers, len(data.UserRanges(fit)), tc.taughtSamples, len(fit.Samples), d.Weight, d.Weight, tc.rolledBack)
	m, err := newStudent(ctx, spec, base)
	if err != nil {
		return nil, err
	}
	if err := m.SetProvenance(model.Provenance{Vocab: vocab, DatasetDigest: sp.digest}); err != nil {
		return nil, fmt.Errorf("recording the vocabulary: %w", err)
	}
	opt, err := newOptimizer(spec.Optimization)
	if err != nil {
		return nil, err
	}
	if err := trainGlobal(ctx, m, tc.samples, opt, spec.Optimization, opts.pretrainWorkers, lg); err != nil {
		return nil, err
	}
	stats, err := fd.stats(m, spec, sp)
	if err != nil {
		return nil, err
	}
	ds, err := comparePredecessor(m, base, train, test, orShare(d.LongTailShare), opts.resamples, spec.Optimization.Seed)
	if err != nil {
		return nil, err
	}
	ds.PredecessorDigest, ds.Weight = baseDigest, d.Weight
	ds.TaughtUsers, ds.TaughtSamples, ds.RolledBackUsers = tc.taughtUsers, tc.taughtSamples, tc.rolledBack
	stats.Distill = ds
	lg.printf("cloud user-level AUC %.5f against the predecessor's %.5f: %+.5f [%+.5f, %+.5f] over %d users; long tail (%g of users, at most %d train rows) %+.5f [%+.5f, %+.5f] over %d users",
		ds.Overall.New, ds.Overall.Old, ds.Overall.Delta, ds.Overall.Lo, ds.Overall.Hi, ds.Overall.Users,
		ds.LongTailShare, ds.LongTailMaxRows, ds.LongTail.Delta, ds.LongTail.Lo, ds.LongTail.Hi, ds.LongTail.Users)
	if stats.ArtifactURI, stats.Digest, err = saveGlobal(ctx, spec.OutputURI, m); err != nil {
		return nil, err
	}
	stats.Seconds = time.Since(start).Seconds()
	lg.printf("saved %s (%s)", stats.ArtifactURI, stats.Digest)
	return &runspec.Summary{Pretrain: &stats.PretrainStats}, nil
}

func orShare(q float64) float64 {
	if q == 0 {
		return runspec.DefaultLongTailShare
	}
	return q
}

// newStudent is the model a distillation trains: the predecessor's
// parameters (Init Predecessor, loaded again so the predecessor stays
// intact for the comparison; spec.Model must describe it) or a fresh one
// from spec.Model on the predecessor's schema (Init Fresh).
func newStudent(ctx context.Context, spec *runspec.Spec, base *model.Model) (*model.Model, error) {
	mc := model.Config{Arch: spec.Model.Architecture, EmbeddingDim: spec.Model.EmbeddingDim, HiddenUnits: spec.Model.HiddenUnits,
		Seed: spec.Optimization.Seed, EmbeddingInitStd: spec.Model.EmbeddingInitStd}
	if spec.Distill.Init == runspec.DistillInitFresh {
		m, err := model.New(mc, base.Schema())
		if err != nil {
			return nil, badInput("building the distilled model: %w", err)
		}
		return m, nil
	}
	bc := base.Config()
	if mc.Arch != bc.Arch || mc.EmbeddingDim != bc.EmbeddingDim || !slices.Equal(mc.HiddenUnits, bc.HiddenUnits) {
		return nil, badInput("distill init %s: the model (%s, dim %d, hidden %v) is not the predecessor's (%s, dim %d, hidden %v)",
			runspec.DistillInitPredecessor, mc.Arch, mc.EmbeddingDim, mc.HiddenUnits, bc.Arch, bc.EmbeddingDim, bc.HiddenUnits)
	}
	m, _, err := LoadModel(ctx, &spec.Distill.Predecessor)
	if err != nil {
		return nil, fmt.Errorf("distill predecessor: %w", err)
	}
	return m, nil
}

// comparePredecessor scores every test user with the new model m and the
// predecessor base and compares their user-level AUCs, paired user by
// user, overall and on the long tail: the share q of the users with a
// defined test AUC who have the fewest train rows (ordered by train rows,
// then raw user id; the first ceil(q*n) of n users). Intervals are 95%
// paired percentile bootstraps over users (resamples, seed).
func comparePredecessor(m, base *model.Model, train, test *data.Dataset, q float64, resamples int, seed uint64) (*runspec.DistillStats, error) {
	trainRows := make(map[int32]int)
	for _, r := range data.UserRanges(train) {
		trainRows[r.User] = r.Len()
	}
	type userAUC struct {
		raw      string
		rows     int
		newA     float64
		oldA     float64
		testRows float64
	}
	var users []userAUC
	t := &tuner{}
	for _, r := range data.UserRanges(test) {
		s := test.Samples[r.Start:r.End]
		a, err := t.cloudAUC(m, s)
		if err != nil {
			return nil, fmt.Errorf("scoring the distilled model: %w", err)
		}
		b, err := t.cloudAUC(base, s)
		if err != nil {
			return nil, fmt.Errorf("scoring the predecessor: %w", err)
		}
		if math.IsNaN(a) || math.IsNaN(b) {
			continue
		}
		users = append(users, userAUC{raw: test.Vocab.Users.Name(r.User), rows: trainRows[r.User], newA: a, oldA: b, testRows: float64(len(s))})
	}
	if len(users) == 0 {
		return nil, badInput("no test user has a two-class test set: the distilled model cannot be compared with its predecessor")
	}
	compare := func(us []userAUC, seed uint64) (runspec.Comparison, error) {
		a, b, w := make([]float64, len(us)), make([]float64, len(us)), make([]float64, len(us))
		var c runspec.Comparison
		var sw float64
		for i, u := range us {
			a[i], b[i], w[i] = u.newA, u.oldA, u.testRows
			c.New += u.testRows * u.newA
			c.Old += u.testRows * u.oldA
			sw += u.testRows
		}
		c.New, c.Old, c.Users = c.New/sw, c.Old/sw, int64(len(us))
		var err error
		if c.Delta, c.Lo, c.Hi, err = metrics.PairedBootstrap(a, b, w, resamples, seed); err != nil {
			return c, fmt.Errorf("comparing with the predecessor: %w", err)
		}
		return c, nil
	}
	st := &runspec.DistillStats{LongTailShare: q}
	var err error
	if st.Overall, err = compare(users, seed); err != nil {
		return nil, err
	}
	st.PredecessorAUC = st.Overall.Old
	slices.SortStableFunc(users, func(x, y userAUC) int {
		if x.rows != y.rows {
			return x.rows - y.rows
		}
		if x.raw < y.raw {
			return -1
		}
		if x.raw > y.raw {
			return 1
		}
		return 0
	})
	k := max(1, int(math.Ceil(q*float64(len(users)))))
	tail := users[:min(k, len(users))]
	st.LongTailMaxRows = int64(tail[len(tail)-1].rows)
	if st.LongTail, err = compare(tail, seed+1); err != nil {
		return nil, err
	}
	return st, nil
}
