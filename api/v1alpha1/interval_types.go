package v1alpha1

// LiftInterval is a lift in user-level AUC with its 95% confidence
// interval: the mean of the paired per-user differences, each user weighted
// by the size of its test set, and a normal interval of that mean. It is
// computed from additive per-user sums (of n_u, n_u*d_u and n_u*d_u^2) that
// the shards of a run add up exactly, so it is the same for any shard count.
type LiftInterval struct {
	// Mean is the weighted mean difference (signed decimal).
	Mean string `json:"mean"`
	// Low and High bound the 95% interval (signed decimals); empty when
	// the interval is undefined (fewer than two users).
	// +optional
	Low string `json:"low,omitempty"`
	// +optional
	High string `json:"high,omitempty"`
	// Range is "[low, high]", or "n/a" when undefined, for kubectl get.
	Range string `json:"range"`
	// Significant is true when the interval excludes zero.
	Significant bool `json:"significant"`
	// Users paired in the interval (users with a two-class test set).
	// +optional
	Users int64 `json:"users,omitempty"`
}
