package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RunProgress is how far the running Job of an object has come, as its
// shards' trainers report it on their progress endpoints, which the
// operator polls (the trainer pods hold no API credentials). It is written
// at most once per the operator's --progress-interval per object, and is
// informational: no decision depends on it.
type RunProgress struct {
	// Summary for kubectl get: percent, done of total with the unit, and
	// the estimated time left, e.g. "45% (450/1000 users, ETA 2m10s)".
	Summary string `json:"summary"`
	// Stage of the shards that report most work ("loading", "pretraining",
	// "fine-tuning", "searching").
	// +optional
	Stage string `json:"stage,omitempty"`
	// Unit of done and total: samples (pretraining, pooled fine-tuning),
	// users (per-user fine-tuning) or cells (a search's user fine-tunings).
	// +optional
	Unit string `json:"unit,omitempty"`
	// Done and Total summed over the shards in Unit.
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// Percent of Total done, rounded down.
	Percent int32 `json:"percent"`
	// RatePerSecond of the shards together (decimal), from each shard's
	// done over its time in the stage.
	// +optional
	RatePerSecond Decimal `json:"ratePerSecond,omitempty"`
	// ETASeconds is the estimated time until the slowest shard is done;
	// unset when no shard has a rate yet.
	// +optional
	ETASeconds *int64 `json:"etaSeconds,omitempty"`
	// ShardsReporting is the number of shards whose progress is known.
	ShardsReporting int32 `json:"shardsReporting"`
	// Shards is each known shard's progress, by index.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=map
	// +listMapKey=index
	// +optional
	Shards []ShardProgress `json:"shards,omitempty"`
	// UpdatedAt is when the operator last polled the shards and found a
	// change (an unchanged progress is not written again).
	UpdatedAt metav1.Time `json:"updatedAt"`
}

// ShardProgress is one shard's progress in its current stage.
type ShardProgress struct {
	Index int32 `json:"index"`
	// +optional
	Stage string `json:"stage,omitempty"`
	// +optional
	Unit  string `json:"unit,omitempty"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	// StageSeconds the shard has spent in its stage, rounded.
	// +optional
	StageSeconds int64 `json:"stageSeconds,omitempty"`
}
