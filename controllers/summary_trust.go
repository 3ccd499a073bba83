package controllers

import (
	"context"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A run's results come from its pods' termination messages, so which pods
// count is a security decision: anyone who can create pods in the namespace
// can create one with the Job's labels, its completion-index annotation,
// phase Succeeded and a made-up summary. Labels prove nothing. A pod counts
// only when its controller is the Job itself, by UID, with
// blockOwnerDeletion set, as the Job controller makes them. Where the
// OwnerReferencesPermissionEnforcement admission plugin runs, setting
// blockOwnerDeletion on a reference to a Job needs the right to update
// jobs/finalizers, which tenants do not have; a pod of an earlier Job of
// the same name (a failed run started again) has another UID.

// listPods lists the pods the Job controls.
func listPods(ctx context.Context, r client.Reader, job *batchv1.Job) (*corev1.PodList, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, fmt.Errorf("listing the pods of Job %s: %w", job.Name, err)
	}
	pods.Items = slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return !madeByJob(&p, job) })
	return &pods, nil
}

// madeByJob reports whether pod's controller reference is job's, by UID,
// with blockOwnerDeletion as the Job controller sets it.
func madeByJob(pod *corev1.Pod, job *batchv1.Job) bool {
	for _, ref := range pod.OwnerReferences {
		if ptr.Deref(ref.Controller, false) {
			return ref.UID == job.UID && ref.Kind == "Job" && ref.APIVersion == "batch/v1" && ptr.Deref(ref.BlockOwnerDeletion, false)
		}
	}
	return false
}
