// Package runspec is the contract between the operator and the trainer
// (DESIGN.md section 5): the run spec the controller writes as JSON into a
// ConfigMap, and the compact summary each trainer shard writes to its
// termination message. It holds plain data types only, no ML and no
// Kubernetes code, so both sides can import it.
package runspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Version of the run spec format. The trainer rejects other versions.
const Version = 1

// Kind of run.
type Kind string

const (
	KindPretrain Kind = "pretrain" // train the global model; write the model artifact
	KindFinetune Kind = "finetune" // fine-tune a cohort; evaluate Cloud, Local and LCFT
	KindSearch   Kind = "search"   // grid-search Hard labels per local-CTR group
	KindVerify   Kind = "verify"   // check an imported model: it loads and its digest matches
)

// Exit codes of the trainer. A Job's podFailurePolicy fails the Job at once on
// ExitBadInput; any other non-zero code is retried up to backoffLimit.
const (
	ExitOK       = 0
	ExitFailure  = 1 // transient or internal failure: retry
	ExitBadInput = 2 // unreadable data, wrong schema, unknown model, invalid spec: do not retry
)

// Environment variables the trainer reads besides its flags.
const (
	EnvShardIndex = "JOB_COMPLETION_INDEX" // set by Kubernetes for Indexed Jobs
	EnvShardCount = "LCFT_SHARD_COUNT"
	// EnvMemoryLimit is the container's memory limit in bytes (the
	// operator sets it from the downward API); the trainer keeps its heap
	// under 90% of it.
	EnvMemoryLimit = "LCFT_MEMORY_LIMIT"
)

// Bounds on the settings of a run. Past them a run is refused as bad input
// instead of diverging or running for days; the API validates the same
// bounds. They are generous: the paper pretrains at learning rate 1.0 and
// fine-tunes at 0.01 (SGD) or 0.001 (Adam) for 1 to 3 epochs, and its
// corrected labels stay within a few units of [0, 1].
const (
	// MaxLearningRate bounds Optimization.LearningRate (any optimizer).
	MaxLearningRate = 10.0
	// MaxEpochs bounds Optimization.Epochs.
	MaxEpochs = 1000
	// MaxLabelMagnitude bounds |label| of a Hard table and of a search's
	// label grid; the default grid leaves out cells beyond it. Strategy
	// labels computed per user (SoftPositive's g/r) are not bounded: a user
	// whose fine-tuning diverges on them is rolled back to the Cloud model
	// and counted.
	MaxLabelMagnitude = 100.0
)

// Spec is the fully resolved description of one run.
type Spec struct {
	Version int    `json:"version"`
	Kind    Kind   `json:"kind"`
	Name    string `json:"name,omitempty"` // namespace/name of the object, for logs and reports

	Dataset Dataset `json:"dataset"`
	// Model is the architecture to pretrain (KindPretrain).
	Model *Model `json:"model,omitempty"`
	// GlobalModel is the pretrained model to start from (KindFinetune, KindSearch).
	GlobalModel  *ModelArtifact `json:"globalModel,omitempty"`
	Optimization Optimization   `json:"optimization"`
	Correction   *Correction    `json:"correction,omitempty"` // KindFinetune
	Cohort       *Cohort        `json:"cohort,omitempty"`     // KindFinetune
	Search       *Search        `json:"search,omitempty"`     // KindSearch
	// Distill makes a pretraining run a distillation round (KindPretrain).
	Distill *Distill `json:"distill,omitempty"`

	// OutputURI is the directory the run writes to (model, reports), a gocloud.dev/blob URL or a path.
	OutputURI string `json:"outputURI"`
	// Shards is the number of shards of the run (the Job's completions).
	Shards int `json:"shards"`
	// WritePartitions asks a pretraining run to also write its dataset
	// partitioned by user (under OutputURI/partitions), for the shards of
	// later fine-tuning runs on the same dataset.
	WritePartitions bool `json:"writePartitions,omitempty"`
}

// Dataset locates and splits the samples.
type Dataset struct {
	Format            string     `json:"format"` // MovieLens | Samples | Synthetic | Amazon | Implicit
	URI               string     `json:"uri,omitempty"`
	PositiveThreshold float64    `json:"positiveThreshold,omitempty"`
	HistoryLength     int        `json:"historyLength"`
	Synthetic         *Synthetic `json:"synthetic,omitempty"`
	// Negatives configures the sampled negatives of the implicit-feedback
	// formats (Amazon, Implicit); nil takes the defaults.
	Negatives *Negatives `json:"negatives,omitempty"`
	Split     Split      `json:"split"`
	// TestHistories says which rows a test row's histories (the user's
	// positive and negative items, most recent HistoryLength of each) come
	// from: EarlierRows (the default) takes every earlier row of the user,
	// earlier test rows included, as a system serving impressions one by one
	// would know them; TrainRows freezes every test row's histories at the
	// end of the user's train rows. Rows are ordered by user, timestamp,
	// then item id (the tie order within a timestamp). The same rule applies
	// to a search's held-out rows.
	TestHistories string `json:"testHistories,omitempty"`
	// Partitions, when set, is the same dataset partitioned by user (written
	// by the pretraining of the global model): a shard reads only its own
	// partitions instead of URI.
	Partitions *Partitions `json:"partitions,omitempty"`
}

// Values of Dataset.TestHistories.
const (
	TestHistoriesEarlierRows = "EarlierRows"
	TestHistoriesTrainRows   = "TrainRows"
)

// Partitions locates a partitioned dataset.
type Partitions struct {
	// ManifestURI is the partitions' manifest.json.
	ManifestURI string `json:"manifestURI"`
	// DatasetDigest, when set, must be the manifest's dataset digest.
	DatasetDigest string `json:"datasetDigest,omitempty"`
}

// Negatives configures negative sampling for implicit feedback (every
// logged row a positive).
type Negatives struct {
	// PerPositive is the number of negatives per positive; 0 means 5.
	PerPositive int `json:"perPositive,omitempty"`
	// Seed of the per-user samplers.
	Seed uint64 `json:"seed,omitempty"`
}

// Synthetic configures the generator.
type Synthetic struct {
	Users          int     `json:"users"`
	Items          int     `json:"items"`
	Categories     int     `json:"categories"`
	SamplesPerUser int     `json:"samplesPerUser"`
	GlobalCTR      float64 `json:"globalCTR"`
	Drift          float64 `json:"drift"`
	Seed           uint64  `json:"seed"`
	// MinorityShare is data.SynthConfig.MinorityShare: the share of users
	// whose preference structure reverses the items' quality.
	MinorityShare float64 `json:"minorityShare,omitempty"`
}

// Split of samples into train and test.
//
// PerUserFraction puts the first round(n*TrainFraction) of a user's n rows
// (halves up, clamped to [1, n-1] for n >= 2; a user with one row is all
// train) into train, in the dataset's order: by timestamp, ties in file
// order. Timestamp puts rows with timestamp < Timestamp into train.
type Split struct {
	Method        string  `json:"method"` // PerUserFraction | Timestamp
	TrainFraction float64 `json:"trainFraction,omitempty"`
	Timestamp     int64   `json:"timestamp,omitempty"`
	// HoldoutFraction, for pretraining, holds the last HoldoutCount(n,
	// HoldoutFraction) = floor(n*HoldoutFraction) of each user's n train
	// rows out of the global model's training: they stay train rows (a
	// cohort fine-tunes on them) but the model never saw them, so a Hard
	// search can validate on them honestly. 0 (the default) holds nothing
	// out. In [0, MaxHoldoutFraction]. A search takes the fraction from its
	// GlobalModel (this field must then be 0 or equal to it); a finetune
	// run ignores it.
	HoldoutFraction float64 `json:"holdoutFraction,omitempty"`
}

// Model is an architecture and its size.
type Model struct {
	Architecture string `json:"architecture"`
	EmbeddingDim int    `json:"embeddingDim"`
	HiddenUnits  []int  `json:"hiddenUnits,omitempty"`
	// EmbeddingInitStd is the standard deviation of the normal
	// initialisation of embedding rows; 0 means DefaultEmbeddingInitStd.
	// In (0, MaxEmbeddingInitStd].
	EmbeddingInitStd float64 `json:"embeddingInitStd,omitempty"`
}

// DefaultEmbeddingInitStd is Model.EmbeddingInitStd when unset.
const DefaultEmbeddingInitStd = 0.05

// MaxEmbeddingInitStd bounds Model.EmbeddingInitStd.
const MaxEmbeddingInitStd = 1.0

// ModelArtifact is a saved model.
type ModelArtifact struct {
	URI       string  `json:"uri"`
	Digest    string  `json:"digest,omitempty"` // sha256:<hex>; checked when set
	GlobalCTR float64 `json:"globalCTR"`
	// HoldoutFraction is the Split.HoldoutFraction the model was
	// pretrained with (0: no holdout), and HoldoutSamples the rows it held
	// out (PretrainStats). A search needs HoldoutFraction > 0.
	HoldoutFraction float64 `json:"holdoutFraction,omitempty"`
	HoldoutSamples  int64   `json:"holdoutSamples,omitempty"`
}

// Optimization is how a model is trained or fine-tuned.
type Optimization struct {
	Optimizer         string  `json:"optimizer"` // SGD | Adam
	LearningRate      float64 `json:"learningRate"`
	LearningRateDecay float64 `json:"learningRateDecay"` // multiplier per epoch
	Epochs            int     `json:"epochs"`
	BatchSize         int     `json:"batchSize"`
	Seed              uint64  `json:"seed"`
	// Scope of fine-tuning: All (every parameter, the default), Sparse
	// (only the embedding and wide rows a user's samples touch; dense
	// layers frozen: the paper's sparse model update) or Patch (the whole
	// backbone frozen; each user trains a FiLM patch, a scale and a shift
	// per hidden unit of the MLP, or LR's term scales and shift: see
	// model.Replica.UsePatch). Not for pretraining; Patch not for Pooled
	// cohorts (a group model is saved whole, with no place for a patch).
	Scope string `json:"scope,omitempty"`
}

// Fine-tuning scopes of Optimization.Scope.
const (
	ScopeAll    = "All"
	ScopeSparse = "Sparse"
	ScopePatch  = "Patch"
)

// User models of Cohort.UserModels.
const (
	UserModelsNone   = "None"
	UserModelsDeltas = "Deltas"
)

// Correction is how labels are corrected.
type Correction struct {
	Strategy string       `json:"strategy"` // None | SoftPositive | SoftNegative | Auto | Hard
	Groups   []LabelGroup `json:"groups,omitempty"`
}

// LabelGroup is one row of a Hard table: users with local CTR in [Min, Max)
// (Max 1 includes 1) take these labels; with Auto, they keep the default
// Auto correction (each user's own labels from g and r) and Positive and
// Negative are ignored (a search writes 0 for them).
type LabelGroup struct {
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Positive float64 `json:"positive"`
	Negative float64 `json:"negative"`
	Auto     bool    `json:"auto,omitempty"`
}

// Cohort selects and fine-tunes users.
type Cohort struct {
	MinCTR     float64 `json:"minCTR"`
	MaxCTR     float64 `json:"maxCTR"` // [MinCTR, MaxCTR); MaxCTR 1 includes 1
	MinSamples int     `json:"minSamples"`
	Mode       string  `json:"mode"` // PerUser | Pooled
	// UserModels: None (the default) or Deltas, which makes a PerUser run
	// keep each user's LCFT model as a delta from the global model, one
	// file per shard with an index by user.
	UserModels string `json:"userModels,omitempty"`
}

// Search is the Hard strategy's grid search; see search.go for the
// protocol (holdout validation, seeds, shards, the choice rule).
type Search struct {
	Boundaries     []float64 `json:"boundaries,omitempty"` // inner group edges
	Quantiles      int       `json:"quantiles,omitempty"`  // or equal-user groups (default DefaultSearchQuantiles)
	PositiveLabels []float64 `json:"positiveLabels,omitempty"`
	NegativeLabels []float64 `json:"negativeLabels,omitempty"`
	// ValidationFraction is deprecated: a search validates on the global
	// model's holdout (GlobalModel.HoldoutFraction). It must be 0 or equal
	// to that fraction.
	ValidationFraction float64 `json:"validationFraction"`
	// MinSamples is the fewest fit rows (train rows not held out) a user
	// needs to be searched; 0 means 1.
	MinSamples int `json:"minSamples"`
	// Seeds repeat the fine-tuning of every user and cell with
	// Optimization.Seed set to each seed in turn; a user's validation AUC
	// of a cell is averaged over the seeds before the sums. Empty means one
	// run with Optimization.Seed. At most MaxSearchSeeds, distinct.
	Seeds []int64 `json:"seeds,omitempty"`
}

// Decode reads and validates a spec: one JSON object, no unknown fields,
// nothing after it.
func Decode(r io.Reader) (*Spec, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decoding run spec: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decoding run spec: data after the spec's JSON object")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks what the trainer needs before it starts work.
func (s *Spec) Validate() error {
	var errs []error
	if s.Version != Version {
		errs = append(errs, fmt.Errorf("version %d is not supported (want %d)", s.Version, Version))
	}
	switch s.Kind {
	case KindPretrain:
		if s.Model == nil {
			errs = append(errs, errors.New("model is required for kind pretrain"))
		}
		if s.Distill != nil {
			errs = append(errs, s.validateDistill())
		}
	case KindFinetune:
		if s.GlobalModel == nil || s.Cohort == nil || s.Correction == nil {
			errs = append(errs, errors.New("globalModel, cohort and correction are required for kind finetune"))
		}
	case KindVerify:
		if s.GlobalModel == nil || s.GlobalModel.Digest == "" {
			errs = append(errs, errors.New("globalModel with a digest is required for kind verify"))
		}
	case KindSearch:
		if s.GlobalModel == nil || s.Search == nil {
			errs = append(errs, errors.New("globalModel and search are required for kind search"))
		} else {
			errs = append(errs, s.validateSearch())
		}
	default:
		errs = append(errs, fmt.Errorf("kind %q is not one of pretrain, finetune, search, verify", s.Kind))
	}
	if s.Distill != nil && s.Kind != KindPretrain {
		errs = append(errs, fmt.Errorf("distill is for kind pretrain, not %s", s.Kind))
	}
	switch s.Dataset.TestHistories {
	case "", TestHistoriesEarlierRows, TestHistoriesTrainRows:
	default:
		errs = append(errs, fmt.Errorf("dataset testHistories %q is not one of %s, %s", s.Dataset.TestHistories, TestHistoriesEarlierRows, TestHistoriesTrainRows))
	}
	if h := s.Dataset.Split.HoldoutFraction; !(h >= 0 && h <= MaxHoldoutFraction) {
		errs = append(errs, fmt.Errorf("dataset split holdoutFraction %v is outside [0, %g]", h, MaxHoldoutFraction))
	}
	if m := s.Model; m != nil && !(m.EmbeddingInitStd >= 0 && m.EmbeddingInitStd <= MaxEmbeddingInitStd) {
		errs = append(errs, fmt.Errorf("model embeddingInitStd %v is outside (0, %g] (0 means %g)", m.EmbeddingInitStd, MaxEmbeddingInitStd, DefaultEmbeddingInitStd))
	}
	if s.OutputURI == "" {
		errs = append(errs, errors.New("outputURI is required"))
	}
	if s.Shards < 1 {
		errs = append(errs, fmt.Errorf("shards must be at least 1, got %d", s.Shards))
	}
	o := s.Optimization
	if o.Epochs < 1 || o.BatchSize < 1 || !(o.LearningRate > 0) {
		errs = append(errs, fmt.Errorf("optimization needs epochs >= 1, batchSize >= 1 and learningRate > 0, got %d, %d, %g", o.Epochs, o.BatchSize, o.LearningRate))
	}
	if o.LearningRate > MaxLearningRate {
		errs = append(errs, fmt.Errorf("optimization learningRate %g is above %g: no CTR model trains at that rate (the paper uses 1.0 for pretraining, 0.01 for fine-tuning)", o.LearningRate, MaxLearningRate))
	}
	if o.Epochs > MaxEpochs {
		errs = append(errs, fmt.Errorf("optimization epochs %d is above %d", o.Epochs, MaxEpochs))
	}
	switch o.Scope {
	case "", ScopeAll:
	case ScopeSparse, ScopePatch:
		if s.Kind == KindPretrain {
			errs = append(errs, fmt.Errorf("optimization scope %s is for fine-tuning, not pretraining", o.Scope))
		}
		if c := s.Cohort; o.Scope == ScopePatch && c != nil && c.Mode == "Pooled" {
			errs = append(errs, errors.New("optimization scope Patch needs cohort mode PerUser (a Pooled run saves its group model whole, which has no place for a patch)"))
		}
	default:
		errs = append(errs, fmt.Errorf("optimization scope %q is not one of %s, %s, %s", o.Scope, ScopeAll, ScopeSparse, ScopePatch))
	}
	if c := s.Cohort; c != nil {
		switch c.UserModels {
		case "", UserModelsNone:
		case UserModelsDeltas:
			if c.Mode == "Pooled" {
				errs = append(errs, errors.New("cohort userModels Deltas needs mode PerUser (a Pooled run saves its group model)"))
			}
		default:
			errs = append(errs, fmt.Errorf("cohort userModels %q is not one of %s, %s", c.UserModels, UserModelsNone, UserModelsDeltas))
		}
	}
	if s.Correction != nil {
		for i, g := range s.Correction.Groups {
			if g.Auto {
				continue // labels ignored
			}
			errs = append(errs, checkLabel(fmt.Sprintf("correction group %d positive label", i), g.Positive),
				checkLabel(fmt.Sprintf("correction group %d negative label", i), g.Negative))
		}
	}
	if s.Search != nil {
		for _, v := range s.Search.PositiveLabels {
			errs = append(errs, checkLabel("search positive label", v))
		}
		for _, v := range s.Search.NegativeLabels {
			errs = append(errs, checkLabel("search negative label", v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid run spec: %w", err)
	}
	return nil
}

// checkLabel refuses a label that is not finite or exceeds
// MaxLabelMagnitude; nil otherwise.
func checkLabel(what string, v float64) error {
	if !(math.Abs(v) <= MaxLabelMagnitude) { // also NaN
		return fmt.Errorf("%s %v is outside [-%g, %g]", what, v, MaxLabelMagnitude, MaxLabelMagnitude)
	}
	return nil
}
