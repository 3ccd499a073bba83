package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CorrectionStrategy names how local labels are corrected before fine-tuning.
// +kubebuilder:validation:Enum=None;SoftPositive;SoftNegative;Auto;Hard
type CorrectionStrategy string

const (
	// StrategyNone keeps the original 0/1 labels (the Local baseline).
	StrategyNone CorrectionStrategy = "None"
	// StrategySoftPositive keeps negatives at 0 and sets positives to g/r.
	StrategySoftPositive CorrectionStrategy = "SoftPositive"
	// StrategySoftNegative keeps positives at 1 and sets negatives to (g-r)/(1-r).
	StrategySoftNegative CorrectionStrategy = "SoftNegative"
	// StrategyAuto picks the side that keeps labels in [0, 1]: SoftPositive when r > g, SoftNegative when r < g.
	StrategyAuto CorrectionStrategy = "Auto"
	// StrategyHard looks labels up in a table of local-CTR groups (explicit or searched).
	StrategyHard CorrectionStrategy = "Hard"
)

// LabelGroup gives the labels of the users whose local CTR lies in ctrRange.
type LabelGroup struct {
	// CTRRange of the group's users, [min, max); a max of 1 includes 1.
	CTRRange CTRRange `json:"ctrRange"`
	// PositiveLabel replaces label 1; may leave [0, 1] (the paper allows it).
	// +kubebuilder:validation:XValidation:rule="!self.matches('^-?([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) >= -100.0 && double(self) <= 100.0)",message="positiveLabel must be in [-100, 100]"
	PositiveLabel SignedDecimal `json:"positiveLabel"`
	// NegativeLabel replaces label 0; may leave [0, 1].
	// +kubebuilder:validation:XValidation:rule="!self.matches('^-?([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) >= -100.0 && double(self) <= 100.0)",message="negativeLabel must be in [-100, 100]"
	NegativeLabel SignedDecimal `json:"negativeLabel"`
}

// LabelSearch is the Hard strategy's offline step: the operator runs a search
// Job that fine-tunes the global model per user, for each (positive,
// negative) label pair of a grid, on the user's training rows the model was
// pretrained on, and scores it on the rows the pretraining held out
// (the GlobalModel's spec.training.holdoutFraction; never the test split).
// Per local-CTR group, the best cell replaces Auto only when its lift over
// Auto on those rows has a 95% interval above zero; otherwise the group keeps
// Auto. A search against a model without a holdout is refused
// (condition reason ModelHasNoHoldout).
// +kubebuilder:validation:XValidation:rule="has(self.boundaries) != has(self.quantiles)",message="exactly one of boundaries and quantiles must be set"
type LabelSearch struct {
	// GlobalModelRef is the model to fine-tune; it must be Ready.
	GlobalModelRef ObjectReference `json:"globalModelRef"`
	// Dataset searched on; only its train split is used.
	Dataset DatasetSpec `json:"dataset"`
	// Boundaries of the local-CTR groups, strictly increasing inside (0, 1):
	// ["0.3", "0.6"] makes [0, 0.3), [0.3, 0.6), [0.6, 1]. At most 6 groups.
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:XValidation:rule="self.all(b, !b.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(b) > 0.0 && double(b) < 1.0))",message="boundaries must lie strictly inside (0, 1)"
	// +kubebuilder:validation:XValidation:rule="!self.all(x, x.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$')) || self.all(a, self.filter(b, double(b) <= double(a)).size() == self.filter(b, double(b) < double(a)).size() + 1)",message="boundaries must be distinct"
	// +listType=atomic
	// +optional
	Boundaries []Decimal `json:"boundaries,omitempty"`
	// Quantiles: the number of groups with equal numbers of training users.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=6
	// +optional
	Quantiles *int32 `json:"quantiles,omitempty"`
	// PositiveLabels of the grid. Empty means the trainer's default grid, which
	// always holds the identity (1, 0), both soft solutions of each group and
	// scaled variants of them.
	// Labels must lie in [-100, 100] (the default grid leaves out cells
	// beyond that); a cell under which a user's fine-tuning diverges is
	// invalid and never chosen. A group's grid holds at most 36 cells (the
	// identity and positives x negatives) and all groups at most 66: their
	// sums travel in the shards' termination messages.
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:XValidation:rule="self.all(v, !v.matches('^-?([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(v) >= -100.0 && double(v) <= 100.0))",message="positiveLabels must be in [-100, 100]"
	// +listType=atomic
	// +optional
	PositiveLabels []SignedDecimal `json:"positiveLabels,omitempty"`
	// NegativeLabels of the grid (see positiveLabels).
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:XValidation:rule="self.all(v, !v.matches('^-?([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(v) >= -100.0 && double(v) <= 100.0))",message="negativeLabels must be in [-100, 100]"
	// +listType=atomic
	// +optional
	NegativeLabels []SignedDecimal `json:"negativeLabels,omitempty"`
	// ValidationFraction is deprecated and ignored: a search validates on
	// the rows its GlobalModel held out of pretraining
	// (spec.training.holdoutFraction), recorded in status.holdoutFraction.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) < 1.0)",message="validationFraction must be in (0, 1)"
	// +optional
	ValidationFraction Decimal `json:"validationFraction,omitempty"`
	// FineTuning settings used for every grid cell.
	// +kubebuilder:default={}
	// +optional
	FineTuning FineTuningSpec `json:"fineTuning,omitempty"`
	// MinSamples a user needs in its training split to take part.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinSamples int32 `json:"minSamples,omitempty"`
	// Seeds the search repeats over (fine-tuning shuffles): each user's
	// validation AUC of a cell is averaged over the seeds before a cell is
	// chosen. Unset means fineTuning.seed alone.
	// +kubebuilder:validation:MaxItems=5
	// +listType=set
	// +optional
	Seeds []int64 `json:"seeds,omitempty"`
	// Shards of the search's Indexed Job: users are hashed to shards, each
	// shard scores every cell on its users, and the operator adds the
	// shards' per-cell sums up exactly (the table is the same for any shard
	// count).
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Shards int32 `json:"shards,omitempty"`
}

// CorrectionPolicySpec says how cohorts correct their labels. A policy is
// immutable once created (cohorts record the labels they used): create a new
// one to change it.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a CorrectionPolicy is immutable; create a new one"
// +kubebuilder:validation:XValidation:rule="self.strategy == 'Hard' ? (has(self.groups) != has(self.search)) : (!has(self.groups) && !has(self.search))",message="strategy Hard needs exactly one of groups and search; other strategies take neither"
type CorrectionPolicySpec struct {
	// Strategy: None, SoftPositive, SoftNegative, Auto or Hard.
	// +kubebuilder:default=Auto
	Strategy CorrectionStrategy `json:"strategy"`
	// Groups is an explicit Hard table; local-CTR ranges must not overlap.
	// Users outside every group keep their original labels.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:XValidation:rule="!self.all(g, g.ctrRange.min.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') && g.ctrRange.max.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$')) || self.all(a, self.filter(b, double(a.ctrRange.min) < double(b.ctrRange.max) && double(b.ctrRange.min) < double(a.ctrRange.max)).size() == 1)",message="groups must not overlap"
	// +listType=atomic
	// +optional
	Groups []LabelGroup `json:"groups,omitempty"`
	// Search fills the Hard table by grid search (a Job).
	// +optional
	Search *LabelSearch `json:"search,omitempty"`
	// Placement of the search pod.
	// +optional
	Placement Placement `json:"placement,omitempty"`
	// PodTemplate overrides parts of the search pod: service account,
	// credentials, volumes, labels. It merges over the operator's default
	// template. Like the rest of the policy it cannot change.
	// +optional
	PodTemplate *TrainerPodTemplate `json:"podTemplate,omitempty"`
	// Artifacts: where the search writes its full surface.
	// +optional
	Artifacts ArtifactsSpec `json:"artifacts,omitempty"`
	// RunPolicy of the search Job.
	// +optional
	RunPolicy `json:",inline"`
}

// SearchCell is one (positive, negative) label pair scored by the search.
type SearchCell struct {
	PositiveLabel SignedDecimal `json:"positiveLabel"`
	NegativeLabel SignedDecimal `json:"negativeLabel"`
	// Source of the cell: identity, softPositive×f or softNegative×f (the
	// default grid: the group's soft solution scaled by f), or grid (the
	// spec's labels).
	// +optional
	Source string `json:"source,omitempty"`
	// LiftVsAuto is the cell's seed-averaged validation AUC minus Auto's,
	// with its 95% interval over the group's users.
	// +optional
	LiftVsAuto *LiftInterval `json:"liftVsAuto,omitempty"`
	// LiftVsLocal is the cell's validation AUC minus the identity's.
	// +optional
	LiftVsLocal *LiftInterval `json:"liftVsLocal,omitempty"`
	// Diverged is true when some user's fine-tuning with these labels
	// produced a non-finite loss, parameter or logit (under any seed): the
	// cell is invalid and never chosen. DivergedUsers counts those users.
	// +optional
	Diverged bool `json:"diverged,omitempty"`
	// +optional
	DivergedUsers int64 `json:"divergedUsers,omitempty"`
}

// GroupStrategy is how the users of a resolved group correct their labels.
// +kubebuilder:validation:Enum=Hard;Auto
type GroupStrategy string

const (
	// GroupHard: the group's users take the group's positive and negative labels.
	GroupHard GroupStrategy = "Hard"
	// GroupAuto: the group's users keep the Auto correction (their own
	// soft labels): no cell of the search beat it on validation.
	GroupAuto GroupStrategy = "Auto"
)

// ResolvedLabelGroup is one row of the table cohorts use.
type ResolvedLabelGroup struct {
	CTRRange CTRRange `json:"ctrRange"`
	// Strategy of the group: Hard (the labels below) or Auto (a searched
	// group where no cell beat Auto). Empty means Hard.
	// +optional
	Strategy GroupStrategy `json:"strategy,omitempty"`
	// PositiveLabel and NegativeLabel of a Hard group; empty for Auto.
	// +optional
	PositiveLabel SignedDecimal `json:"positiveLabel,omitempty"`
	// +optional
	NegativeLabel SignedDecimal `json:"negativeLabel,omitempty"`
	// Reason of the search's choice (search only): BeatsAuto (the best
	// cell's lift over Auto has a 95% interval above zero), or, keeping
	// Auto, NotSignificant, AutoBest (no cell above Auto), TooFewUsers
	// (fewer than two scored users) or AllCellsDiverged.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message explains the choice with the numbers (search only).
	// +optional
	Message string `json:"message,omitempty"`
	// LiftVsAuto of the group's choice over Auto on validation, with its
	// 95% interval over the group's users (search only; zero for Auto).
	// +optional
	LiftVsAuto *LiftInterval `json:"liftVsAuto,omitempty"`
	// LiftVsLocal of the group's choice over the original labels on
	// validation, with its 95% interval (search only).
	// +optional
	LiftVsLocal *LiftInterval `json:"liftVsLocal,omitempty"`
	// Users of the search's training data in this group.
	// +optional
	Users int64 `json:"users,omitempty"`
	// ScoredUsers had a two-class validation set (search only): the
	// intervals are over them.
	// +optional
	ScoredUsers int64 `json:"scoredUsers,omitempty"`
	// MeanLocalCTR of the group's users (search only): the default grid's
	// soft labels come from it.
	// +optional
	MeanLocalCTR Decimal `json:"meanLocalCTR,omitempty"`
	// Cells is the whole searched surface of the group (search only).
	// +listType=atomic
	// +optional
	Cells []SearchCell `json:"cells,omitempty"`
}

// CorrectionPolicyStatus holds the resolved table.
type CorrectionPolicyStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase: Pending, Waiting, Queued, Running, Ready or Failed.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Admission of the run's Job by Kueue, when the object is labelled
	// kueue.x-k8s.io/queue-name.
	// +optional
	Admission *Admission `json:"admission,omitempty"`
	// JobName of the search Job.
	// +optional
	JobName string `json:"jobName,omitempty"`
	// Restarts counts the times the run's Job was deleted before it
	// finished and was made again (within the operator's
	// --max-job-restarts; beyond it the run fails with reason
	// JobRestartLimitExceeded). A new run starts at 0.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
	// HoldoutFraction of the global model the search validated on (its
	// status.holdoutFraction): the rows the model never saw.
	// +optional
	HoldoutFraction Decimal `json:"holdoutFraction,omitempty"`
	// Seeds the search averaged over.
	// +listType=atomic
	// +optional
	Seeds []int64 `json:"seeds,omitempty"`
	// ShardsSucceeded of the search Job.
	// +optional
	ShardsSucceeded int32 `json:"shardsSucceeded,omitempty"`
	// SkippedUsers of the search: too few fit rows or no held-out row.
	// +optional
	SkippedUsers int64 `json:"skippedUsers,omitempty"`
	// Groups is the resolved Hard table (explicit or searched).
	// At most 20, like spec.groups and the groups a search makes (19
	// boundaries or 20 quantiles): the bound keeps the CEL rules of
	// ctrRange within the API server's cost budget.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Groups []ResolvedLabelGroup `json:"groups,omitempty"`
	// ReportURI of the full search result.
	// +optional
	ReportURI string `json:"reportURI,omitempty"`
	// Progress of the running Job, polled from its shards (see RunProgress).
	// +optional
	Progress *RunProgress `json:"progress,omitempty"`
}

// CorrectionPolicy says how FineTuneCohorts correct local labels.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cpol,categories=lcft
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress.summary`
// +kubebuilder:printcolumn:name="Flavor",type=string,JSONPath=`.status.admission.arch`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CorrectionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CorrectionPolicySpec   `json:"spec,omitempty"`
	Status CorrectionPolicyStatus `json:"status,omitempty"`
}

// CorrectionPolicyList is a list of CorrectionPolicies.
// +kubebuilder:object:root=true
type CorrectionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CorrectionPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CorrectionPolicy{}, &CorrectionPolicyList{})
}
