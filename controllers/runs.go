package controllers

import (
	"context"
	"errors"
	"fmt"
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
// created it (recreated: made again after it was deleted mid-run), or, with
// no Job, why the run waits, or that its restart budget is spent.
type ensured struct {
	job          *batchv1.Job
	created      bool
	recreated    bool
	restartLimit bool
	wait         *waitReason
}

// ensure makes sure the Job of r exists and carries the spec's mutable
// fields (apply.go), deletes the Jobs of the owner's earlier runs, and
// returns the Job and whether this call created it. Before it creates a
// Job it checks that the Secrets of the pod template exist: if one is
// missing, no Job is made and the run waits (ensured.wait). A Job deleted
// mid-run is made again within the restart budget (restart_policy.go).
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
	if err := k.own(r.owner, objs); err != nil {
		return ensured{}, err
	}
	key := client.ObjectKeyFromObject(objs.job)
	live, err := k.liveJob(ctx, key, k.mayLag(r, key))
	if err != nil {
		return ensured{}, err
	}
	if live != nil {
		if res, kept, err := k.keep(ctx, r, objs, live); kept || err != nil {
			return res, err
		}
	}
	var decision restartDecision
	if live == nil {
		decision = decideRestart(r.restart, objs.job.Name, k.opts.maxJobRestarts())
		if decision.exceeded {
			return ensured{restartLimit: true}, nil
		}
	}
	wait, err := missingSecret(ctx, k.Client, r.owner.GetNamespace(), r.podTemplate)
	if err != nil || wait != nil {
		return ensured{wait: wait}, err
	}
	if live != nil {
		// A conflict is a Job of another UID: already replaced, and the cache lags.
		err := k.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &live.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return ensured{}, fmt.Errorf("deleting the failed Job %s to run it with the new pod template: %w", live.Name, err)
		}
		if gone, err := k.liveJob(ctx, client.ObjectKeyFromObject(live), true); err != nil || gone != nil {
			return ensured{}, errors.Join(err, fmt.Errorf("the Job %s of the failed run is still being deleted", live.Name))
		}
	}
	if err := k.createConfigMap(ctx, objs.configMap); err != nil {
		return ensured{}, err
	}
	job, err := k.createJob(ctx, objs.job)
	if apierrors.IsAlreadyExists(err) {
		// The cache lags behind a Job made a moment ago, or the name is
		// another's: read it from the API server.
		other, gerr := k.liveJob(ctx, key, true)
		if gerr != nil || other == nil {
			return ensured{}, errors.Join(err, gerr)
		}
		if res, kept, kerr := k.keep(ctx, r, objs, other); kept || kerr != nil {
			return res, kerr
		}
		return ensured{}, fmt.Errorf("%w; the failed Job of that name is still there", err)
	}
	if err != nil {
		return ensured{}, err
	}
	createdJobs.add(key)
	return ensured{job: job, created: true, recreated: decision.recreate}, nil
}

// keep keeps live, the Job of r's name, when r controls it and it is not
// a failed Job to run again with a new pod identity: it applies the
// spec's mutable fields to it (and makes its ConfigMap again while it
// runs). kept is false when live is to be replaced.
func (k runner) keep(ctx context.Context, r run, objs *runObjects, live *batchv1.Job) (res ensured, kept bool, err error) {
	if !live.DeletionTimestamp.IsZero() {
		return ensured{}, false, fmt.Errorf("the Job %s is being deleted; waiting to make it again", live.Name)
	}
	if !metav1IsControlledBy(live, r.owner) {
		return ensured{}, false, fmt.Errorf("a Job %s exists that %s %s does not control", live.Name, r.ownerKind, r.owner.GetName())
	}
	if failedWithOtherIdentity(live, objs.job) {
		return ensured{}, false, nil
	}
	if !jobFinished(live) {
		if err := k.ensureConfigMap(ctx, objs.configMap); err != nil {
			return ensured{}, false, err
		}
	}
	job, err := k.applyJob(ctx, objs.job, live)
	return ensured{job: job}, true, err
}

// createdJobs are the Jobs this manager made last: until its cache holds
// them, a Job that is not there may still exist.
var createdJobs = recentSet[client.ObjectKey]{size: 4096}

// mayLag reports whether a Job of r named key that the cache lacks may
// exist all the same, the cache lagging behind a write: the object's status
// names it (the restart policy must know whether it was deleted), or this
// manager made it a moment ago. Otherwise (a new run, at the creation of
// every object) the Job is made without asking the API server first; the
// apply of an existing one changes nothing.
func (k runner) mayLag(r run, key client.ObjectKey) bool {
	return (r.restart.jobName != nil && *r.restart.jobName == key.Name) || createdJobs.has(key)
}

// failedWithOtherIdentity reports whether job failed, was made for another
// generation of the object than want, and ran with another pod identity.
func failedWithOtherIdentity(job, want *batchv1.Job) bool {
	return jobCondition(job, batchv1.JobFailed) != nil &&
		job.Annotations[OwnerGenerationAnnotation] != want.Annotations[OwnerGenerationAnnotation] &&
		job.Annotations[PodTemplateHashAnnotation] != want.Annotations[PodTemplateHashAnnotation]
}

// own makes the run's object the controller of its ConfigMap and Job.
func (k runner) own(owner client.Object, objs *runObjects) error {
	if err := controllerutil.SetControllerReference(owner, objs.configMap, k.Scheme()); err != nil {
		return fmt.Errorf("owning ConfigMap: %w", err)
	}
	if err := controllerutil.SetControllerReference(owner, objs.job, k.Scheme()); err != nil {
		return fmt.Errorf("owning Job: %w", err)
	}
	return nil
}

// liveJob reads the Job from the cache and, when the cache does not have
// it and confirm is set (it may lag behind the manager's own writes), from
// the API server; nil when neither has it.
func (k runner) liveJob(ctx context.Context, key client.ObjectKey, confirm bool) (*batchv1.Job, error) {
	var job batchv1.Job
	err := k.Get(ctx, key, &job)
	if apierrors.IsNotFound(err) && confirm && k.apiReader != nil {
		err = k.apiReader.Get(ctx, key, &job)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting Job %s: %w", key.Name, err)
	}
	return &job, nil
}

// ensureConfigMap makes the run's ConfigMap again when it is missing under
// a live Job (deleted by hand): the Job's pods mount it.
func (k runner) ensureConfigMap(ctx context.Context, cm *corev1.ConfigMap) error {
	err := k.Get(ctx, client.ObjectKeyFromObject(cm), configMapMetadata())
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting ConfigMap %s: %w", cm.Name, err)
	}
	return k.createConfigMap(ctx, cm)
}

// configMapMetadata is a ConfigMap read by its metadata alone: the manager
// never reads a run's ConfigMap back, so it watches them by metadata
// (CacheOptions), without their data.
func configMapMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	return m
}

// reader reads around the cache, when the runner has an API reader.
func (k runner) reader() client.Reader {
	if k.apiReader == nil {
		return k.Client
	}
	return k.apiReader
}

// deleteStaleRuns removes the Jobs and ConfigMaps of the owner's earlier runs
// (another spec): a new generation replaces the old run.
func (k runner) deleteStaleRuns(ctx context.Context, r run, hash string) error {
	var jobs batchv1.JobList
	if err := listControlled(ctx, k.Client, &jobs, r.owner, r.ownerKind); err != nil {
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
	cms := metav1.PartialObjectMetadataList{}
	cms.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	if err := listControlled(ctx, k.Client, &cms, r.owner, r.ownerKind); err != nil {
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
	phase     finetunev1alpha1.Phase // Running, Suspended, Queued, Succeeded or Failed
	reason    string                 // condition reason for Failed
	message   string                 // the trainer's message for Failed
	summaries []*runspec.Summary     // one per shard, by index, when Succeeded
	shards    []finetunev1alpha1.ShardPlacement
	succeeded int32
	failed    int32
	recovered []string // shards read from their reports (their pods were gone)
	// collectJob is the Job that read them, when the manager could not
	// (report_collect.go).
	collectJob string
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
// messages: the shard summaries of a success, the trainer's message of a
// failure. With rec, the shards whose pods are gone are read from their
// reports (report_recovery.go).
func (k runner) observe(ctx context.Context, job *batchv1.Job, rec *recordedReports) (runOutcome, error) {
	out := runOutcome{phase: finetunev1alpha1.PhaseRunning, succeeded: job.Status.Succeeded, failed: job.Status.Failed}
	complete, failed := jobCondition(job, batchv1.JobComplete), jobCondition(job, batchv1.JobFailed)
	if complete == nil && failed == nil {
		if ptr.Deref(job.Spec.Suspend, false) {
			out.phase = finetunev1alpha1.PhaseSuspended
			if queueOf(job) != "" {
				out.phase = finetunev1alpha1.PhaseQueued // Kueue unsuspends it (kueue.go)
			}
		}
		return out, nil
	}
	pods, err := listPods(ctx, k.Client, job)
	if err != nil {
		return out, err
	}
	if failed != nil {
		out.phase = finetunev1alpha1.PhaseFailed
		out.reason = ReasonJobFailed
		out.message = fmt.Sprintf("Job %s failed (%s): %s", job.Name, failed.Reason, failed.Message)
		reason, msg := failureOf(pods.Items)
		if msg == "" { // the pod cache may lag behind the Job's (see below)
			if pods, err = listPods(ctx, k.reader(), job); err != nil {
				return out, err
			}
			reason, msg = failureOf(pods.Items)
		}
		if msg != "" {
			out.reason, out.message = reason, msg
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
	var notes []string
	if len(missing) > 0 && rec != nil {
		if notes, err = k.recoverFromReports(ctx, job, rec, &out); err != nil || out.phase != finetunev1alpha1.PhaseRunning {
			return out, err // a collect Job failed, or a summary is of another report
		}
		if out.reason != "" {
			return out, nil // a collect Job reads the reports
		}
		missing = missingShards(out.summaries)
	}
	if len(missing) > 0 {
		out.phase = finetunev1alpha1.PhaseFailed
		out.reason = "MissingSummary"
		out.message = fmt.Sprintf("Job %s completed but shard(s) %s finished without a valid summary in the termination message", job.Name, strings.Join(missing, ", "))
		if len(notes) > 0 {
			out.message += "; their reports: " + strings.Join(notes, "; ")
		}
		out.summaries = nil
		return out, nil
	}
	out.phase = finetunev1alpha1.PhaseSucceeded
	return out, nil
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
		placements[idx].ReportDigest = s.ReportDigest
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
