package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// DefaultMaxJobRestarts is the restart budget of a run when
// --max-job-restarts is unset.
const DefaultMaxJobRestarts int32 = 3

// Reasons of the restart policy's events and conditions.
const (
	// ReasonJobRecreated: the run's Job was deleted before it finished and
	// was made again.
	ReasonJobRecreated = "JobRecreated"
	// ReasonJobRestartLimitExceeded: the run's Job was deleted before it
	// finished more often than the restart budget allows.
	ReasonJobRestartLimitExceeded = "JobRestartLimitExceeded"
)

// A Job deleted before its run finished (by hand, by a namespace cleanup, by
// a tool that did not know it) is made again under the same name, which an
// object's status records (status.jobName): the run restarts, counted in
// status.restarts, with a JobRecreated event. Past the budget
// (--max-job-restarts) the run fails with reason JobRestartLimitExceeded
// instead: something keeps deleting it, and a person should look.
//
// A finished run is never made again (its results are in status), and a
// Job the manager made but never recorded (it died before writing status)
// is made again without counting: nothing said it had started.

// restartState is where an object's status keeps its run's Job and the
// times it was made again.
type restartState struct {
	jobName  *string
	restarts *int32
	phase    finetunev1alpha1.Phase // of the run status.jobName names
}

// restartDecision is what the restart policy says about a run whose Job is
// missing: make it (counted or not), or fail.
type restartDecision struct {
	recreate bool // the run had a Job that is gone: count a restart
	exceeded bool // and the budget is spent: fail instead
}

// decideRestart applies the policy to the Job name a run wants, given that
// its Job does not exist.
func decideRestart(s restartState, want string, budget int32) restartDecision {
	if s.jobName == nil || *s.jobName != want || !jobLive(s.phase) {
		return restartDecision{} // never made, or not running: a failed Job replaced, a finished one run again
	}
	if *s.restarts >= budget {
		return restartDecision{recreate: true, exceeded: true}
	}
	return restartDecision{recreate: true}
}

// recordRun updates the status after ensure: a restart is counted, a new
// run (another Job) starts at 0. It returns the event to record, if any.
func recordRun(s restartState, res ensured, budget int32) (note string, ok bool) {
	if res.job == nil {
		return "", false
	}
	if *s.jobName != res.job.Name {
		*s.jobName, *s.restarts = res.job.Name, 0
	}
	if !res.recreated {
		return "", false
	}
	*s.restarts++
	return fmt.Sprintf("the Job %s was deleted before the run finished; made it again (restart %d of at most %d)", res.job.Name, *s.restarts, budget), true
}

// restartLimitMessage is the Failed condition's message past the budget.
func restartLimitMessage(job string, restarts, budget int32) string {
	return fmt.Sprintf("the Job %s was deleted before the run finished after %d restart(s); the budget (--max-job-restarts) is %d", job, restarts, budget)
}

// maxJobRestarts is the restart budget of the options.
func (o Options) maxJobRestarts() int32 {
	if o.MaxJobRestarts == nil {
		return DefaultMaxJobRestarts
	}
	return *o.MaxJobRestarts
}

// recordRestart is what the three reconcilers do after ensure: count a
// restart and tell it in an event.
func (e eventer) recordRestart(obj client.Object, s restartState, res ensured, budget int32) {
	if note, ok := recordRun(s, res, budget); ok {
		e.event(obj, corev1.EventTypeWarning, ReasonJobRecreated, "Recreated", "%s", note)
	}
}

// failPastBudget fails a run whose restart budget is spent.
func (e eventer) failPastBudget(obj client.Object, kind string, s restartState, phase *finetunev1alpha1.Phase, conds conditions, budget int32) {
	*phase = finetunev1alpha1.PhaseFailed
	msg := restartLimitMessage(*s.jobName, *s.restarts, budget)
	conds.phase(*phase, ReasonJobRestartLimitExceeded, msg)
	jobsFailed.WithLabelValues(kind).Inc()
	e.event(obj, corev1.EventTypeWarning, ReasonJobRestartLimitExceeded, "Failed", "%s", msg)
}

// jobLive reports whether phase is that of a run whose Job exists and has
// not finished (running, suspended, or queued for Kueue).
func jobLive(phase finetunev1alpha1.Phase) bool {
	return phase == finetunev1alpha1.PhaseRunning || phase == finetunev1alpha1.PhaseSuspended || phase == finetunev1alpha1.PhaseQueued
}
