package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FineTuneMode names how a cohort is fine-tuned.
// +kubebuilder:validation:Enum=PerUser;Pooled
type FineTuneMode string

const (
	// ModePerUser fine-tunes one copy of the global model per user (the paper's offline evaluation).
	ModePerUser FineTuneMode = "PerUser"
	// ModePooled fine-tunes one model on the pooled data of the cohort (the paper's online CTR groups).
	ModePooled FineTuneMode = "Pooled"
)

// FineTuningScope names which parameters fine-tuning updates.
// +kubebuilder:validation:Enum=All;Sparse;Patch
type FineTuningScope string

const (
	// ScopeAll updates every parameter the samples reach.
	ScopeAll FineTuningScope = "All"
	// ScopeSparse updates only the embedding and wide rows of the ids a
	// user's samples touch and freezes the dense layers (the paper's
	// "sparse model update"): a user's delta is a few KB.
	ScopeSparse FineTuningScope = "Sparse"
	// ScopePatch freezes the whole backbone (every embedding row and dense
	// layer) and trains, per user, a MetaPatch-style patch alone: a FiLM
	// scale and shift per hidden unit of the MLP (for LR, a scale per logit
	// term and a shift). A user's delta is the patch: a few hundred bytes.
	// PerUser mode only.
	ScopePatch FineTuningScope = "Patch"
)

// UserModelsMode says whether a PerUser run keeps each user's model.
// +kubebuilder:validation:Enum=None;Deltas
type UserModelsMode string

const (
	// UserModelsNone keeps no per-user model.
	UserModelsNone UserModelsMode = "None"
	// UserModelsDeltas keeps each user's LCFT model as a delta from the
	// global model (the rows the user touched, the dense layers unless the
	// scope is Sparse; with scope Patch, the patch alone), one file per
	// shard with an index by user.
	UserModelsDeltas UserModelsMode = "Deltas"
)

// OutputSpec is what a cohort's run keeps besides its reports.
type OutputSpec struct {
	// UserModels: None, or Deltas (PerUser mode only): each user's LCFT
	// model as a delta, in user-models-shard-<i>.lcftu under
	// status.reportURI, for lcft-trainer predict --user-models.
	// +kubebuilder:default=None
	// +optional
	UserModels UserModelsMode `json:"userModels,omitempty"`
}

// FineTuningSpec is how the global model is fine-tuned on local data.
// Defaults are the paper's: SGD, batch 32, 1 epoch, lr 0.01 (Adam with lr 0.001 and 3 epochs is the other option).
type FineTuningSpec struct {
	// Optimizer: SGD or Adam.
	// +kubebuilder:default=SGD
	// +optional
	Optimizer OptimizerName `json:"optimizer,omitempty"`
	// LearningRate, in (0, 10]: beyond 10 no CTR model trains (the paper pretrains at 1.0 and fine-tunes at 0.01).
	// +kubebuilder:default="0.01"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) <= 10.0)",message="learningRate must be in (0, 10]"
	// +optional
	LearningRate Decimal `json:"learningRate,omitempty"`
	// LearningRateDecay multiplies the learning rate after each epoch, in (0, 1].
	// +kubebuilder:default="1"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) <= 1.0)",message="learningRateDecay must be in (0, 1]"
	// +optional
	LearningRateDecay Decimal `json:"learningRateDecay,omitempty"`
	// Epochs over each user's (or the pool's) training samples.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Epochs int32 `json:"epochs,omitempty"`
	// BatchSize of mini-batches.
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65536
	// +optional
	BatchSize int32 `json:"batchSize,omitempty"`
	// Seed of shuffling; with it, results do not depend on shard or core counts.
	// +kubebuilder:default=1
	// +optional
	Seed int64 `json:"seed,omitempty"`
	// Scope: All (every parameter), Sparse (only the embedding and wide
	// rows a user's samples touch; dense layers frozen) or Patch (the whole
	// model frozen; each user trains a FiLM scale and shift per hidden unit
	// of the MLP, for LR a scale per logit term and a shift; PerUser mode
	// only).
	// +kubebuilder:default=All
	// +optional
	Scope FineTuningScope `json:"scope,omitempty"`
}

// FineTuneCohortSpec is one CTR-group cohort: the users of a dataset whose
// local CTR lies in ctrRange, fine-tuned from a GlobalModel with the labels of
// a CorrectionPolicy, and evaluated as Cloud, Local and LCFT.
//
// Changing parallelism, suspend, backoffLimit, activeDeadlineSeconds or
// ttlSecondsAfterFinished reaches the running Job. Any other change of what
// the run means (data, model, policy, hyperparameters, shards, placement,
// volumes) starts a new run: the Job of the old generation is deleted and a
// Job for the new generation is created; status then describes the new
// generation.
// +kubebuilder:validation:XValidation:rule="!has(self.parallelism) || self.parallelism <= self.shards",message="parallelism must not exceed shards"
// +kubebuilder:validation:XValidation:rule="!has(self.output) || !has(self.output.userModels) || self.output.userModels != 'Deltas' || !has(self.mode) || self.mode != 'Pooled'",message="output.userModels Deltas needs mode PerUser (a Pooled cohort saves its group model)"
// +kubebuilder:validation:XValidation:rule="!has(self.fineTuning) || !has(self.fineTuning.scope) || self.fineTuning.scope != 'Patch' || !has(self.mode) || self.mode != 'Pooled'",message="fineTuning.scope Patch needs mode PerUser (a Pooled cohort saves its group model whole, with no place for a patch)"
type FineTuneCohortSpec struct {
	// GlobalModelRef is the model to fine-tune; the cohort waits until it is Ready.
	GlobalModelRef ObjectReference `json:"globalModelRef"`
	// CorrectionPolicyRef gives the LCFT labels; the cohort waits until it is Ready.
	// Unset means strategy Auto.
	// +optional
	CorrectionPolicyRef *ObjectReference `json:"correctionPolicyRef,omitempty"`
	// Dataset of the users' local samples.
	Dataset DatasetSpec `json:"dataset"`
	// CTRRange selects the users by local CTR on their training split. Unset means all users.
	// +optional
	CTRRange *CTRRange `json:"ctrRange,omitempty"`
	// MinSamples a user needs in its training split to be fine-tuned; others are skipped and counted.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MinSamples int32 `json:"minSamples,omitempty"`
	// Mode: PerUser (one model per user) or Pooled (one model for the cohort).
	// +kubebuilder:default=PerUser
	// +optional
	Mode FineTuneMode `json:"mode,omitempty"`
	// FineTuning settings.
	// +kubebuilder:default={}
	// +optional
	FineTuning FineTuningSpec `json:"fineTuning,omitempty"`
	// Shards of the Indexed Job; users are assigned to shards by a hash of their id.
	// Pooled mode runs one shard.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Shards int32 `json:"shards,omitempty"`
	// Parallelism: shards running at once; unset means all.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Parallelism *int32 `json:"parallelism,omitempty"`
	// Placement of the trainer pods.
	// +optional
	Placement Placement `json:"placement,omitempty"`
	// PodTemplate overrides parts of the trainer pods (service account,
	// credentials, volumes, labels); it merges over the operator's default
	// template. Changing env, envFrom, serviceAccountName, imagePullSecrets,
	// labels, annotations or securityContext does not replace a running or
	// succeeded run; changing volumes or volumeMounts does (they decide what
	// file:// URIs read).
	// +optional
	PodTemplate *TrainerPodTemplate `json:"podTemplate,omitempty"`
	// Suspend creates (or keeps) the Job suspended. A cohort labelled
	// kueue.x-k8s.io/queue-name has its Job created suspended with that
	// label (and kueue.x-k8s.io/priority-class) whatever this says: Kueue
	// admits it by unsuspending it, and the operator never does.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// Artifacts: where the full report is written.
	// +optional
	Artifacts ArtifactsSpec `json:"artifacts,omitempty"`
	// Output: what the run keeps besides its reports (per-user models).
	// +optional
	Output *OutputSpec `json:"output,omitempty"`
	// RunPolicy of the Job.
	// +optional
	RunPolicy `json:",inline"`
}

// CorrectedLabels summarises the labels the cohort fine-tuned with.
type CorrectedLabels struct {
	// Strategy applied.
	Strategy CorrectionStrategy `json:"strategy"`
	// GlobalCTR the correction aimed at.
	// +optional
	GlobalCTR Decimal `json:"globalCTR,omitempty"`
	// UsersCorrected had labels other than (1, 0).
	// +optional
	UsersCorrected int64 `json:"usersCorrected,omitempty"`
	// MeanPositiveLabel over fine-tuned users (weighted by their training samples).
	// +optional
	MeanPositiveLabel SignedDecimal `json:"meanPositiveLabel,omitempty"`
	// MeanNegativeLabel over fine-tuned users (weighted by their training samples).
	// +optional
	MeanNegativeLabel SignedDecimal `json:"meanNegativeLabel,omitempty"`
}

// ShardPlacement records where a shard ran.
type ShardPlacement struct {
	Index int32 `json:"index"`
	// Node the shard's pod ran on.
	// +optional
	Node string `json:"node,omitempty"`
	// Arch the trainer reported (GOARCH), such as arm64.
	// +optional
	Arch string `json:"arch,omitempty"`
	// ReportDigest is the sha256 of the shard's report as its pod said
	// ("sha256:<hex>"), recorded as soon as the shard succeeded: when the
	// pod is gone before the run's results are read, the report read from
	// the artifact store must have this digest to stand in for it.
	// +optional
	ReportDigest string `json:"reportDigest,omitempty"`
}

// FineTuneCohortStatus holds the results of the current generation's run.
type FineTuneCohortStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase: Pending, Waiting, Queued, Running, Succeeded, Failed or Suspended.
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
	// JobName of the current run.
	// +optional
	JobName string `json:"jobName,omitempty"`
	// Restarts counts the times the run's Job was deleted before it
	// finished and was made again (within the operator's
	// --max-job-restarts; beyond it the run fails with reason
	// JobRestartLimitExceeded). A new run starts at 0.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
	// ShardsSucceeded and ShardsFailed count finished shards.
	// +optional
	ShardsSucceeded int32 `json:"shardsSucceeded,omitempty"`
	// +optional
	ShardsFailed int32 `json:"shardsFailed,omitempty"`
	// Users fine-tuned and evaluated (in ctrRange, with at least minSamples).
	// +optional
	Users int64 `json:"users,omitempty"`
	// SkippedUsers in ctrRange with fewer than minSamples training samples.
	// +optional
	SkippedUsers int64 `json:"skippedUsers,omitempty"`
	// SingleClassUsers have a test set of one class (AUC undefined): left out of the AUCs.
	// +optional
	SingleClassUsers int64 `json:"singleClassUsers,omitempty"`
	// Samples used for fine-tuning.
	// +optional
	Samples int64 `json:"samples,omitempty"`
	// MeanLocalCTR of the cohort's users.
	// +optional
	MeanLocalCTR Decimal `json:"meanLocalCTR,omitempty"`
	// Labels the cohort fine-tuned with.
	// +optional
	Labels *CorrectedLabels `json:"labels,omitempty"`
	// CloudAUC: user-level AUC of the global model, no fine-tuning.
	// +optional
	CloudAUC Decimal `json:"cloudAUC,omitempty"`
	// LocalAUC: fine-tuned with the original labels.
	// +optional
	LocalAUC Decimal `json:"localAUC,omitempty"`
	// LCFTAUC: fine-tuned with corrected labels.
	// +optional
	LCFTAUC Decimal `json:"lcftAUC,omitempty"`
	// LiftVsCloud = lcftAUC - cloudAUC (signed decimal).
	// +optional
	LiftVsCloud string `json:"liftVsCloud,omitempty"`
	// LiftVsLocal = lcftAUC - localAUC (signed decimal).
	// +optional
	LiftVsLocal string `json:"liftVsLocal,omitempty"`
	// LiftVsLocalInterval is LCFT-Local with its 95% interval over users
	// (the paired per-user differences, weighted by test-set size), computed
	// exactly across shards from additive sums; significant when it
	// excludes zero.
	// +optional
	LiftVsLocalInterval *LiftInterval `json:"liftVsLocalInterval,omitempty"`
	// LiftVsCloudInterval is LCFT-Cloud with its 95% interval (see liftVsLocalInterval).
	// +optional
	LiftVsCloudInterval *LiftInterval `json:"liftVsCloudInterval,omitempty"`
	// UsersImproved, UsersUnchanged and UsersDegraded compare LCFT with Cloud per user.
	// +optional
	UsersImproved int64 `json:"usersImproved,omitempty"`
	// +optional
	UsersUnchanged int64 `json:"usersUnchanged,omitempty"`
	// +optional
	UsersDegraded int64 `json:"usersDegraded,omitempty"`
	// Pool the cohort was placed on.
	// +optional
	Pool Pool `json:"pool,omitempty"`
	// Shards: where each shard ran.
	// +listType=atomic
	// +optional
	Shards []ShardPlacement `json:"shards,omitempty"`
	// SamplesPerSecond of fine-tuning, summed over shards.
	// +optional
	SamplesPerSecond Decimal `json:"samplesPerSecond,omitempty"`
	// ReportURI of the full result JSON (one file per shard under it).
	// +optional
	ReportURI string `json:"reportURI,omitempty"`
	// StartTime and CompletionTime of the run.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// DatasetDigest of the data the run read, "sha256:<hex>" (see
	// GlobalModel status.dataset.digest).
	// +optional
	DatasetDigest string `json:"datasetDigest,omitempty"`
	// Partitioned is true when the shards read the dataset's partitions
	// (written by the GlobalModel's pretraining) rather than the source.
	// +optional
	Partitioned bool `json:"partitioned,omitempty"`
	// OutOfVocabulary counts the rows of the cohort's shards whose user or
	// item the global model never saw: they are dropped, not fine-tuned.
	// +optional
	OutOfVocabulary *OutOfVocabulary `json:"outOfVocabulary,omitempty"`
	// DivergedUsers counts, per arm, the users whose fine-tuning produced a
	// non-finite loss, parameter or logit. They keep the Cloud model in
	// that arm (what a device serves when its fine-tuning fails): their
	// Local or LCFT AUC is their Cloud AUC, and they stay in users and in
	// the AUCs. The shard reports list them with the reason.
	// +optional
	DivergedUsers *DivergedUsers `json:"divergedUsers,omitempty"`
	// UserModels describes the per-user deltas a PerUser run saved
	// (spec.output.userModels Deltas).
	// +optional
	UserModels *UserModelsStatus `json:"userModels,omitempty"`
	// Model is the fine-tuned group model of a Pooled cohort (the paper's
	// deployment unit): a model artifact that a GlobalModel can import
	// (spec.import.artifactURI, digest and globalCTR from uri, digest and
	// globalCTR here).
	// +optional
	Model *CohortModel `json:"model,omitempty"`
	// Progress of the running Job, polled from its shards (see RunProgress).
	// +optional
	Progress *RunProgress `json:"progress,omitempty"`
}

// UserModelsStatus describes the saved per-user deltas.
type UserModelsStatus struct {
	// Users saved, summed over shards (users whose fine-tuning diverged
	// are saved as an empty delta: they keep the global model).
	Users int64 `json:"users"`
	// Bytes of the deltas, summed over shards.
	Bytes int64 `json:"bytes"`
	// BytesPerUser is bytes / users, rounded.
	// +optional
	BytesPerUser int64 `json:"bytesPerUser,omitempty"`
	// Scope the users were fine-tuned with.
	// +optional
	Scope FineTuningScope `json:"scope,omitempty"`
	// URIs of the shards' files (user-models-shard-<i>.lcftu).
	// +listType=atomic
	// +optional
	URIs []string `json:"uris,omitempty"`
}

// DivergedUsers counts users whose fine-tuning diverged, per arm.
type DivergedUsers struct {
	// Local: fine-tuned with the original labels.
	Local int64 `json:"local"`
	// LCFT: fine-tuned with the corrected labels.
	LCFT int64 `json:"lcft"`
}

// CohortModel is the model a Pooled cohort fine-tuned with its corrected
// labels, saved in the trainer's artifact format (with the global model's
// vocabulary and the digest of the cohort's dataset).
type CohortModel struct {
	// URI of the model file.
	URI string `json:"uri"`
	// Digest of the file, "sha256:<hex>".
	Digest string `json:"digest"`
	// GlobalCTR the LCFT labels aimed at (the global model's): the
	// globalCTR to import the model with.
	// +optional
	GlobalCTR Decimal `json:"globalCTR,omitempty"`
	// RolledBack is true when the pooled fine-tuning diverged: the file
	// then holds the global model's parameters, which is what the group's
	// devices keep.
	// +optional
	RolledBack bool `json:"rolledBack,omitempty"`
}

// OutOfVocabulary counts what the global model's vocabulary left out.
type OutOfVocabulary struct {
	// Samples dropped because their user or item is unknown to the model.
	Samples int64 `json:"samples"`
	// Users unknown to the model (summed over shards, which hold disjoint users).
	Users int64 `json:"users"`
	// Items unknown to the model (the largest count of one shard: shards may share items).
	Items int64 `json:"items"`
}

// FineTuneCohort fine-tunes a GlobalModel for one CTR-group cohort of users
// with label correction, and reports Cloud, Local and LCFT user-level AUC.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ftc,categories=lcft
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress.summary`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Pool",type=string,JSONPath=`.spec.placement.pool`
// +kubebuilder:printcolumn:name="Flavor",type=string,JSONPath=`.status.admission.arch`,priority=1
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.users`
// +kubebuilder:printcolumn:name="Cloud",type=string,JSONPath=`.status.cloudAUC`
// +kubebuilder:printcolumn:name="Local",type=string,JSONPath=`.status.localAUC`
// +kubebuilder:printcolumn:name="LCFT",type=string,JSONPath=`.status.lcftAUC`
// +kubebuilder:printcolumn:name="Lift",type=string,JSONPath=`.status.liftVsLocal`
// +kubebuilder:printcolumn:name="95% CI",type=string,JSONPath=`.status.liftVsLocalInterval.range`
// +kubebuilder:printcolumn:name="Significant",type=boolean,JSONPath=`.status.liftVsLocalInterval.significant`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FineTuneCohort struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FineTuneCohortSpec   `json:"spec,omitempty"`
	Status FineTuneCohortStatus `json:"status,omitempty"`
}

// FineTuneCohortList is a list of FineTuneCohorts.
// +kubebuilder:object:root=true
type FineTuneCohortList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FineTuneCohort `json:"items"`
}

func init() {
	SchemeBuilder.Register(&FineTuneCohort{}, &FineTuneCohortList{})
}
