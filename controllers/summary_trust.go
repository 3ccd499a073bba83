package controllers

import (
	"context"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// listPods lists the pods the Job controls: from the manager's cache by the
// controller-UID index (a label selector there scans every pod of the
// namespace), from the API server (which refuses that field) by the Job's
// label.
func listPods(ctx context.Context, r client.Reader, job *batchv1.Job) (*corev1.PodList, error) {
	var pods corev1.PodList
	ns := client.InNamespace(job.Namespace)
	err := r.List(ctx, &pods, ns, client.MatchingFields{controllerUIDIndex: string(job.UID)})
	if apierrors.IsBadRequest(err) {
		err = r.List(ctx, &pods, ns, client.MatchingLabels{batchv1.JobNameLabel: job.Name})
	}
	if err != nil {
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
