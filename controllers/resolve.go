package controllers

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// This file turns API objects into the trainer's run spec. The API server has
// validated the decimals already; parsing them again keeps a bad value that
// slipped past an old CRD from reaching a pod.

// decimals parses Decimal fields, collecting every error with its field path.
type decimals struct{ errs []error }

// parse reads a Decimal or SignedDecimal; an empty value gives fallback.
func parse[T ~string](d *decimals, field string, v T, fallback float64) float64 {
	if v == "" {
		return fallback
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.errs = append(d.errs, fmt.Errorf("%s: %q is not a decimal number", field, v))
		return fallback
	}
	return f
}

func (d *decimals) err() error { return errors.Join(d.errs...) }

// formatDecimal writes a float as a Decimal with up to 6 significant digits.
// The Decimal pattern allows two-digit exponents: a magnitude below 1e-99
// is written 0 and one beyond 9.99999e99 (infinities too) is cut to it, so
// the API server never refuses a status write over a number's spelling.
func formatDecimal(f float64) finetunev1alpha1.Decimal {
	const largest = 9.99999e99
	switch {
	case math.Abs(f) < 1e-99:
		f = 0
	case f > largest:
		f = largest
	case f < -largest:
		f = -largest
	}
	return finetunev1alpha1.Decimal(strconv.FormatFloat(f, 'g', 6, 64))
}

// formatLabel writes a label, which may be negative, with up to 6 significant digits.
func formatLabel(f float64) finetunev1alpha1.SignedDecimal {
	return finetunev1alpha1.SignedDecimal(formatDecimal(f))
}

// formatSigned writes a signed float for status fields that may be negative (lifts).
func formatSigned(f float64) string {
	return strconv.FormatFloat(f, 'f', 5, 64)
}

func resolveDataset(d *decimals, field string, ds finetunev1alpha1.DatasetSpec, historyLen int32) runspec.Dataset {
	out := runspec.Dataset{
		Format:            string(ds.Format),
		URI:               ds.URI,
		PositiveThreshold: parse(d, field+".positiveThreshold", ds.PositiveThreshold, 4),
		HistoryLength:     int(historyLen),
		Split: runspec.Split{
			Method:        string(ds.Split.Method),
			TrainFraction: parse(d, field+".split.trainFraction", ds.Split.TrainFraction, 0.8),
		},
	}
	// EarlierRows (the default) stays empty, so that runs from before the
	// field keep their identity.
	out.TestHistories = noneIf(string(ds.TestHistories), string(finetunev1alpha1.TestHistoriesEarlierRows))
	if out.Split.Method == "" {
		out.Split.Method = string(finetunev1alpha1.SplitPerUserFraction)
	}
	if ds.Split.Timestamp != nil {
		out.Split.Timestamp = *ds.Split.Timestamp
	}
	if n := ds.Negatives; n != nil {
		out.Negatives = &runspec.Negatives{PerPositive: int(n.PerPositive), Seed: uint64(max(n.Seed, 0))}
	}
	if s := ds.Synthetic; s != nil {
		out.Synthetic = &runspec.Synthetic{
			Users:          int(s.Users),
			Items:          int(s.Items),
			Categories:     int(s.Categories),
			SamplesPerUser: int(s.SamplesPerUser),
			GlobalCTR:      parse(d, field+".synthetic.globalCTR", s.GlobalCTR, 0.3),
			Drift:          parse(d, field+".synthetic.drift", s.Drift, 0.6),
			Seed:           uint64(s.Seed),
		}
	}
	return out
}

func resolveFineTuning(d *decimals, field string, ft finetunev1alpha1.FineTuningSpec) runspec.Optimization {
	return runspec.Optimization{
		Optimizer:         orDefault(string(ft.Optimizer), string(finetunev1alpha1.OptimizerSGD)),
		LearningRate:      parse(d, field+".learningRate", ft.LearningRate, 0.01),
		LearningRateDecay: parse(d, field+".learningRateDecay", ft.LearningRateDecay, 1),
		Epochs:            int(max(ft.Epochs, 1)),
		BatchSize:         int(orDefaultInt(ft.BatchSize, 32)),
		Seed:              uint64(ft.Seed),
		// All (the default) stays empty, so that runs from before the
		// field keep their identity (the run spec's hash).
		Scope: noneIf(string(ft.Scope), string(finetunev1alpha1.ScopeAll)),
	}
}

// noneIf is "" when v is the default def (or empty), v otherwise.
func noneIf(v, def string) string {
	if v == def {
		return ""
	}
	return v
}

// finish sets the directory the runs of obj write under,
// <store>/<namespace>/<kind>/<name> (each run in a subdirectory named by its
// hash), and reports every error met while resolving the spec.
func finish(spec runspec.Spec, d *decimals, opts Options, artifacts finetunev1alpha1.ArtifactsSpec, kind string, obj client.Object) (runspec.Spec, error) {
	base := artifacts.URI
	if base == "" {
		base = opts.ArtifactURI
	}
	if base == "" {
		d.errs = append(d.errs, errors.New("no artifact store: set spec.artifacts.uri or the operator's --artifact-uri"))
	}
	spec.OutputURI = joinURI(base, obj.GetNamespace(), kind, obj.GetName())
	return spec, d.err()
}

// joinURI appends path elements to a directory URI before its query, so
// that "s3://b/runs?endpoint=http://h:8333" stays an endpoint query:
// joinURI("s3://b/runs?region=x", "ns", "m") is "s3://b/runs/ns/m?region=x".
func joinURI(dir string, elems ...string) string {
	head, query, hasQuery := strings.Cut(dir, "?")
	out := strings.TrimRight(head, "/") + "/" + strings.Join(elems, "/")
	if hasQuery {
		out += "?" + query
	}
	return out
}

// pretrainSpec is the run spec of a GlobalModel's pretraining Job.
func pretrainSpec(gm *finetunev1alpha1.GlobalModel, opts Options) (runspec.Spec, error) {
	t := gm.Spec.Training
	d := &decimals{}
	hp := gm.Spec.Hyperparameters
	hidden := make([]int, len(hp.HiddenUnits))
	for i, h := range hp.HiddenUnits {
		hidden[i] = int(h)
	}
	spec := runspec.Spec{
		Version: runspec.Version,
		Kind:    runspec.KindPretrain,
		Name:    gm.Namespace + "/" + gm.Name,
		Dataset: resolveDataset(d, "spec.training.dataset", t.Dataset, orDefaultInt(hp.HistoryLength, 20)),
		Model: &runspec.Model{
			Architecture:     string(gm.Spec.Architecture),
			EmbeddingDim:     int(orDefaultInt(hp.EmbeddingDim, 16)),
			HiddenUnits:      hidden,
			EmbeddingInitStd: embeddingInitStd(d, hp.EmbeddingInitStd),
		},
		Optimization: runspec.Optimization{
			Optimizer:         orDefault(string(t.Optimizer), string(finetunev1alpha1.OptimizerSGD)),
			LearningRate:      parse(d, "spec.training.learningRate", t.LearningRate, 1),
			LearningRateDecay: parse(d, "spec.training.learningRateDecay", t.LearningRateDecay, 0.1),
			Epochs:            int(max(t.Epochs, 1)),
			BatchSize:         int(orDefaultInt(t.BatchSize, 32)),
			Seed:              uint64(t.Seed),
		},
		Shards: 1,
		// The pretraining reads the whole dataset anyway: it also writes it
		// partitioned by user, for the shards of cohorts on the same data.
		WritePartitions: true,
	}
	// The holdout rows stay train rows of the dataset (cohorts fine-tune on
	// them); only the pretraining leaves them out. Set after resolving, so
	// that cohorts on the same data still match the model's partitions.
	spec.Dataset.Split.HoldoutFraction = parse(d, "spec.training.holdoutFraction", t.HoldoutFraction, 0)
	return finish(spec, d, opts, gm.Spec.Artifacts, "globalmodels", gm)
}

// embeddingInitStd is the run spec's Model.EmbeddingInitStd: 0 for the
// default, so that runs from before the field keep their identity.
func embeddingInitStd(d *decimals, v finetunev1alpha1.Decimal) float64 {
	f := parse(d, "spec.hyperparameters.embeddingInitStd", v, runspec.DefaultEmbeddingInitStd)
	if f == runspec.DefaultEmbeddingInitStd {
		return 0
	}
	return f
}

// verifySpec is the run spec that checks an imported model.
func verifySpec(gm *finetunev1alpha1.GlobalModel, opts Options) (runspec.Spec, error) {
	imp := gm.Spec.Import
	d := &decimals{}
	spec := runspec.Spec{
		Version:      runspec.Version,
		Kind:         runspec.KindVerify,
		Name:         gm.Namespace + "/" + gm.Name,
		GlobalModel:  &runspec.ModelArtifact{URI: imp.ArtifactURI, Digest: imp.Digest, GlobalCTR: parse(d, "spec.import.globalCTR", imp.GlobalCTR, 0)},
		Optimization: runspec.Optimization{Epochs: 1, BatchSize: 1, LearningRate: 1},
		Shards:       1,
	}
	return finish(spec, d, opts, gm.Spec.Artifacts, "globalmodels", gm)
}

// modelArtifact is how runs refer to a Ready GlobalModel.
func modelArtifact(gm *finetunev1alpha1.GlobalModel) (*runspec.ModelArtifact, int32, error) {
	d := &decimals{}
	a := &runspec.ModelArtifact{
		URI:             gm.Status.ArtifactURI,
		Digest:          gm.Status.Digest,
		GlobalCTR:       parse(d, "status.globalCTR", gm.Status.GlobalCTR, 0),
		HoldoutFraction: parse(d, "status.holdoutFraction", gm.Status.HoldoutFraction, 0),
		HoldoutSamples:  gm.Status.HoldoutSamples,
	}
	return a, orDefaultInt(gm.Spec.Hyperparameters.HistoryLength, 20), d.err()
}

// searchSpec is the run spec of a CorrectionPolicy's search Job: its
// shards each score every cell on their users, and it validates on the
// model's holdout (spec.search.validationFraction is ignored). It is checked
// as the trainer would check it, so that a grid too large for the shards'
// summaries is refused before a Job is made.
func searchSpec(p *finetunev1alpha1.CorrectionPolicy, gm *finetunev1alpha1.GlobalModel, opts Options) (runspec.Spec, error) {
	s := p.Spec.Search
	d := &decimals{}
	model, historyLen, err := modelArtifact(gm)
	if err != nil {
		return runspec.Spec{}, err
	}
	search := &runspec.Search{
		MinSamples: int(orDefaultInt(s.MinSamples, 5)),
		Seeds:      append([]int64(nil), s.Seeds...),
	}
	for i, b := range s.Boundaries {
		search.Boundaries = append(search.Boundaries, parse(d, fmt.Sprintf("spec.search.boundaries[%d]", i), b, 0))
	}
	if s.Quantiles != nil {
		search.Quantiles = int(*s.Quantiles)
	}
	for i, v := range s.PositiveLabels {
		search.PositiveLabels = append(search.PositiveLabels, parse(d, fmt.Sprintf("spec.search.positiveLabels[%d]", i), v, 1))
	}
	for i, v := range s.NegativeLabels {
		search.NegativeLabels = append(search.NegativeLabels, parse(d, fmt.Sprintf("spec.search.negativeLabels[%d]", i), v, 0))
	}
	spec := runspec.Spec{
		Version:      runspec.Version,
		Kind:         runspec.KindSearch,
		Name:         p.Namespace + "/" + p.Name,
		Dataset:      resolveDataset(d, "spec.search.dataset", s.Dataset, historyLen),
		GlobalModel:  model,
		Optimization: resolveFineTuning(d, "spec.search.fineTuning", s.FineTuning),
		Search:       search,
		Shards:       int(orDefaultInt(s.Shards, 1)),
	}
	spec, err = finish(spec, d, opts, p.Spec.Artifacts, "correctionpolicies", p)
	if err != nil {
		return spec, err
	}
	if err := spec.Validate(); err != nil {
		return spec, fmt.Errorf("the search cannot run: %w", err)
	}
	return spec, nil
}

// policyCorrection is the correction a Ready policy resolves to (nil policy: Auto).
func policyCorrection(p *finetunev1alpha1.CorrectionPolicy) (*runspec.Correction, error) {
	if p == nil {
		return &runspec.Correction{Strategy: string(finetunev1alpha1.StrategyAuto)}, nil
	}
	c := &runspec.Correction{Strategy: string(p.Spec.Strategy)}
	if p.Spec.Strategy != finetunev1alpha1.StrategyHard {
		return c, nil
	}
	d := &decimals{}
	for i, g := range p.Status.Groups {
		f := fmt.Sprintf("status.groups[%d]", i)
		lg := runspec.LabelGroup{
			Min: parse(d, f+".ctrRange.min", g.CTRRange.Min, 0),
			Max: parse(d, f+".ctrRange.max", g.CTRRange.Max, 1),
		}
		if g.Strategy == finetunev1alpha1.GroupAuto {
			lg.Auto = true // the group's users keep their own Auto labels
		} else {
			lg.Positive = parse(d, f+".positiveLabel", g.PositiveLabel, 1)
			lg.Negative = parse(d, f+".negativeLabel", g.NegativeLabel, 0)
		}
		c.Groups = append(c.Groups, lg)
	}
	return c, d.err()
}

// finetuneSpec is the run spec of a cohort's Job.
func finetuneSpec(c *finetunev1alpha1.FineTuneCohort, gm *finetunev1alpha1.GlobalModel, p *finetunev1alpha1.CorrectionPolicy, opts Options) (runspec.Spec, error) {
	d := &decimals{}
	model, historyLen, err := modelArtifact(gm)
	if err != nil {
		return runspec.Spec{}, err
	}
	correction, err := policyCorrection(p)
	if err != nil {
		return runspec.Spec{}, err
	}
	cohort := &runspec.Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: int(orDefaultInt(c.Spec.MinSamples, 5)), Mode: orDefault(string(c.Spec.Mode), string(finetunev1alpha1.ModePerUser))}
	if o := c.Spec.Output; o != nil {
		cohort.UserModels = noneIf(string(o.UserModels), string(finetunev1alpha1.UserModelsNone))
	}
	if r := c.Spec.CTRRange; r != nil {
		cohort.MinCTR = parse(d, "spec.ctrRange.min", r.Min, 0)
		cohort.MaxCTR = parse(d, "spec.ctrRange.max", r.Max, 1)
	}
	shards := int(orDefaultInt(c.Spec.Shards, 1))
	if cohort.Mode == string(finetunev1alpha1.ModePooled) {
		shards = 1 // one model for the whole cohort
	}
	dataset := resolveDataset(d, "spec.dataset", c.Spec.Dataset, historyLen)
	dataset.Partitions = modelPartitions(gm, dataset, historyLen)
	spec := runspec.Spec{
		Version:      runspec.Version,
		Kind:         runspec.KindFinetune,
		Name:         c.Namespace + "/" + c.Name,
		Dataset:      dataset,
		GlobalModel:  model,
		Optimization: resolveFineTuning(d, "spec.fineTuning", c.Spec.FineTuning),
		Correction:   correction,
		Cohort:       cohort,
		Shards:       shards,
	}
	return finish(spec, d, opts, c.Spec.Artifacts, "finetunecohorts", c)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orDefaultInt(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

// modelPartitions is the partitioned copy of dataset that gm's pretraining
// wrote, when the cohort's dataset is the one gm was trained on (same
// source, threshold, split and history length); nil otherwise, and the
// shards read the source.
func modelPartitions(gm *finetunev1alpha1.GlobalModel, dataset runspec.Dataset, historyLen int32) *runspec.Partitions {
	if gm.Spec.Training == nil || gm.Status.Dataset == nil || gm.Status.Dataset.PartitionsURI == "" {
		return nil
	}
	trained := resolveDataset(&decimals{}, "", gm.Spec.Training.Dataset, historyLen)
	if !reflect.DeepEqual(trained, dataset) {
		return nil
	}
	return &runspec.Partitions{ManifestURI: gm.Status.Dataset.PartitionsURI, DatasetDigest: gm.Status.Dataset.Digest}
}
