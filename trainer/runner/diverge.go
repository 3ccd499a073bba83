package runner

import (
	"errors"
	"fmt"
)

// Divergence
//
// Fine-tuning a user's few samples can diverge: labels far outside [0, 1]
// (SoftPositive gives y+ = g/r, 480 at r = 0.001), or a Hard group whose
// labels put a user's equivalent CTR r*y+ + (1-r)*y- outside [0, 1] (the
// cross-entropy with soft targets then has no minimum and the logits run
// away), at a learning rate the global model tolerates. A fine-tuned model
// with a NaN or infinite loss, parameter or test logit cannot be deployed
// (model.Load refuses non-finite values) and cannot be ranked.
//
// Such a user is rolled back to the Cloud model for that arm: its Local or
// LCFT AUC is its Cloud AUC, and it is counted (FinetuneStats.DivergedUsers)
// and listed (Report.Diverged, with the reason). That is the honest choice:
// it is what a device serves when its fine-tuning fails (it keeps the
// global model), and it keeps every method averaged over the same users,
// so the paired comparisons stay paired. Dropping the user would flatter
// the strategy that diverged; failing the cohort would let one user's data
// decide every other user's result.
//
// In a search, a cell under which any user of its group diverges is scored
// invalid (null AUC, DivergedUsers counted) and never chosen: a table must
// not hand cohorts labels that blow up.
//
// What remains bad input (exit code 2, no retry) is what no rollback can
// mend: a global model that cannot score its own data, a search in which
// every cell of a group diverges, and settings outside the documented
// bounds (runspec.MaxLearningRate, MaxEpochs, MaxLabelMagnitude).

// divergedError is a fine-tuning run that stopped being finite. It is an
// outcome of one user (or one pooled model), never a run's error.
type divergedError struct{ reason string }

func (e *divergedError) Error() string { return "fine-tuning diverged: " + e.reason }

// diverged returns a *divergedError with a formatted reason.
func diverged(format string, args ...any) error {
	return &divergedError{reason: fmt.Sprintf(format, args...)}
}

// divergedReason returns the reason of a *divergedError in err's chain.
func divergedReason(err error) (string, bool) {
	var d *divergedError
	if errors.As(err, &d) {
		return d.reason, true
	}
	return "", false
}

// DivergedUser is a user whose fine-tuning diverged in one arm and who was
// rolled back to the Cloud model there.
type DivergedUser struct {
	User   string `json:"user"`
	Arm    string `json:"arm"` // "Local" or "LCFT"
	Reason string `json:"reason"`
}

// logDiverged logs the users whose fine-tuning diverged in some arm (the
// first few with their reasons, then a count).
func logDiverged(lg *logger, tasks []userTask, out []userOutcome) {
	const show = 5
	n := 0
	for i := range out {
		for a, reason := range out[i].diverged {
			if reason == "" {
				continue
			}
			if n < show {
				lg.printf("user %q, arm %d: %s; rolled back to the Cloud model", tasks[i].raw, a, reason)
			}
			n++
		}
	}
	if n > show {
		lg.printf("%d fine-tunings diverged in all; each user keeps the Cloud model in that arm", n)
	}
}
