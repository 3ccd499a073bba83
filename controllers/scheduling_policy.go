package controllers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// DefaultUnschedulableAfter is how long a run's pods may wait for a node
// before the cohort says so, when --unschedulable-after is unset.
const DefaultUnschedulableAfter = 5 * time.Minute

// Reasons of the Unschedulable condition.
const (
	ReasonPodsUnschedulable = "PodsUnschedulable"
	ReasonPodsScheduled     = "PodsScheduled"
)

// A pool with no nodes (or none with room, or none the tolerations allow)
// leaves a run's pods Pending, which the Job does not report: the cohort
// would say Running forever. Once a pod of the run has been unschedulable
// (its PodScheduled condition False with reason Unschedulable) for longer
// than --unschedulable-after, the cohort's condition Unschedulable turns
// True and names the pool, its node selector and the scheduler's message;
// the run is left to start when a node comes (a cluster autoscaler may be
// adding one). When the pods are scheduled the condition turns False.

// unschedulable is the pod's PodScheduled condition when it says the pod
// cannot be scheduled, or nil.
func unschedulable(pod *corev1.Pod) *corev1.PodCondition {
	if pod.Status.Phase != corev1.PodPending {
		return nil
	}
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c
		}
	}
	return nil
}

// longestUnschedulable is the run's pod that has waited longest for a node,
// its PodScheduled condition, and how many pods wait.
func longestUnschedulable(pods []corev1.Pod) (*corev1.Pod, *corev1.PodCondition, int) {
	var pod *corev1.Pod
	var oldest *corev1.PodCondition
	n := 0
	for i := range pods {
		c := unschedulable(&pods[i])
		if c == nil {
			continue
		}
		n++
		if oldest == nil || c.LastTransitionTime.Before(&oldest.LastTransitionTime) {
			pod, oldest = &pods[i], c
		}
	}
	return pod, oldest, n
}

func (o Options) unschedulableAfter() time.Duration {
	if o.UnschedulableAfter <= 0 {
		return DefaultUnschedulableAfter
	}
	return o.UnschedulableAfter
}

// checkScheduling sets the cohort's Unschedulable condition from the pods
// of its running Job, and returns when to look again (0: when a pod
// changes).
func (k runner) checkScheduling(c *finetunev1alpha1.FineTuneCohort, job *batchv1.Job, pods []corev1.Pod, now time.Time) time.Duration {
	pod, oldest, n := longestUnschedulable(pods)
	conds := conditions{list: &c.Status.Conditions, generation: c.Generation}
	if oldest == nil {
		if meta.FindStatusCondition(c.Status.Conditions, finetunev1alpha1.ConditionUnschedulable) != nil {
			conds.set(finetunev1alpha1.ConditionUnschedulable, false, ReasonPodsScheduled, fmt.Sprintf("the pods of Job %s are scheduled", job.Name))
		}
		return 0
	}
	after := k.opts.unschedulableAfter()
	waited := now.Sub(oldest.LastTransitionTime.Time)
	if waited < after {
		return after - waited
	}
	pool := orDefaultPool(c.Spec.Placement.Pool)
	msg := fmt.Sprintf("%d pod(s) of Job %s cannot be scheduled, the first since %s (more than %s): pool %s, node selector %v: %s",
		n, job.Name, oldest.LastTransitionTime.UTC().Format(time.RFC3339), after, pool, pod.Spec.NodeSelector, oldest.Message)
	conds.set(finetunev1alpha1.ConditionUnschedulable, true, ReasonPodsUnschedulable, msg)
	return 0
}

// clearUnschedulable drops the condition once the run finished.
func clearUnschedulable(c *finetunev1alpha1.FineTuneCohort) {
	meta.RemoveStatusCondition(&c.Status.Conditions, finetunev1alpha1.ConditionUnschedulable)
}
