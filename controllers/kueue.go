package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// Kueue queues the operator's Jobs without the operator importing Kueue's
// types. An object (GlobalModel, CorrectionPolicy, FineTuneCohort)
// labelled kueue.x-k8s.io/queue-name has every Job of its runs (and a
// cohort's collect Job) created suspended with that label and with
// kueue.x-k8s.io/priority-class; spec.placement.priorityClassName is the
// pods' priority class, which Kueue takes as the Workload's priority when
// no WorkloadPriorityClass is named. Kueue admits a Job by unsuspending it
// and injecting the admitting ResourceFlavor's nodeLabels into the pod
// template's node selector; the operator never unsuspends a queued Job
// (apply.go keeps the live Job's suspend), so without Kueue the Job waits
// and no quota is bypassed. The object's phase is Queued while its Job
// waits; its Queued and Admitted conditions and status.admission say
// which LocalQueue holds it and, once admitted, the arch of the node
// selector Kueue left on the Job.

const (
	// QueueNameLabel is Kueue's label naming a Job's LocalQueue; copied
	// from the object onto its Jobs.
	QueueNameLabel = "kueue.x-k8s.io/queue-name"
	// PriorityClassLabel names a Kueue WorkloadPriorityClass; copied from
	// the object onto its Jobs.
	PriorityClassLabel = "kueue.x-k8s.io/priority-class"

	// ReasonWaitingForAdmission: the Job is suspended in its LocalQueue.
	ReasonWaitingForAdmission = "WaitingForAdmission"
	// ReasonAdmittedByKueue: Kueue unsuspended the Job.
	ReasonAdmittedByKueue = "AdmittedByKueue"
)

// kueueLabels are the Kueue labels of owner that its Jobs carry; nil when
// it has none.
func kueueLabels(owner client.Object) map[string]string {
	var out map[string]string
	for _, k := range []string{QueueNameLabel, PriorityClassLabel} {
		if v, ok := owner.GetLabels()[k]; ok && v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// queueOf is the LocalQueue of job; "" when Kueue does not manage it.
func queueOf(job *batchv1.Job) string { return job.Labels[QueueNameLabel] }

// keepRunningQueue keeps on u, the update of the live Job, the Kueue labels
// live has while it is not suspended: Kueue's webhook refuses changing
// them on a running Job, so a label changed on the object takes effect
// with its next run. A running Job that a queue label was added for is
// not suspended for it either.
func keepRunningQueue(u, live *batchv1.Job) {
	if ptr.Deref(live.Spec.Suspend, false) {
		return
	}
	if queueOf(u) != "" && queueOf(live) == "" {
		u.Spec.Suspend = live.Spec.Suspend
	}
	for _, k := range []string{QueueNameLabel, PriorityClassLabel} {
		if v, ok := live.Labels[k]; ok {
			u.Labels[k] = v
		} else {
			delete(u.Labels, k)
		}
	}
}

// recordAdmission sets *adm and the Queued and Admitted conditions from the
// run's Job; an object whose Job Kueue does not manage has neither. Once
// Kueue unsuspended the Job, its node selector is read from the API server
// (the cache keeps Jobs without their pod template, cachetrim.go), once
// per admission.
func (k runner) recordAdmission(ctx context.Context, conds conditions, adm **finetunev1alpha1.Admission, job *batchv1.Job) error {
	queue := queueOf(job)
	if queue == "" {
		*adm = nil
		meta.RemoveStatusCondition(conds.list, finetunev1alpha1.ConditionQueued)
		meta.RemoveStatusCondition(conds.list, finetunev1alpha1.ConditionAdmitted)
		return nil
	}
	if ptr.Deref(job.Spec.Suspend, false) && !jobFinished(job) {
		*adm = &finetunev1alpha1.Admission{LocalQueue: queue}
		msg := fmt.Sprintf("Job %s is suspended in LocalQueue %s, waiting for Kueue to admit it", job.Name, queue)
		conds.set(finetunev1alpha1.ConditionQueued, true, ReasonWaitingForAdmission, msg)
		conds.set(finetunev1alpha1.ConditionAdmitted, false, ReasonWaitingForAdmission, msg)
		return nil
	}
	if prev := *adm; prev == nil || !prev.Admitted || prev.LocalQueue != queue {
		selector, err := k.nodeSelectorOf(ctx, job)
		if err != nil {
			return err
		}
		*adm = &finetunev1alpha1.Admission{LocalQueue: queue, Admitted: true, Arch: selector[ArchLabel]}
		msg := fmt.Sprintf("Kueue admitted Job %s from LocalQueue %s; node selector %s", job.Name, queue, formatSelector(selector))
		conds.set(finetunev1alpha1.ConditionQueued, false, ReasonAdmittedByKueue, msg)
		conds.set(finetunev1alpha1.ConditionAdmitted, true, ReasonAdmittedByKueue, msg)
	}
	return nil
}

// nodeSelectorOf reads job's pod template node selector around the cache.
func (k runner) nodeSelectorOf(ctx context.Context, job *batchv1.Job) (map[string]string, error) {
	if sel := job.Spec.Template.Spec.NodeSelector; len(sel) > 0 || k.apiReader == nil {
		return sel, nil
	}
	full := &batchv1.Job{}
	if err := k.apiReader.Get(ctx, client.ObjectKeyFromObject(job), full); err != nil {
		return nil, fmt.Errorf("reading Job %s for the node selector Kueue admitted it with: %w", job.Name, err)
	}
	return full.Spec.Template.Spec.NodeSelector, nil
}

// formatSelector writes a node selector as k=v,... in key order ("none").
func formatSelector(sel map[string]string) string {
	if len(sel) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(sel))
	parts := make([]string, len(keys))
	for i, key := range keys {
		parts[i] = key + "=" + sel[key]
	}
	return strings.Join(parts, ",")
}

// queuedMessage says that job waits for Kueue.
func queuedMessage(job *batchv1.Job) string {
	return fmt.Sprintf("Job %s waits in LocalQueue %s for Kueue to admit it", job.Name, queueOf(job))
}
