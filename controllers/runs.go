package controllers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// runner creates the owned ConfigMap and Job of a run and reads back what the
// Job's pods reported. All three reconcilers use it.
type runner struct {
	client.Client
	apiReader client.Reader // uncached, for when the cache lags behind our own writes
	opts      Options
}

// ensured is what ensure found or made: the run's Job and whether this call
// created it, or, with no Job, why the run waits.
type ensured struct {
	job     *batchv1.Job
	created bool
	wait    *waitReason
}

// ensure makes sure the Job of r exists, deletes the Jobs of the owner's
// earlier runs, and returns the Job and whether this call created it. Before
// it creates a Job it checks that the Secrets of the pod template exist:
// if one is missing, no Job is made and the run waits (ensured.wait).
//
// A Job of the same run (same hash) is kept, unless it failed, was made for
// an earlier generation of the object, and ran with another pod identity
// (PodTemplateHashAnnotation): the object's new credentials may be what the
// failed run lacked, so it runs again with them.
func (k runner) ensure(ctx context.Context, r run) (ensured, error) {
	objs, err := buildRun(r, k.opts)
	if err != nil {
		return ensured{}, err
	}
	if err := k.deleteStaleRuns(ctx, r, objs.hash); err != nil {
		return ensured{}, err
	}
	var job batchv1.Job
	err = k.Get(ctx, client.ObjectKeyFromObject(objs.job), &job)
	found := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return ensured{}, fmt.Errorf("getting Job %s: %w", objs.job.Name, err)
	}
	if found && !failedWithOtherIdentity(&job, objs.job) {
		return ensured{job: &job}, k.syncSuspend(ctx, r, &job)
	}
	wait, err := missingSecret(ctx, k.Client, r.owner.GetNamespace(), r.podTemplate)
	if err != nil || wait != nil {
		return ensured{wait: wait}, err
	}
	if found {
		// A conflict is a Job of another UID: already replaced, and the cache lags.
		err := k.Delete(ctx, &job, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &job.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return ensured{}, fmt.Errorf("deleting the failed Job %s to run it with the new pod template: %w", job.Name, err)
		}
	}
	return k.create(ctx, r, objs)
}

// failedWithOtherIdentity reports whether job failed, was made for another
// generation of the object than want, and ran with another pod identity.
func failedWithOtherIdentity(job, want *batchv1.Job) bool {
	return jobCondition(job, batchv1.JobFailed) != nil &&
		job.Annotations[OwnerGenerationAnnotation] != want.Annotations[OwnerGenerationAnnotation] &&
		job.Annotations[PodTemplateHashAnnotation] != want.Annotations[PodTemplateHashAnnotation]
}

// create makes the run's ConfigMap and Job, owned by the run's object.
func (k runner) create(ctx context.Context, r run, objs *runObjects) (ensured, error) {
	scheme := k.Scheme()
	if err := controllerutil.SetControllerReference(r.owner, objs.configMap, scheme); err != nil {
		return ensured{}, fmt.Errorf("owning ConfigMap: %w", err)
	}
	if err := controllerutil.SetControllerReference(r.owner, objs.job, scheme); err != nil {
		return ensured{}, fmt.Errorf("owning Job: %w", err)
	}
	if err := k.Create(ctx, objs.configMap); client.IgnoreAlreadyExists(err) != nil {
		return ensured{}, fmt.Errorf("creating ConfigMap %s: %w", objs.configMap.Name, err)
	}
	if err := k.Create(ctx, objs.job); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return ensured{}, fmt.Errorf("creating Job %s: %w", objs.job.Name, err)
		}
		// The cache lagged behind our own create: read the API server.
		var job batchv1.Job
		if err := k.reader().Get(ctx, client.ObjectKeyFromObject(objs.job), &job); err != nil {
			return ensured{}, fmt.Errorf("getting Job %s: %w", objs.job.Name, err)
		}
		if !job.DeletionTimestamp.IsZero() {
			return ensured{}, fmt.Errorf("the Job %s of the failed run is still being deleted", job.Name)
		}
		return ensured{job: &job}, k.syncSuspend(ctx, r, &job)
	}
	return ensured{job: objs.job, created: true}, nil
}

// reader reads around the cache, when the runner has an API reader.
func (k runner) reader() client.Reader {
	if k.apiReader == nil {
		return k.Client
	}
	return k.apiReader
}

// syncSuspend lets spec.suspend pause and resume a run without replacing it,
// unless Kueue manages the Job (then Kueue alone flips suspend).
func (k runner) syncSuspend(ctx context.Context, r run, job *batchv1.Job) error {
	if _, queued := job.Labels[QueueNameLabel]; queued || ptr.Deref(job.Spec.Suspend, false) == r.suspend || jobFinished(job) {
		return nil
	}
	patch := client.MergeFrom(job.DeepCopy())
	job.Spec.Suspend = ptr.To(r.suspend)
	if err := k.Patch(ctx, job, patch); err != nil {
		return fmt.Errorf("setting suspend=%t on Job %s: %w", r.suspend, job.Name, err)
	}
	return nil
}

// deleteStaleRuns removes the Jobs and ConfigMaps of the owner's earlier runs
// (another spec): a new generation replaces the old run.
func (k runner) deleteStaleRuns(ctx context.Context, r run, hash string) error {
	selector := client.MatchingLabels{ManagedByLabel: ManagedByValue, OwnerKindLabel: r.ownerKind, OwnerNameLabel: truncateLabel(r.owner.GetName())}
	var jobs batchv1.JobList
	if err := k.List(ctx, &jobs, client.InNamespace(r.owner.GetNamespace()), selector); err != nil {
		return fmt.Errorf("listing Jobs: %w", err)
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if j.Annotations[RunHashAnnotation] == hash || !metav1IsControlledBy(j, r.owner) {
			continue
		}
		if err := k.Delete(ctx, j, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting the Job %s of an earlier run: %w", j.Name, err)
		}
	}
	var cms corev1.ConfigMapList
	if err := k.List(ctx, &cms, client.InNamespace(r.owner.GetNamespace()), selector); err != nil {
		return fmt.Errorf("listing ConfigMaps: %w", err)
	}
	for i := range cms.Items {
		cm := &cms.Items[i]
		if cm.Annotations[RunHashAnnotation] == hash || !metav1IsControlledBy(cm, r.owner) {
			continue
		}
		if err := k.Delete(ctx, cm); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting the ConfigMap %s of an earlier run: %w", cm.Name, err)
		}
	}
	return nil
}

func metav1IsControlledBy(obj, owner client.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ptr.Deref(ref.Controller, false) && ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// runOutcome is what a Job and its pods say about a run.
type runOutcome struct {
	phase     finetunev1alpha1.Phase // Running, Suspended, Succeeded or Failed
	reason    string                 // condition reason for Failed
	message   string                 // the trainer's message for Failed
	summaries []*runspec.Summary     // one per shard, by index, when Succeeded
	shards    []finetunev1alpha1.ShardPlacement
	succeeded int32
	failed    int32
}

func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func jobFinished(job *batchv1.Job) bool {
	return jobCondition(job, batchv1.JobComplete) != nil || jobCondition(job, batchv1.JobFailed) != nil
}

// observe reads the Job's state and, once it finished, its pods' termination
// messages: the shard summaries of a success, the trainer's message of a failure.
func (k runner) observe(ctx context.Context, job *batchv1.Job) (runOutcome, error) {
	out := runOutcome{phase: finetunev1alpha1.PhaseRunning, succeeded: job.Status.Succeeded, failed: job.Status.Failed}
	complete, failed := jobCondition(job, batchv1.JobComplete), jobCondition(job, batchv1.JobFailed)
	if complete == nil && failed == nil {
		if ptr.Deref(job.Spec.Suspend, false) {
			out.phase = finetunev1alpha1.PhaseSuspended
		}
		return out, nil
	}
	pods, err := listPods(ctx, k.Client, job)
	if err != nil {
		return out, err
	}
	if failed != nil {
		out.phase = finetunev1alpha1.PhaseFailed
		out.reason = "JobFailed"
		out.message = fmt.Sprintf("Job %s failed (%s): %s", job.Name, failed.Reason, failed.Message)
		msg := trainerFailureMessage(pods.Items)
		if msg == "" { // the pod cache may lag behind the Job's (see below)
			if pods, err = listPods(ctx, k.reader(), job); err != nil {
				return out, err
			}
			msg = trainerFailureMessage(pods.Items)
		}
		if msg != "" {
			out.reason = "TrainerFailed"
			out.message = msg
		}
		return out, nil
	}
	shards := int(ptr.Deref(job.Spec.Completions, 1))
	out.summaries, out.shards = collectSummaries(pods.Items, shards)
	missing := missingShards(out.summaries)
	if len(missing) > 0 {
		// The pod cache may lag behind the Job's: the Job controller marks a
		// Job complete only after it saw every pod succeed, so ask the API
		// server before calling a shard's summary missing.
		if pods, err = listPods(ctx, k.reader(), job); err != nil {
			return out, err
		}
		out.summaries, out.shards = collectSummaries(pods.Items, shards)
		missing = missingShards(out.summaries)
	}
	if len(missing) > 0 {
		out.phase = finetunev1alpha1.PhaseFailed
		out.reason = "MissingSummary"
		out.message = fmt.Sprintf("Job %s completed but shard(s) %s finished without a valid summary in the termination message", job.Name, strings.Join(missing, ", "))
		out.summaries = nil
		return out, nil
	}
	out.phase = finetunev1alpha1.PhaseSucceeded
	return out, nil
}

// listPods lists the pods the Job controls: an earlier Job of the same name
// (a failed run started again) may leave pods with the same labels behind.
func listPods(ctx context.Context, r client.Reader, job *batchv1.Job) (*corev1.PodList, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, fmt.Errorf("listing the pods of Job %s: %w", job.Name, err)
	}
	pods.Items = slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return !metav1.IsControlledBy(&p, job) })
	return &pods, nil
}

// collectSummaries picks, for each completion index, the summary of its
// succeeded pod and where it ran.
func collectSummaries(pods []corev1.Pod, shards int) ([]*runspec.Summary, []finetunev1alpha1.ShardPlacement) {
	summaries := make([]*runspec.Summary, shards)
	placements := make([]finetunev1alpha1.ShardPlacement, shards)
	for i := range placements {
		placements[i].Index = int32(i)
	}
	for i := range pods {
		pod := &pods[i]
		if pod.Status.Phase != corev1.PodSucceeded {
			continue
		}
		idx, err := strconv.Atoi(pod.Annotations[batchv1.JobCompletionIndexAnnotation])
		if err != nil || idx < 0 || idx >= shards {
			continue
		}
		s, err := runspec.DecodeSummary(terminationMessage(pod))
		if err != nil || s.Error != "" || s.Shard != idx {
			continue
		}
		summaries[idx] = s
		placements[idx].Node = pod.Spec.NodeName
		placements[idx].Arch = s.Arch
	}
	return summaries, placements
}

func missingShards(summaries []*runspec.Summary) []string {
	var missing []string
	for i, s := range summaries {
		if s == nil {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	return missing
}

func terminationMessage(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == trainerContainer && cs.State.Terminated != nil {
			return cs.State.Terminated.Message
		}
	}
	return ""
}

// trainerFailureMessage is the message of the failed trainer pods, the
// trainer's own words when its termination message is a summary with an error.
func trainerFailureMessage(pods []corev1.Pod) string {
	var msgs []string
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for i := range pods {
		pod := &pods[i]
		if pod.Status.Phase != corev1.PodFailed {
			continue
		}
		msg := strings.TrimSpace(terminationMessage(pod))
		if s, err := runspec.DecodeSummary(msg); err == nil && s.Error != "" {
			msg = s.Error
		}
		if msg == "" {
			continue
		}
		idx := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
		msgs = append(msgs, fmt.Sprintf("shard %s: %s", idx, msg))
	}
	const maxLen = 2048
	joined := strings.Join(dedupe(msgs), "; ")
	if len(joined) > maxLen {
		joined = joined[:maxLen] + "..."
	}
	return joined
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
