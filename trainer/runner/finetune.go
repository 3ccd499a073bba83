package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// Fine-tuning modes of runspec.Cohort.Mode.
const (
	ModePerUser = "PerUser" // one fine-tune per user (the offline evaluation); the default
	ModePooled  = "Pooled"  // one fine-tune on the cohort's pooled samples (the paper's online test)
)

// ReportFile is the name of a fine-tuning shard's report inside OutputURI.
func ReportFile(shard int) string { return runspec.ShardReportFile(shard) }

// cohortUser is an eligible user of a cohort.
type cohortUser struct {
	raw         string
	key         uint64
	shard       int
	ctr         float64 // local CTR of the training samples
	train, test []data.Sample
}

// cohortSel is the outcome of selecting a cohort's users.
type cohortSel struct {
	users   []cohortUser // eligible users of every shard, in dataset user order
	skipped []int        // per shard: in the CTR range but too few training samples or no test sample
}

// InCTRRange reports whether local CTR r is in [lo, hi), where hi == 1
// also admits r == 1 (so [x, 1] covers the top of the range).
func InCTRRange(r, lo, hi float64) bool {
	return r >= lo && (r < hi || (hi == 1 && r == 1))
}

// selectCohort picks the users of train whose local CTR is in the cohort's
// range. Of those, users with fewer than minSamples training samples, or
// without any test sample (nothing to evaluate), are skipped and counted
// by shard. Everything is computed for every shard, so that pooled mode
// trains on the whole cohort and each shard counts only its users.
func selectCohort(train, test *data.Dataset, c runspec.Cohort, minSamples, shards int) *cohortSel {
	testRange := make(map[int32]data.Range)
	for _, r := range data.UserRanges(test) {
		testRange[r.User] = r
	}
	sel := &cohortSel{skipped: make([]int, shards)}
	for _, r := range data.UserRanges(train) {
		tr := train.Samples[r.Start:r.End]
		pos := 0
		for i := range tr {
			if tr[i].Label == 1 {
				pos++
			}
		}
		ctr := float64(pos) / float64(len(tr))
		if !InCTRRange(ctr, c.MinCTR, c.MaxCTR) {
			continue
		}
		raw := train.Vocab.Users.Name(r.User)
		u := cohortUser{raw: raw, key: UserKey(raw), ctr: ctr, train: tr}
		u.shard = ShardOf(raw, shards)
		te, ok := testRange[r.User]
		if len(tr) < minSamples || !ok || te.Len() == 0 {
			sel.skipped[u.shard]++
			continue
		}
		u.test = test.Samples[te.Start:te.End]
		sel.users = append(sel.users, u)
	}
	return sel
}

// checkCohort validates the cohort fields Run needs beyond runspec.Validate.
func checkCohort(c *runspec.Cohort) (mode string, minSamples int, err error) {
	if !(c.MinCTR >= 0 && c.MinCTR < c.MaxCTR && c.MaxCTR <= 1) {
		return "", 0, badInput("cohort CTR range [%v, %v) is not a non-empty interval within [0, 1]", c.MinCTR, c.MaxCTR)
	}
	if c.MinSamples < 0 {
		return "", 0, badInput("cohort minSamples %d is negative", c.MinSamples)
	}
	mode = orDefault(c.Mode, ModePerUser)
	if mode != ModePerUser && mode != ModePooled {
		return "", 0, badInput("cohort mode %q is not one of %s, %s", c.Mode, ModePerUser, ModePooled)
	}
	// A user needs at least one training sample to be fine-tuned at all.
	return mode, max(c.MinSamples, 1), nil
}

// checkGlobalCTR validates the global CTR g of the model's training data.
func checkGlobalCTR(a *runspec.ModelArtifact) (float64, error) {
	g := a.GlobalCTR
	if !(g > 0 && g < 1) {
		return 0, badInput("globalModel.globalCTR %v is outside (0, 1)", g)
	}
	return g, nil
}

// corrector returns the corrector of a strategy name, with the spec's Hard
// table for Hard.
func corrector(name string, groups []runspec.LabelGroup) (correction.Corrector, error) {
	s, err := correction.ParseStrategy(name)
	if err != nil {
		return nil, badInput("correction: %w", err)
	}
	var table correction.HardTable
	if s == correction.Hard {
		for _, g := range groups {
			table = append(table, correction.Group{Min: g.Min, Max: g.Max, Positive: g.Positive, Negative: g.Negative, Auto: g.Auto})
		}
	}
	c, err := correction.New(s, table)
	if err != nil {
		return nil, badInput("correction: %w", err)
	}
	return c, nil
}

// finetune runs one shard of a cohort and writes its report.
func finetune(ctx context.Context, spec *runspec.Spec, shard int, lg *logger, opts options) (*runspec.Summary, error) {
	reports, err := finetuneCore(ctx, spec, shard, []string{spec.Correction.Strategy}, lg, opts, true)
	if err != nil {
		return nil, err
	}
	rep := reports[0]
	uri := storage.Join(spec.OutputURI, ReportFile(shard))
	digest, err := writeJSON(ctx, uri, rep)
	if err != nil {
		return nil, err
	}
	st := rep.Summary
	lg.printf("wrote %s", uri)
	sum := &runspec.Summary{Finetune: &st, ReportURI: uri, ReportDigest: digest, DatasetDigest: rep.DatasetDigest, Model: rep.GroupModel.savedModel()}
	if rep.UserModels != nil {
		sum.UserModelsURI = rep.UserModels.URI
	}
	return sum, nil
}

// writeJSON writes v as indented JSON to uri and returns the sha256 of the
// bytes written ("sha256:<hex>").
func writeJSON(ctx context.Context, uri string, v any) (string, error) {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", uri, err)
	}
	b = append(b, '\n')
	if err := storage.WriteAll(ctx, uri, b); err != nil {
		return "", storageError(err, "writing the report")
	}
	sum := sha256.Sum256(b)
	return fmtDigest(hex.EncodeToString(sum[:])), nil
}

// CompareStrategies evaluates several label-correction strategies on the
// same cohort in one pass: spec is a finetune spec (its Correction is
// ignored except for the Hard table) run as shard 0 of spec.Shards (1 for
// the whole cohort). Each user is scored with the Cloud model, fine-tuned
// once with the original labels (Local) and once per distinct corrected
// labelling, on the same batch order. It returns one report per strategy,
// in order; they share Cloud and Local. Strategy None gives LCFT == Local.
// Nothing is written, except, for a PerUser cohort with userModels
// Deltas, the users' models of the first strategy, as a run would save
// them (the first report names them).
func CompareStrategies(ctx context.Context, spec *runspec.Spec, strategies []string, progress io.Writer) ([]*Report, error) {
	if spec == nil {
		return nil, badInput("no run spec")
	}
	if err := spec.Validate(); err != nil {
		return nil, asBadInput(err)
	}
	if spec.Kind != runspec.KindFinetune {
		return nil, badInput("CompareStrategies needs a finetune spec, got kind %q", spec.Kind)
	}
	if len(strategies) == 0 {
		return nil, badInput("no strategies to compare")
	}
	lg := newLogger(progress, "[compare]")
	deltas := spec.Cohort.Mode != ModePooled && spec.Cohort.UserModels == runspec.UserModelsDeltas
	return finetuneCore(ctx, spec, 0, strategies, lg, defaultOptions(), deltas)
}

// finetuneCore fine-tunes shard's users for each strategy and returns one
// report per strategy. With saveModels, shard 0 of a Pooled run saves the
// model of the first strategy under spec.OutputURI (see saveGroupModel),
// and a PerUser run with userModels Deltas saves its users' models of the
// first strategy (see startUserModels); the first report names them.
func finetuneCore(ctx context.Context, spec *runspec.Spec, shard int, strategies []string, lg *logger, opts options, saveModels bool) ([]*Report, error) {
	mode, minSamples, err := checkCohort(spec.Cohort)
	if err != nil {
		return nil, err
	}
	g, err := checkGlobalCTR(spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	var groups []runspec.LabelGroup
	if spec.Correction != nil {
		groups = spec.Correction.Groups
	}
	corrs := make([]correction.Corrector, len(strategies))
	for i, s := range strategies {
		if corrs[i], err = corrector(s, groups); err != nil {
			return nil, err
		}
	}
	if _, err := newOptimizer(spec.Optimization); err != nil {
		return nil, err
	}
	m, digest, err := LoadModel(ctx, spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	// PerUser shards read only their own users; Pooled mode trains on the
	// whole cohort in every shard.
	var pick *shardPick
	if mode == ModePerUser && spec.Shards > 1 {
		pick = &shardPick{shard: shard, shards: spec.Shards}
	}
	sp, err := modelData(ctx, m, spec.Dataset, pick, lg)
	if err != nil {
		return nil, err
	}
	train, test := sp.train, sp.test
	start := time.Now()
	sel := selectCohort(train, test, *spec.Cohort, minSamples, spec.Shards)
	var mine []cohortUser
	for _, u := range sel.users {
		if u.shard == shard {
			mine = append(mine, u)
		}
	}
	lg.printf("cohort local CTR in [%g, %g): %d users in all shards, %d in this shard, %d skipped here (fewer than %d training samples or no test sample); g = %.4f, mode %s",
		spec.Cohort.MinCTR, spec.Cohort.MaxCTR, len(sel.users), len(mine), sel.skipped[shard], minSamples, g, mode)

	// labels[s][i] are user i's targets under strategy s.
	labels := make([][]correction.Labels, len(strategies))
	corrected := make([][]bool, len(strategies))
	var pooledCTR *float64
	var out []userOutcome
	var groupModel *GroupModel        // saved by a Pooled run
	var userModels *UserModelsSummary // saved by a PerUser run with userModels Deltas
	if mode == ModePooled {
		// Pooled: the whole cohort (all shards) trains one model; its labels
		// come from the pooled local CTR, the equivalent CTR of the data the
		// model is fine-tuned on, so that the corrected pooled data has
		// equivalent CTR g as a per-user correction gives each user.
		var pool []data.Sample
		pos := 0
		for _, u := range sel.users {
			pool = append(pool, u.train...)
			for i := range u.train {
				if u.train[i].Label == 1 {
					pos++
				}
			}
		}
		// Shard 0 trains (and saves) the group model even when none of
		// the cohort's users is its own.
		saveModel := saveModels && shard == 0
		if len(pool) == 0 || len(mine) == 0 && !saveModel {
			return reportsFor(spec, shard, strategies, m, digest, sp, g, mode, nil, nil, nil, nil, sel.skipped[shard], time.Since(start).Seconds(), opts)
		}
		r := float64(pos) / float64(len(pool))
		pooledCTR = &r
		arms := []correction.Labels{correction.Identity}
		for s, c := range corrs {
			lab, applied, err := c.Correct(g, r)
			if err != nil {
				return nil, badInput("correcting pooled labels: %w", err)
			}
			arms = append(arms, lab)
			labels[s] = slices.Repeat([]correction.Labels{lab}, len(mine))
			corrected[s] = slices.Repeat([]bool{applied}, len(mine))
		}
		lg.printf("pooled fine-tuning on %d samples of %d users, pooled local CTR %.4f", len(pool), len(sel.users), r)
		tasks := make([]userTask, len(mine))
		for i, u := range mine {
			tasks[i] = userTask{raw: u.raw, key: u.key, train: u.train, test: u.test}
		}
		lg.tr.Begin("fine-tuning", runspec.UnitSamples, int64(distinctArms(arms))*int64(len(pool))*int64(spec.Optimization.Epochs))
		var keep func(pooledArm) error
		if saveModel {
			keep = func(arm pooledArm) error {
				if groupModel, err = saveGroupModel(ctx, spec.OutputURI, m, arm, sp.digest); err != nil {
					return err
				}
				groupModel.Positive, groupModel.Negative = arms[1].Positive, arms[1].Negative
				lg.printf("saved the group model %s", groupModel)
				return nil
			}
		}
		if out, err = runPooled(ctx, m, pool, arms, tasks, spec.Optimization, lg, 1, keep); err != nil {
			return nil, err
		}
	} else {
		tasks := make([]userTask, len(mine))
		for s := range strategies {
			labels[s] = make([]correction.Labels, len(mine))
			corrected[s] = make([]bool, len(mine))
		}
		for i, u := range mine {
			arms := []correction.Labels{correction.Identity}
			for s, c := range corrs {
				lab, applied, err := c.Correct(g, u.ctr)
				if err != nil {
					return nil, badInput("user %q: correcting labels: %w", u.raw, err)
				}
				labels[s][i], corrected[s][i] = lab, applied
				arms = append(arms, lab)
			}
			tasks[i] = userTask{raw: u.raw, key: u.key, train: u.train, test: u.test, arms: arms, keep: 1, units: 1}
		}
		lg.tr.Begin("fine-tuning", runspec.UnitUsers, int64(len(tasks)))
		var um *userModelsWriter
		if saveModels && spec.Cohort.UserModels == runspec.UserModelsDeltas {
			if um, err = startUserModels(ctx, spec, shard, m, digest, tasks); err != nil {
				return nil, err
			}
		}
		if out, err = runPerUser(ctx, m, tasks, spec.Optimization, opts.workers, lg, "per-user fine-tuning", um.sink()); err != nil {
			um.abort()
			return nil, err
		}
		logDiverged(lg, tasks, out)
		if userModels, err = um.finish(lg); err != nil {
			return nil, err
		}
	}
	reports, err := reportsFor(spec, shard, strategies, m, digest, sp, g, mode, pooledCTR, mine, labels, corrected, sel.skipped[shard], time.Since(start).Seconds(), opts, out...)
	if err != nil {
		return nil, err
	}
	reports[0].GroupModel = groupModel
	if userModels != nil {
		reports[0].UserModels = userModels
		reports[0].Summary.UserModels, reports[0].Summary.UserModelBytes = int64(userModels.Users), userModels.Bytes
	}
	return reports, nil
}

// reportsFor builds one report per strategy from the outcomes (arm 0 is
// Local, arm s+1 strategy s).
func reportsFor(spec *runspec.Spec, shard int, strategies []string, m *model.Model, digest string, sp *split, g float64, mode string,
	pooledCTR *float64, users []cohortUser, labels [][]correction.Labels, corrected [][]bool, skipped int, seconds float64, opts options, out ...userOutcome) ([]*Report, error) {
	reports := make([]*Report, len(strategies))
	for s, name := range strategies {
		rep := &Report{
			Name: spec.Name, Shard: shard, Shards: spec.Shards, Arch: runtime.GOARCH,
			Architecture: m.Config().Arch, ModelURI: spec.GlobalModel.URI, ModelDigest: digest,
			Strategy: name, Mode: mode, GlobalCTR: g, Cohort: *spec.Cohort, Optimization: spec.Optimization,
			PooledCTR: pooledCTR, Users: make([]UserRow, len(users)),
			DatasetDigest: sp.digest, OOV: sp.oov, BytesRead: sp.bytesRead,
		}
		for i, u := range users {
			lab := labels[s][i]
			rep.Users[i] = UserRow{
				User: u.raw, LocalCTR: u.ctr, Train: len(u.train), Test: len(u.test),
				Positive: lab.Positive, Negative: lab.Negative, Corrected: corrected[s][i],
				Cloud: Float(out[i].cloud), Local: Float(out[i].arms[0]), LCFT: Float(out[i].arms[s+1]),
				LocalDiverged: out[i].diverged[0], LCFTDiverged: out[i].diverged[s+1],
			}
		}
		// The bootstrap seed is the run's seed, so a rerun gives the same
		// interval and two strategies are resampled on the same users.
		if err := rep.summarize(skipped, seconds, opts.resamples, spec.Optimization.Seed); err != nil {
			return nil, err
		}
		reports[s] = rep
	}
	return reports, nil
}

// DecodeReport parses a fine-tuning report.
func DecodeReport(b []byte) (*Report, error) {
	var r Report
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding fine-tuning report: %w", err)
	}
	return &r, nil
}
