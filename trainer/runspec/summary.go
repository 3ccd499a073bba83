package runspec

import (
	"encoding/json"
	"fmt"
)

// MaxSummaryBytes is the Kubernetes limit on a termination message.
const MaxSummaryBytes = 4096

// Summary is what one shard writes to its termination message. Every count
// and sum is additive, so the controller gets exact totals for any number of
// shards by adding the summaries up (Add).
type Summary struct {
	Kind  Kind   `json:"kind"`
	Shard int    `json:"shard"`
	Arch  string `json:"arch"` // GOARCH the shard ran on
	// Error is set (with the exit code) when the shard failed; the rest may be empty.
	Error string `json:"error,omitempty"`

	Finetune *FinetuneStats `json:"finetune,omitempty"`
	Pretrain *PretrainStats `json:"pretrain,omitempty"`
	Search   *SearchStats   `json:"search,omitempty"`
	// ReportURI is the full result JSON of this shard.
	ReportURI string `json:"reportURI,omitempty"`
	// ReportDigest is the sha256 of the report's bytes ("sha256:<hex>"):
	// the controller keeps it, and when the shard's pod is gone before it
	// was read, reads the report instead and checks it against it.
	ReportDigest string `json:"reportDigest,omitempty"`
	// DatasetDigest is the sha256 of the dataset the shard read (the same
	// in every shard of a run).
	DatasetDigest string `json:"datasetDigest,omitempty"`
	// Model is the model artifact the shard saved: a Pooled cohort's
	// fine-tuned group model (written by shard 0). Not additive.
	Model *SavedModel `json:"model,omitempty"`
	// UserModelsURI is the shard's file of per-user deltas (Cohort.UserModels
	// Deltas), or "".
	UserModelsURI string `json:"userModelsURI,omitempty"`
	// PeakRSSBytes is the trainer process's peak resident set size;
	// CgroupPeakBytes its container's peak memory usage (0 outside a
	// cgroup that reports it). Per shard, not additive.
	PeakRSSBytes    int64 `json:"peakRSS,omitempty"`
	CgroupPeakBytes int64 `json:"cgroupPeak,omitempty"`
}

// SavedModel is a model artifact a run wrote.
type SavedModel struct {
	URI    string `json:"uri"`
	Digest string `json:"digest"` // sha256:<hex> of the file
	// RolledBack is true when the fine-tuning diverged and the file holds
	// the global model's parameters instead (what devices keep).
	RolledBack bool `json:"rolledBack,omitempty"`
}

// WeightedAUC is the sufficient statistic of a user-level AUC: the sum of
// n_u*AUC_u and the sum of n_u over users with a two-class test set.
type WeightedAUC struct {
	Sum    float64 `json:"s"`
	Weight float64 `json:"w"`
}

// Value is Sum/Weight, or false when no user counted.
func (w WeightedAUC) Value() (float64, bool) {
	if w.Weight <= 0 {
		return 0, false
	}
	return w.Sum / w.Weight, true
}

// Add returns the sum of two statistics.
func (w WeightedAUC) Add(o WeightedAUC) WeightedAUC {
	return WeightedAUC{Sum: w.Sum + o.Sum, Weight: w.Weight + o.Weight}
}

// FinetuneStats are one shard's additive results of a fine-tuning run.
type FinetuneStats struct {
	Cloud WeightedAUC `json:"cloud"`
	Local WeightedAUC `json:"local"`
	LCFT  WeightedAUC `json:"lcft"`

	Users            int64   `json:"users"`       // fine-tuned and evaluated
	SkippedUsers     int64   `json:"skipped"`     // in range, too few samples
	SingleClassUsers int64   `json:"singleClass"` // left out of the AUCs
	Improved         int64   `json:"improved"`    // LCFT vs Cloud, per user
	Unchanged        int64   `json:"unchanged"`   //
	Degraded         int64   `json:"degraded"`    //
	CorrectedUsers   int64   `json:"corrected"`   // labels other than (1, 0)
	Samples          int64   `json:"samples"`     // training samples fine-tuned on
	LocalCTRSum      float64 `json:"ctrSum"`      // sum of users' local CTRs
	PositiveLabelSum float64 `json:"posLabelSum"` // sum over samples of the positive label used
	NegativeLabelSum float64 `json:"negLabelSum"` // sum over samples of the negative label used
	Seconds          float64 `json:"seconds"`     // fine-tuning and evaluation time
	// Out of the model's vocabulary (this shard's users): samples dropped
	// and distinct users among them, both additive over shards.
	OOVSamples int64 `json:"oovSamples,omitempty"`
	OOVUsers   int64 `json:"oovUsers,omitempty"`
	// OOVItems are the distinct unknown items of this shard's rows; shards
	// may share items, so the cohort's count is the largest shard's.
	OOVItems int64 `json:"oovItems,omitempty"`
	// BytesRead of dataset partitions (0 when the shard read the source).
	BytesRead int64 `json:"bytesRead,omitempty"`
	// DivergedUsers counts, per arm, the users whose fine-tuning produced
	// a non-finite loss, parameter or logit. They are rolled back to the
	// Cloud model in that arm (their Local or LCFT AUC is their Cloud AUC)
	// and stay in Users and in the AUCs.
	DivergedUsers ArmCounts `json:"divergedUsers"`
	// UserModels is the number of users whose LCFT model the shard saved
	// as a delta (Cohort.UserModels Deltas; a user whose fine-tuning
	// diverged is saved as an empty delta: the global model), and
	// UserModelBytes the bytes of those deltas.
	UserModels     int64 `json:"userModels,omitempty"`
	UserModelBytes int64 `json:"userModelBytes,omitempty"`
	// LCFTLocal and LCFTCloud are the paired differences of each evaluated
	// two-class user's test AUC, LCFT - Local and LCFT - Cloud, weighted by
	// the user's test rows: their Interval95 is the cohort's interval,
	// exact across shards.
	LCFTLocal PairedSums `json:"lcftLocal"`
	LCFTCloud PairedSums `json:"lcftCloud"`
}

// ArmCounts counts users per fine-tuned arm.
type ArmCounts struct {
	Local int64 `json:"local"` // fine-tuned with the original labels
	LCFT  int64 `json:"lcft"`  // fine-tuned with the corrected labels
}

// Add returns the sum of two counts.
func (a ArmCounts) Add(o ArmCounts) ArmCounts {
	return ArmCounts{Local: a.Local + o.Local, LCFT: a.LCFT + o.LCFT}
}

// Add accumulates o into f.
func (f *FinetuneStats) Add(o *FinetuneStats) {
	f.Cloud = f.Cloud.Add(o.Cloud)
	f.Local = f.Local.Add(o.Local)
	f.LCFT = f.LCFT.Add(o.LCFT)
	f.Users += o.Users
	f.SkippedUsers += o.SkippedUsers
	f.SingleClassUsers += o.SingleClassUsers
	f.Improved += o.Improved
	f.Unchanged += o.Unchanged
	f.Degraded += o.Degraded
	f.CorrectedUsers += o.CorrectedUsers
	f.Samples += o.Samples
	f.LocalCTRSum += o.LocalCTRSum
	f.PositiveLabelSum += o.PositiveLabelSum
	f.NegativeLabelSum += o.NegativeLabelSum
	f.Seconds += o.Seconds
	f.OOVSamples += o.OOVSamples
	f.OOVUsers += o.OOVUsers
	f.OOVItems = max(f.OOVItems, o.OOVItems)
	f.BytesRead += o.BytesRead
	f.DivergedUsers = f.DivergedUsers.Add(o.DivergedUsers)
	f.UserModels += o.UserModels
	f.UserModelBytes += o.UserModelBytes
	f.LCFTLocal = f.LCFTLocal.Add(o.LCFTLocal)
	f.LCFTCloud = f.LCFTCloud.Add(o.LCFTCloud)
}

// PretrainStats describe a pretrained global model.
type PretrainStats struct {
	ArtifactURI string `json:"artifactURI"`
	Digest      string `json:"digest"` // sha256:<hex>
	// DatasetDigest is the sha256 of the data the statistics come from
	// (for a pretrained model, its training data).
	DatasetDigest string `json:"datasetDigest,omitempty"`
	// PartitionsURI is the manifest of the partitioned dataset the run
	// wrote (Spec.WritePartitions), or "".
	PartitionsURI string       `json:"partitionsURI,omitempty"`
	GlobalCTR     float64      `json:"globalCTR"`
	Users         int64        `json:"users"`
	Samples       int64        `json:"samples"`
	CloudAUC      float64      `json:"cloudAUC"`
	Quantiles     [][2]float64 `json:"quantiles"` // (quantile, local CTR) pairs
	Seconds       float64      `json:"seconds"`
	// HoldoutFraction is the run's Split.HoldoutFraction and
	// HoldoutSamples the train rows it held out of the model's training
	// (sum over users of HoldoutCount); Samples counts the rows trained on.
	// They go to the model's ModelArtifact for searches.
	HoldoutFraction float64 `json:"holdoutFraction,omitempty"`
	HoldoutSamples  int64   `json:"holdoutSamples,omitempty"`
	// Distill describes a distillation round (Spec.Distill), or nil.
	Distill *DistillStats `json:"distill,omitempty"`
}

// Encode marshals s and checks it fits in a termination message.
func (s *Summary) Encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding summary: %w", err)
	}
	if len(b) > MaxSummaryBytes {
		return nil, fmt.Errorf("summary is %d bytes, over the %d-byte termination message limit", len(b), MaxSummaryBytes)
	}
	return b, nil
}

// DecodeSummary parses a termination message and validates it (Validate).
// A message over MaxSummaryBytes is refused: Kubernetes would have cut it,
// so it did not come whole from a trainer.
func DecodeSummary(msg string) (*Summary, error) {
	if len(msg) > MaxSummaryBytes {
		return nil, fmt.Errorf("decoding shard summary: %d bytes, over the %d-byte termination message limit", len(msg), MaxSummaryBytes)
	}
	var s Summary
	if err := json.Unmarshal([]byte(msg), &s); err != nil {
		return nil, fmt.Errorf("decoding shard summary: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// ShardReport is the part of a fine-tuning shard's report (the JSON at
// Summary.ReportURI, report-shard-<i>.json) that holds what its summary
// holds: the controller reads it when the shard's pod is gone before its
// termination message was read. The trainer's report has these fields
// under these names (a test of the trainer's runner checks it).
type ShardReport struct {
	Shard         int         `json:"shard"`
	Arch          string      `json:"arch"`
	DatasetDigest string      `json:"datasetDigest,omitempty"`
	GroupModel    *SavedModel `json:"groupModel,omitempty"`
	UserModels    *struct {
		URI string `json:"uri"`
	} `json:"userModels,omitempty"`
	Summary FinetuneStats `json:"summary"`
}

// DecodeShardReport parses a shard's report and checks it as a summary
// would be checked (DecodeSummary): the controller takes the same numbers
// from it.
func DecodeShardReport(b []byte) (*ShardReport, error) {
	var r ShardReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding shard report: %w", err)
	}
	if err := r.AsSummary("", "").Validate(); err != nil {
		return nil, fmt.Errorf("decoding shard report: %w", err)
	}
	return &r, nil
}

// AsSummary is the summary the shard's pod would have written, with the
// report's own URI and digest.
func (r *ShardReport) AsSummary(uri, digest string) *Summary {
	st := r.Summary
	s := &Summary{Kind: KindFinetune, Shard: r.Shard, Arch: r.Arch, Finetune: &st, ReportURI: uri, ReportDigest: digest,
		DatasetDigest: r.DatasetDigest, Model: r.GroupModel}
	if r.UserModels != nil {
		s.UserModelsURI = r.UserModels.URI
	}
	return s
}

// ShardReportFile is the name of a fine-tuning shard's report inside the
// run's output directory.
func ShardReportFile(shard int) string { return fmt.Sprintf("report-shard-%d.json", shard) }
