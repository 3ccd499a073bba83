package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Shards whose pods were gone before the manager read them are recovered
// from their reports in the artifact store (report_recovery.go). The
// manager reads file:// stores itself. Object stores and pvc:// claims
// need the trainer pods' credentials or mounts, which the manager must not
// have; for them it runs a collect Job: the cohort's own pod template
// (image, env and envFrom with the store's credentials, service account,
// volumes, placement, restricted security context), the run spec volume
// left out, running "lcft-trainer collect" over the missing shards. It is
// an Indexed Job with one pod per shard, each writing the shard's summary
// as its termination message: a shard's summary fits the 4 KiB limit by
// construction (the shard's own pod wrote the same one), where a combined
// message of several shards would not. The pod reads the report, checks
// it against the digest recorded in status.shards and exits 2 (no retry)
// when it does not match.
//
// The collect Job is named <cohort>-collect-<run hash>, so a restarted
// manager finds the one it made; it is applied like the run's Job, owned
// by the cohort, and carries the run hash, so a new run deletes it as it
// deletes the old run's Job. Its pods count only when their controller is
// the collect Job by UID (summary_trust.go), and their summaries only when
// they are of the shard and digest asked for. The collect Job is deleted
// once its summaries are used; a failed one stays for inspection until
// its TTL.

const (
	// CollectShardsAnnotation on a collect Job lists the shards it reads,
	// by completion index, with the digests their reports must have:
	// "3=sha256:...,5=sha256:...".
	CollectShardsAnnotation = "finetune.lcft.dev/collect-shards"

	// ConditionResultsRecovered is True when shards of a cohort's run were
	// read from their reports in the artifact store.
	ConditionResultsRecovered = "ResultsRecovered"
	// ReasonResultsRecoveredFromStore: shards were read from the store.
	ReasonResultsRecoveredFromStore = "ResultsRecoveredFromStore"
	// ReasonRecoveringResults: a collect Job is reading shard reports.
	ReasonRecoveringResults = "RecoveringResults"
	// ReasonResultsRecoveryFailed: the collect Job failed; its message says why.
	ReasonResultsRecoveryFailed = "ResultsRecoveryFailed"
	// ReasonReportDigestMismatch: a recovered summary is of another report
	// than the one recorded.
	ReasonReportDigestMismatch = "ReportDigestMismatch"

	collectKind = "collect"
	// collectDeadline bounds a collect Job: reading a few reports takes seconds.
	collectDeadline = 600
	// collectTTL keeps a finished (failed) collect Job for inspection.
	collectTTL = 3600
	// maxCollectParallelism bounds the collect pods that run at once.
	maxCollectParallelism = 8
)

// storeReadByManager reports whether the manager reads the store at uri
// itself (file://) instead of running a collect Job.
func storeReadByManager(uri string) bool { return strings.HasPrefix(uri, "file://") }

// collectFromStore recovers the missing shards of out with a collect Job.
// It returns notes on shards it cannot recover (they stay missing and the
// run fails MissingSummary), or sets out's phase: Running while the Job
// runs, Failed when it failed or a summary does not match its digest.
func (k runner) collectFromStore(ctx context.Context, job *batchv1.Job, rec *recordedReports, out *runOutcome) ([]string, error) {
	var targets []finetunev1alpha1.ShardPlacement
	var notes []string
	for i, s := range out.summaries {
		if s != nil {
			continue
		}
		placed, ok := rec.digest(i)
		if !ok {
			notes = append(notes, fmt.Sprintf("shard %d: no report digest was recorded before its pod was gone", i))
			continue
		}
		targets = append(targets, placed)
	}
	if len(notes) > 0 || len(targets) == 0 || rec.owner == nil {
		return notes, nil // a shard that cannot be recovered fails the run anyway
	}
	// The cache keeps Jobs without their pod template (cachetrim.go): the
	// collect Job copies the run Job's, so read it whole.
	full := job
	if k.apiReader != nil {
		full = &batchv1.Job{}
		if err := k.apiReader.Get(ctx, client.ObjectKeyFromObject(job), full); err != nil {
			return nil, fmt.Errorf("reading Job %s for its pod template: %w", job.Name, err)
		}
	}
	want, err := buildCollectJob(full, rec, targets)
	if err != nil {
		return nil, err
	}
	if err := controllerutil.SetControllerReference(rec.owner, want, k.Scheme()); err != nil {
		return nil, fmt.Errorf("owning the collect Job: %w", err)
	}
	live, err := k.liveJob(ctx, client.ObjectKeyFromObject(want), true)
	if err != nil {
		return nil, err
	}
	shardList := shardNames(targets)
	out.collectJob = want.Name
	switch {
	case live != nil && !metav1IsControlledBy(live, rec.owner):
		return nil, fmt.Errorf("a Job %s exists that %s does not control", live.Name, rec.owner.GetName())
	case live != nil && !live.DeletionTimestamp.IsZero():
		return nil, fmt.Errorf("the collect Job %s is being deleted; waiting to make it again", live.Name)
	case live != nil && live.Annotations[CollectShardsAnnotation] != want.Annotations[CollectShardsAnnotation]:
		// Made for another set of missing shards (a pod went later): start over.
		if err := k.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &live.UID}); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("deleting the collect Job %s of other shards: %w", live.Name, err)
		}
		return nil, fmt.Errorf("the collect Job %s read other shards than %s; made again", live.Name, shardList)
	case live == nil:
		if _, err := k.applyJob(ctx, want, nil); err != nil {
			return nil, err
		}
		live = want
	}
	switch {
	case jobCondition(live, batchv1.JobFailed) != nil:
		out.phase, out.reason = finetunev1alpha1.PhaseFailed, ReasonResultsRecoveryFailed
		out.message = fmt.Sprintf("Job %s completed but the pods of shard(s) %s were gone before their results were read; reading their reports from the artifact store failed (Job %s): %s",
			job.Name, shardList, live.Name, k.collectFailure(ctx, live))
		out.summaries = nil
		return nil, nil
	case jobCondition(live, batchv1.JobComplete) == nil:
		out.phase, out.reason = finetunev1alpha1.PhaseRunning, ReasonRecoveringResults
		out.message = fmt.Sprintf("Job %s completed; the pods of shard(s) %s were gone before their results were read: Job %s reads their reports from the artifact store", job.Name, shardList, live.Name)
		if q := queueOf(live); q != "" && ptr.Deref(live.Spec.Suspend, false) {
			out.phase = finetunev1alpha1.PhaseQueued
			out.message += fmt.Sprintf(" once Kueue admits it from LocalQueue %s", q)
		}
		return nil, nil
	}
	pods, err := listPods(ctx, k.reader(), live)
	if err != nil {
		return nil, err
	}
	if err := takeCollected(pods.Items, targets, out); err != nil {
		out.phase, out.reason, out.message = finetunev1alpha1.PhaseFailed, ReasonReportDigestMismatch, err.Error()
		out.summaries = nil
		return nil, nil
	}
	for _, t := range targets {
		if out.summaries[t.Index] == nil {
			notes = append(notes, fmt.Sprintf("shard %d: the collect Job %s completed without its summary", t.Index, live.Name))
		}
	}
	if len(notes) == 0 {
		// Used: the summaries are in status once this reconcile writes it.
		if err := k.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("deleting the collect Job %s: %w", live.Name, err)
		}
	}
	return notes, nil
}

// takeCollected puts into out the summaries of the collect pods (already
// those whose controller is the collect Job): completion index i holds
// targets[i]. A summary of another shard or kind is not used; one of
// another report than the recorded digest fails the run.
func takeCollected(pods []corev1.Pod, targets []finetunev1alpha1.ShardPlacement, out *runOutcome) error {
	for i := range pods {
		pod := &pods[i]
		if pod.Status.Phase != corev1.PodSucceeded {
			continue
		}
		idx, err := strconv.Atoi(pod.Annotations[batchv1.JobCompletionIndexAnnotation])
		if err != nil || idx < 0 || idx >= len(targets) {
			continue
		}
		t := targets[idx]
		s, err := runspec.DecodeSummary(terminationMessage(pod))
		if err != nil || s.Error != "" || s.Kind != runspec.KindFinetune || s.Shard != int(t.Index) || s.Finetune == nil {
			continue
		}
		if s.ReportDigest != t.ReportDigest {
			return fmt.Errorf("shard %d: the summary recovered from the artifact store is of the report with digest %q, its pod reported %s: not used", t.Index, s.ReportDigest, t.ReportDigest)
		}
		out.summaries[t.Index] = s
		out.shards[t.Index] = t
		out.recovered = append(out.recovered, strconv.Itoa(int(t.Index)))
	}
	sort.Slice(out.recovered, func(i, j int) bool {
		a, _ := strconv.Atoi(out.recovered[i])
		b, _ := strconv.Atoi(out.recovered[j])
		return a < b
	})
	return nil
}

// collectFailure is what the failed collect pods say (the trainer's error,
// which names the shard), else the Job's condition.
func (k runner) collectFailure(ctx context.Context, job *batchv1.Job) string {
	var msgs []string
	if pods, err := listPods(ctx, k.reader(), job); err == nil {
		slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		for i := range pods.Items {
			pod := &pods.Items[i]
			if pod.Status.Phase != corev1.PodFailed {
				continue
			}
			msg := strings.TrimSpace(terminationMessage(pod))
			if s, err := runspec.DecodeSummary(msg); err == nil && s.Error != "" {
				msg = s.Error
			}
			if msg != "" {
				msgs = append(msgs, msg)
			}
		}
	}
	if len(msgs) == 0 {
		if c := jobCondition(job, batchv1.JobFailed); c != nil {
			return fmt.Sprintf("%s: %s", c.Reason, c.Message)
		}
		return "no message"
	}
	const maxLen = 2048
	joined := strings.Join(dedupe(msgs), "; ")
	if len(joined) > maxLen {
		joined = joined[:maxLen] + "..."
	}
	return joined
}

// buildCollectJob is the collect Job of the run whose Job is job, over
// targets: job's pod template running "lcft-trainer collect".
func buildCollectJob(job *batchv1.Job, rec *recordedReports, targets []finetunev1alpha1.ShardPlacement) (*batchv1.Job, error) {
	hash := job.Annotations[RunHashAnnotation]
	if hash == "" {
		return nil, errors.New("the run's Job has no run hash")
	}
	owner := rec.owner.GetName()
	shards := make([]string, len(targets))
	digests := make([]string, len(targets))
	pairs := make([]string, len(targets))
	for i, t := range targets {
		shards[i] = strconv.Itoa(int(t.Index))
		digests[i] = t.ReportDigest
		pairs[i] = shards[i] + "=" + t.ReportDigest
	}
	dir, _ := mountedURI(rec.dir) // a pvc:// store is mounted as the trainer pods had it
	tmpl := job.Spec.Template.DeepCopy()
	// The Job controller's labels of the run's Job are not the collect Job's.
	for k := range tmpl.Labels {
		if k == batchv1.JobNameLabel || k == batchv1.ControllerUidLabel || k == "job-name" || k == "controller-uid" {
			delete(tmpl.Labels, k)
		}
	}
	spec := &tmpl.Spec
	spec.Volumes = slices.DeleteFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == "run-spec" })
	if len(spec.Containers) != 1 || spec.Containers[0].Name != trainerContainer {
		return nil, fmt.Errorf("the Job %s has no single %s container", job.Name, trainerContainer)
	}
	c := &spec.Containers[0]
	c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "run-spec" })
	c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == runspec.EnvShardCount })
	c.Args = []string{collectKind, "--report-uri", dir, "--shards", strings.Join(shards, ","),
		"--digests", strings.Join(digests, ","), "--termination-log", c.TerminationMessagePath}
	n := int32(len(targets))
	labels := maps.Clone(job.Labels) // Kueue's labels too: queued like the run (kueue.go)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: childName(owner, collectKind, hash), Namespace: job.Namespace, Labels: labels,
			Annotations: map[string]string{RunHashAnnotation: hash, CollectShardsAnnotation: strings.Join(pairs, ",")},
		},
		Spec: batchv1.JobSpec{
			Completions:             ptr.To(n),
			Parallelism:             ptr.To(min(n, maxCollectParallelism)),
			CompletionMode:          ptr.To(batchv1.IndexedCompletion),
			BackoffLimit:            ptr.To[int32](2),
			ActiveDeadlineSeconds:   ptr.To[int64](collectDeadline),
			TTLSecondsAfterFinished: ptr.To[int32](collectTTL),
			Suspend:                 ptr.To(queueOf(job) != ""),
			PodFailurePolicy:        badInputFailsJob(),
			Template:                *tmpl,
		},
	}, nil
}

func shardNames(targets []finetunev1alpha1.ShardPlacement) string {
	s := make([]string, len(targets))
	for i, t := range targets {
		s[i] = strconv.Itoa(int(t.Index))
	}
	return strings.Join(s, ", ")
}

// recordRecovery records that shards were read from their reports: the
// ResultsRecovered condition and a ResultsRecoveredFromStore event, whose
// message it returns for the Complete condition.
func (r *FineTuneCohortReconciler) recordRecovery(c *finetunev1alpha1.FineTuneCohort, conds conditions, out runOutcome) string {
	msg := fmt.Sprintf("shard(s) %s read from their reports in the artifact store (their pods were gone; digests checked)", strings.Join(out.recovered, ", "))
	if out.collectJob != "" {
		msg += " by Job " + out.collectJob
	}
	conds.set(ConditionResultsRecovered, true, ReasonResultsRecoveredFromStore, fmt.Sprintf("%d shard(s) recovered: %s", len(out.recovered), msg))
	r.event(c, corev1.EventTypeNormal, ReasonResultsRecoveredFromStore, "Recovered", "%d shard(s) recovered: %s", len(out.recovered), msg)
	return msg
}
