package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// conditions sets the mutually exclusive lifecycle conditions of an object in
// one place, so every phase leaves the same, complete set behind.
type conditions struct {
	list       *[]metav1.Condition
	generation int64
	doneType   string // Ready for models and policies, Complete for cohorts
}

func (c conditions) set(t string, status bool, reason, message string) {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(c.list, metav1.Condition{Type: t, Status: s, Reason: reason, Message: message, ObservedGeneration: c.generation})
}

// phase records phase with its conditions: Ready (or Complete) true only when
// usable, Waiting/Running/Failed true in their phases.
func (c conditions) phase(p finetunev1alpha1.Phase, reason, message string) {
	done := p == finetunev1alpha1.PhaseReady || p == finetunev1alpha1.PhaseSucceeded
	c.set(c.doneType, done, reason, message)
	c.set(finetunev1alpha1.ConditionWaiting, p == finetunev1alpha1.PhaseWaiting, reason, message)
	c.set(finetunev1alpha1.ConditionRunning, p == finetunev1alpha1.PhaseRunning, reason, message)
	c.set(finetunev1alpha1.ConditionFailed, p == finetunev1alpha1.PhaseFailed, reason, message)
}

// patchStatus writes status once, and only when it changed, as a merge patch
// against the object as it was read: the status is recomputed from the
// cluster on every reconcile, so a concurrent writer costs nothing but a
// requeue, and no resourceVersion conflict is raised.
func patchStatus(ctx context.Context, c client.Client, obj, orig client.Object, oldStatus, newStatus any) error {
	if equality.Semantic.DeepEqual(oldStatus, newStatus) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("writing status of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// finished reports whether status already holds the outcome of this generation's run:
// such a run is never started again (even if its Job was deleted by its TTL).
func finished(observedGeneration, generation int64, p finetunev1alpha1.Phase) bool {
	if observedGeneration != generation {
		return false
	}
	switch p {
	case finetunev1alpha1.PhaseReady, finetunev1alpha1.PhaseSucceeded, finetunev1alpha1.PhaseFailed:
		return true
	}
	return false
}

// eventer records Kubernetes events for a reconciler; a nil recorder (unit
// tests) records nothing.
type eventer struct{ recorder events.EventRecorder }

func (e eventer) event(obj client.Object, eventType, reason, action, note string, args ...any) {
	if e.recorder != nil {
		e.recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
	}
}
