package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Architecture names a CTR model architecture.
// +kubebuilder:validation:Enum=LR;WideDeep;DeepFM;PNN;DIN
type Architecture string

const (
	ArchitectureLR       Architecture = "LR"
	ArchitectureWideDeep Architecture = "WideDeep"
	ArchitectureDeepFM   Architecture = "DeepFM"
	ArchitecturePNN      Architecture = "PNN"
	ArchitectureDIN      Architecture = "DIN"
)

// Hyperparameters size the model.
type Hyperparameters struct {
	// EmbeddingDim is the width of every embedding.
	// +kubebuilder:default=16
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=512
	// +optional
	EmbeddingDim int32 `json:"embeddingDim,omitempty"`
	// HiddenUnits of the MLP layers, input side first (ignored by LR).
	// +kubebuilder:default={64,32}
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=4096
	// +listType=atomic
	// +optional
	HiddenUnits []int32 `json:"hiddenUnits,omitempty"`
	// HistoryLength caps the earlier positive and negative item histories of a sample.
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	HistoryLength int32 `json:"historyLength,omitempty"`
	// EmbeddingInitStd is the standard deviation of the normal
	// initialisation of embedding rows, in (0, 1]. It moves the Cloud AUC
	// measurably (an independent implementation agrees with ours only when
	// it matches).
	// +kubebuilder:default="0.05"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) <= 1.0)",message="embeddingInitStd must be in (0, 1]"
	// +optional
	EmbeddingInitStd Decimal `json:"embeddingInitStd,omitempty"`
}

// PretrainingSpec trains the global (cloud) model on all users' samples.
// Defaults are the paper's: mini-batch SGD, batch 32, 2 epochs, lr 1.0 decayed by 0.1 per epoch.
type PretrainingSpec struct {
	// Dataset to train on; its test split gives the Cloud AUC in status.
	Dataset DatasetSpec `json:"dataset"`
	// Optimizer: SGD or Adam.
	// +kubebuilder:default=SGD
	// +optional
	Optimizer OptimizerName `json:"optimizer,omitempty"`
	// LearningRate, in (0, 10]: beyond 10 no CTR model trains (the paper pretrains at 1.0 and fine-tunes at 0.01).
	// +kubebuilder:default="1.0"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) <= 10.0)",message="learningRate must be in (0, 10]"
	// +optional
	LearningRate Decimal `json:"learningRate,omitempty"`
	// LearningRateDecay multiplies the learning rate after each epoch, in (0, 1].
	// +kubebuilder:default="0.1"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) <= 1.0)",message="learningRateDecay must be in (0, 1]"
	// +optional
	LearningRateDecay Decimal `json:"learningRateDecay,omitempty"`
	// Epochs over the training set.
	// +kubebuilder:default=2
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
	// Seed of initialisation and shuffling.
	// +kubebuilder:default=1
	// +optional
	Seed int64 `json:"seed,omitempty"`
	// HoldoutFraction of each user's training rows (the latest ones) that
	// the pretraining leaves out, in [0, 0.5]. A Hard search validates its
	// label grid on these rows, which the model never saw; a search against
	// a model without a holdout is refused. The Cloud AUC is still measured
	// on the test split. Unset or "0": no holdout.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) >= 0.0 && double(self) <= 0.5)",message="holdoutFraction must be in [0, 0.5]"
	// +optional
	HoldoutFraction Decimal `json:"holdoutFraction,omitempty"`
	// DistillFrom makes the pretraining a distillation round from
	// cohorts' fine-tuned models (see DistillSpec).
	// +optional
	DistillFrom *DistillSpec `json:"distillFrom,omitempty"`
}

// ModelImport points at a model trained elsewhere, in the trainer's artifact format.
type ModelImport struct {
	// ArtifactURI of the model file.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^(file|s3|gs|azblob|mem|pvc)://.+$`
	ArtifactURI string `json:"artifactURI"`
	// Digest of the file, "sha256:<64 hex>"; checked before the model is Ready.
	// +kubebuilder:validation:Pattern=`^sha256:[a-f0-9]{64}$`
	Digest string `json:"digest"`
	// GlobalCTR of the data the model was trained on, in (0, 1).
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) < 1.0)",message="globalCTR must be in (0, 1)"
	GlobalCTR Decimal `json:"globalCTR"`
}

// GlobalModelSpec is the cloud model that cohorts fine-tune. Set exactly one of
// training (the operator pretrains it in a Job) and import (trained elsewhere).
// A model is an artifact: its architecture, hyperparameters, training and import
// cannot change; create a new GlobalModel instead.
// +kubebuilder:validation:XValidation:rule="has(self.training) != has(self.__import__)",message="exactly one of training and import must be set"
// +kubebuilder:validation:XValidation:rule="has(self.training) == has(oldSelf.training)",message="training and import cannot be swapped; create a new GlobalModel"
type GlobalModelSpec struct {
	// Architecture of the model: LR, WideDeep, DeepFM, PNN or DIN.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="architecture is immutable"
	Architecture Architecture `json:"architecture"`
	// Hyperparameters of the model.
	// +kubebuilder:default={}
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="hyperparameters are immutable"
	// +optional
	Hyperparameters Hyperparameters `json:"hyperparameters,omitempty"`
	// Training makes the operator pretrain the model in a Job.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="training is immutable"
	// +optional
	Training *PretrainingSpec `json:"training,omitempty"`
	// Import uses a model trained elsewhere.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="import is immutable"
	// +optional
	Import *ModelImport `json:"import,omitempty"`
	// Placement of the pretraining pod.
	// +optional
	Placement Placement `json:"placement,omitempty"`
	// PodTemplate overrides parts of the pretraining (or import check) pod:
	// service account, credentials, volumes, labels. It merges over the
	// operator's default template.
	// +optional
	PodTemplate *TrainerPodTemplate `json:"podTemplate,omitempty"`
	// Artifacts: where the pretrained model is written.
	// +optional
	Artifacts ArtifactsSpec `json:"artifacts,omitempty"`
	// RunPolicy of the pretraining Job.
	// +optional
	RunPolicy `json:",inline"`
}

// Quantile is one quantile of the training users' local CTRs.
type Quantile struct {
	// Quantile in [0, 1], such as "0.25".
	Quantile Decimal `json:"quantile"`
	// LocalCTR at that quantile.
	LocalCTR Decimal `json:"localCTR"`
}

// GlobalModelStatus is what the pretraining (or the import check) found.
type GlobalModelStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase: Pending, Waiting, Queued, Running, Ready or Failed.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Conditions: Ready, Running, Failed.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Admission of the run's Job by Kueue, when the object is labelled
	// kueue.x-k8s.io/queue-name.
	// +optional
	Admission *Admission `json:"admission,omitempty"`
	// JobName of the pretraining Job.
	// +optional
	JobName string `json:"jobName,omitempty"`
	// Restarts counts the times the run's Job was deleted before it
	// finished and was made again (within the operator's
	// --max-job-restarts; beyond it the run fails with reason
	// JobRestartLimitExceeded). A new run starts at 0.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
	// ArtifactURI of the model file.
	// +optional
	ArtifactURI string `json:"artifactURI,omitempty"`
	// Digest of the model file, "sha256:<hex>".
	// +optional
	Digest string `json:"digest,omitempty"`
	// GlobalCTR, the share of positives in the training set.
	// +optional
	GlobalCTR Decimal `json:"globalCTR,omitempty"`
	// Users in the training set.
	// +optional
	Users int64 `json:"users,omitempty"`
	// Samples in the training set.
	// +optional
	Samples int64 `json:"samples,omitempty"`
	// CloudAUC is the user-level AUC of the model on the test split.
	// +optional
	CloudAUC Decimal `json:"cloudAUC,omitempty"`
	// HoldoutFraction of each user's training rows the pretraining left
	// out (spec.training.holdoutFraction, as the trainer applied it); empty
	// when the model saw every training row (and for imported models).
	// +optional
	HoldoutFraction Decimal `json:"holdoutFraction,omitempty"`
	// HoldoutSamples are the training rows the pretraining held out.
	// +optional
	HoldoutSamples int64 `json:"holdoutSamples,omitempty"`
	// LocalCTRQuantiles of the training users, to help choose cohort boundaries.
	// +listType=atomic
	// +optional
	LocalCTRQuantiles []Quantile `json:"localCTRQuantiles,omitempty"`
	// Dataset the model was trained (or, when imported, evaluated) on.
	// +optional
	Dataset *DatasetStatus `json:"dataset,omitempty"`
	// Progress of the running Job, polled from its shards (see RunProgress).
	// +optional
	Progress *RunProgress `json:"progress,omitempty"`
	// Distillation compares a distilled model (spec.training.distillFrom)
	// with its predecessor.
	// +optional
	Distillation *DistillationStatus `json:"distillation,omitempty"`
}

// DatasetStatus identifies the data a run read.
type DatasetStatus struct {
	// Digest of the dataset, "sha256:<hex>": of the file's bytes (for
	// MovieLens, of its two files' digests; for synthetic data, of the
	// generator's settings). The model artifact carries it too.
	// +optional
	Digest string `json:"digest,omitempty"`
	// PartitionsURI is the manifest of the dataset partitioned by user,
	// written by the pretraining run. Cohorts on the same dataset read only
	// their shard's partitions from it.
	// +optional
	PartitionsURI string `json:"partitionsURI,omitempty"`
}

// GlobalModel is a global (cloud) CTR model that FineTuneCohorts fine-tune.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gm,categories=lcft
// +kubebuilder:printcolumn:name="Arch",type=string,JSONPath=`.spec.architecture`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress.summary`
// +kubebuilder:printcolumn:name="Flavor",type=string,JSONPath=`.status.admission.arch`,priority=1
// +kubebuilder:printcolumn:name="CTR",type=string,JSONPath=`.status.globalCTR`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.users`
// +kubebuilder:printcolumn:name="Cloud",type=string,JSONPath=`.status.cloudAUC`
// +kubebuilder:printcolumn:name="Holdout",type=string,JSONPath=`.status.holdoutFraction`,priority=1
// +kubebuilder:printcolumn:name="VsPredecessor",type=string,JSONPath=`.status.distillation.overall.delta`,priority=1
// +kubebuilder:printcolumn:name="LongTail",type=string,JSONPath=`.status.distillation.longTail.delta`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GlobalModel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GlobalModelSpec   `json:"spec,omitempty"`
	Status GlobalModelStatus `json:"status,omitempty"`
}

// GlobalModelList is a list of GlobalModels.
// +kubebuilder:object:root=true
type GlobalModelList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GlobalModel `json:"items"`
}

func init() {
	SchemeBuilder.Register(&GlobalModel{}, &GlobalModelList{})
}
