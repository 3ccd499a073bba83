package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the field manager of everything the operator applies.
const FieldOwner = "lcft-operator"

// The owned ConfigMaps and Jobs are created with the field owner
// FieldOwner (create.go) and a live Job is updated by server-side apply
// with the same field owner (and ForceOwnership: the operator's fields are
// the operator's). A live Job keeps what Kubernetes will not change on it and
// takes the spec's values of the rest:
//
//   - followed on a live Job: parallelism, backoffLimit,
//     activeDeadlineSeconds, ttlSecondsAfterFinished, suspend (not on a Job
//     that Kueue queues, where Kueue alone flips it, nor on a finished Job),
//     and the operator's labels;
//   - kept from the live Job: the pod template (image, pool node selector,
//     resources, identity; Kueue may also have written it), completions,
//     completionMode and podFailurePolicy, which the API server rejects
//     changing. A spec change that would need them changed (shards, data,
//     model, policy, hyperparameters, placement, volumes) is a new run
//     (run_identity.go): a new Job replaces the old one.

// applyConfigMap applies the run's ConfigMap.
func (k runner) applyConfigMap(ctx context.Context, cm *corev1.ConfigMap) error {
	cm.TypeMeta.APIVersion, cm.TypeMeta.Kind = "v1", "ConfigMap"
	ac := &corev1ac.ConfigMapApplyConfiguration{}
	if err := convertJSON(cm, ac); err != nil {
		return err
	}
	if err := k.Apply(ctx, ac, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying ConfigMap %s: %w", cm.Name, err)
	}
	return nil
}

// applyJob applies want, the Job as buildRun makes it, or, when live is
// set, its fields that a live Job follows over live's (see above). It
// returns the Job as the API server has it after the apply; a live Job
// that already has them is returned without a write. The cache holds Jobs
// without their pod template (trimCached), which the apply of a live Job
// copies: when it has to write, it reads the Job from the API server.
func (k runner) applyJob(ctx context.Context, want, live *batchv1.Job) (*batchv1.Job, error) {
	if live != nil {
		if !jobNeedsApply(liveJobUpdate(want, live), live) {
			return live, nil
		}
		full := &batchv1.Job{}
		if err := k.reader().Get(ctx, client.ObjectKeyFromObject(live), full); err != nil {
			return nil, fmt.Errorf("getting Job %s to apply it: %w", live.Name, err)
		}
		if want = liveJobUpdate(want, full); !jobNeedsApply(want, full) {
			return full, nil
		}
		if err := k.upgradeManagedFields(ctx, full); err != nil {
			return nil, err
		}
	}
	want.TypeMeta.APIVersion, want.TypeMeta.Kind = "batch/v1", "Job"
	ac := &batchv1ac.JobApplyConfiguration{}
	if err := convertJSON(want, ac); err != nil {
		return nil, err
	}
	ac.Status = nil
	if err := k.Apply(ctx, ac, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("applying Job %s: %w", want.Name, err)
	}
	got := &batchv1.Job{}
	if err := convertJSON(ac, got); err != nil {
		return nil, err
	}
	return got, nil
}

// liveJobUpdate is want with live's immutable fields, pod template and the
// annotations that describe them; suspend stays live's on a queued or
// finished Job.
func liveJobUpdate(want, live *batchv1.Job) *batchv1.Job {
	u := want.DeepCopy()
	u.Spec.Template = *live.Spec.Template.DeepCopy()
	u.Spec.Completions = live.Spec.Completions
	u.Spec.CompletionMode = live.Spec.CompletionMode
	u.Spec.PodFailurePolicy = live.Spec.PodFailurePolicy.DeepCopy()
	for _, a := range []string{PodTemplateHashAnnotation, OwnerGenerationAnnotation} {
		if v, ok := live.Annotations[a]; ok {
			u.Annotations[a] = v
		}
	}
	if _, queued := live.Labels[QueueNameLabel]; queued || jobFinished(live) {
		u.Spec.Suspend = live.Spec.Suspend
	}
	keepRunningQueue(u, live) // kueue.go
	return u
}

// jobNeedsApply reports whether live lacks one of the fields that a live
// Job follows (liveJobUpdate has made the others equal).
func jobNeedsApply(want, live *batchv1.Job) bool {
	for k, v := range want.Labels {
		if live.Labels[k] != v {
			return true
		}
	}
	for k, v := range want.Annotations {
		if live.Annotations[k] != v {
			return true
		}
	}
	w, l := want.Spec, live.Spec
	return !equality.Semantic.DeepEqual(w.Parallelism, l.Parallelism) ||
		!equality.Semantic.DeepEqual(w.BackoffLimit, l.BackoffLimit) ||
		!equality.Semantic.DeepEqual(w.ActiveDeadlineSeconds, l.ActiveDeadlineSeconds) ||
		!equality.Semantic.DeepEqual(w.TTLSecondsAfterFinished, l.TTLSecondsAfterFinished) ||
		ptr.Deref(w.Suspend, false) != ptr.Deref(l.Suspend, false) ||
		!maps.EqualFunc(ownerRefs(want), ownerRefs(live), func(a, b bool) bool { return a == b })
}

// ownerRefs maps the UIDs of obj's owners to whether each is its controller.
func ownerRefs(obj client.Object) map[string]bool {
	m := map[string]bool{}
	for _, r := range obj.GetOwnerReferences() {
		m[string(r.UID)] = ptr.Deref(r.Controller, false)
	}
	return m
}

// convertJSON copies in into out through JSON: an API object into its apply
// configuration (whose fields are all optional, so only what the object
// sets is applied) and back.
func convertJSON(in, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding %T: %w", in, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding %T: %w", out, err)
	}
	return nil
}
