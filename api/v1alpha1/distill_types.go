package v1alpha1

// DistillInit says where a distilled model starts.
// +kubebuilder:validation:Enum=Predecessor;Fresh
type DistillInit string

const (
	// DistillInitPredecessor starts from the predecessor's parameters
	// (DCCL's continually updated cloud model); the GlobalModel's
	// architecture and hyperparameters must be the predecessor's.
	DistillInitPredecessor DistillInit = "Predecessor"
	// DistillInitFresh starts from a new initialisation (spec.training.seed).
	DistillInitFresh DistillInit = "Fresh"
)

// DistillSpec makes the pretraining a MoMoDistill round (DCCL): the samples
// of every user a cohort fine-tuned take the target
// weight*p_teacher + (1-weight)*label, p_teacher the user's fine-tuned
// model's click probability; other users keep their 0/1 labels. The
// cohorts must fine-tune the same GlobalModel, the predecessor: the new
// model is compared with it in status.distillation. The GlobalModel waits
// until every cohort has Succeeded and saved its models (PerUser with
// spec.output.userModels Deltas, or Pooled).
type DistillSpec struct {
	// Cohorts (FineTuneCohort names in this namespace) whose fine-tuned
	// models teach. A user two cohorts hold is taught by the first listed.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	Cohorts []string `json:"cohorts"`
	// Weight of the teacher's probability in the target, in (0, 1].
	// +kubebuilder:default="0.5"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) <= 1.0)",message="weight must be in (0, 1]"
	// +optional
	Weight Decimal `json:"weight,omitempty"`
	// Init: Predecessor (the default) or Fresh.
	// +kubebuilder:default=Predecessor
	// +optional
	Init DistillInit `json:"init,omitempty"`
	// LongTailShare of the evaluated users with the fewest training rows
	// that status.distillation.longTail compares on, in (0, 1].
	// +kubebuilder:default="0.5"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$') || (double(self) > 0.0 && double(self) <= 1.0)",message="longTailShare must be in (0, 1]"
	// +optional
	LongTailShare Decimal `json:"longTailShare,omitempty"`
}

// DistillationStatus compares a distilled model with its predecessor on
// the same test split.
type DistillationStatus struct {
	// Predecessor is the GlobalModel the cohorts fine-tuned.
	Predecessor string `json:"predecessor"`
	// PredecessorDigest of its artifact.
	PredecessorDigest string `json:"predecessorDigest"`
	// PredecessorCloudAUC on the test split.
	PredecessorCloudAUC Decimal `json:"predecessorCloudAUC"`
	// TaughtUsers had their teachers' soft targets.
	TaughtUsers int64 `json:"taughtUsers"`
	// Overall: this model's Cloud AUC minus the predecessor's, over all
	// evaluated users, with a 95% paired bootstrap interval over users.
	Overall AUCComparison `json:"overall"`
	// LongTail: the same on the longTailShare of users with the fewest
	// training rows (at most longTailMaxRows).
	LongTail        AUCComparison `json:"longTail"`
	LongTailShare   Decimal       `json:"longTailShare"`
	LongTailMaxRows int64         `json:"longTailMaxRows"`
}

// AUCComparison is a paired difference of two models' user-level AUC.
type AUCComparison struct {
	// Delta is the new model's AUC minus the old one's (signed decimal).
	Delta string `json:"delta"`
	// Range is the 95% interval "[low, high]".
	Range string `json:"range"`
	// Significant is true when the interval excludes zero.
	Significant bool `json:"significant"`
	// Users compared.
	Users int64 `json:"users"`
}
