package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// FineTuneCohortReconciler runs a cohort: it waits for its model and policy,
// creates an Indexed Job whose shards fine-tune the cohort's users, and adds
// the shard summaries up into the cohort's status.
//
// A spec change starts a new run: the Job of the old spec is deleted and a Job
// for the new one is created (Job names carry a hash of the run). Toggling
// spec.suspend pauses and resumes the same Job.
type FineTuneCohortReconciler struct {
	client.Client
	Options Options
	// APIReader reads around the cache (nil: the client).
	APIReader client.Reader
	eventer
}

func (r *FineTuneCohortReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &finetunev1alpha1.FineTuneCohort{}
	if err := r.Get(ctx, req.NamespacedName, c); err != nil {
		if apierrors.IsNotFound(err) {
			forgetCohort(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		forgetCohort(c.Namespace, c.Name)
		return ctrl.Result{}, nil // owned Jobs go with the cohort by garbage collection
	}
	if finished(c.Status.ObservedGeneration, c.Generation, c.Status.Phase) {
		recordAUCs(c) // a restarted manager serves the series again
		return ctrl.Result{}, nil
	}
	orig := c.DeepCopy()
	oldStatus := &orig.Status
	if c.Status.ObservedGeneration != c.Generation {
		// Results of an older spec no longer hold; the run's Job, phase
		// and restarts stay until ensure says which Job this spec runs.
		c.Status = finetunev1alpha1.FineTuneCohortStatus{
			Conditions: c.Status.Conditions, ObservedGeneration: c.Status.ObservedGeneration,
			Phase: c.Status.Phase, JobName: c.Status.JobName, Restarts: c.Status.Restarts,
		}
		meta.RemoveStatusCondition(&c.Status.Conditions, ConditionResultsRecovered) // of the older run
	}
	res, err := r.reconcileRun(ctx, c)
	if err == nil {
		// Only a spec that reached its Job (or was judged without one) is observed.
		c.Status.ObservedGeneration = c.Generation
	}
	if perr := patchStatus(ctx, r.Client, c, orig, oldStatus, &c.Status); perr != nil {
		return ctrl.Result{}, perr
	}
	return res, err
}

func (r *FineTuneCohortReconciler) reconcileRun(ctx context.Context, c *finetunev1alpha1.FineTuneCohort) (ctrl.Result, error) {
	conds := conditions{list: &c.Status.Conditions, generation: c.Generation, doneType: finetunev1alpha1.ConditionComplete}
	c.Status.Pool = orDefaultPool(c.Spec.Placement.Pool)

	gm, wait, err := readyModel(ctx, r.Client, c.Namespace, c.Spec.GlobalModelRef.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	var policy *finetunev1alpha1.CorrectionPolicy
	if wait == nil && c.Spec.CorrectionPolicyRef != nil {
		policy, wait, err = readyPolicy(ctx, r.Client, c.Namespace, c.Spec.CorrectionPolicyRef.Name)
		if err != nil {
			return ctrl.Result{}, err
		}
	}
	if wait != nil {
		c.Status.Phase = finetunev1alpha1.PhaseWaiting
		conds.phase(c.Status.Phase, wait.reason, wait.message)
		return ctrl.Result{}, nil
	}
	spec, err := finetuneSpec(c, gm, policy, r.Options)
	if err != nil {
		c.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(c.Status.Phase, "InvalidSpec", err.Error())
		return ctrl.Result{}, nil
	}
	tmpl, err := mergePodTemplates(r.Options.TrainerPodTemplate, c.Spec.PodTemplate, "spec.podTemplate")
	if err != nil {
		c.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(c.Status.Phase, ReasonInvalidPodTemplate, err.Error())
		return ctrl.Result{}, nil
	}
	k := runner{Client: r.Client, apiReader: r.APIReader, opts: r.Options}
	restart := restartState{jobName: &c.Status.JobName, restarts: &c.Status.Restarts, phase: c.Status.Phase}
	res, err := k.ensure(ctx, run{
		owner: c, ownerKind: "FineTuneCohort", spec: spec, placement: c.Spec.Placement, policy: c.Spec.RunPolicy,
		parallelism: c.Spec.Parallelism, suspend: c.Spec.Suspend, podTemplate: tmpl, restart: restart,
	})
	if err != nil {
		return ctrl.Result{}, err
	}
	if res.restartLimit {
		r.failPastBudget(c, "FineTuneCohort", restart, &c.Status.Phase, conds, k.opts.maxJobRestarts())
		clearUnschedulable(c)
		return ctrl.Result{}, nil
	}
	if res.wait != nil {
		c.Status.Phase = finetunev1alpha1.PhaseWaiting
		conds.phase(c.Status.Phase, res.wait.reason, res.wait.message)
		return ctrl.Result{}, nil
	}
	r.recordRestart(c, restart, res, k.opts.maxJobRestarts())
	job, created := res.job, res.created
	c.Status.JobName = job.Name
	c.Status.ReportURI = runOutputURI(spec.OutputURI, job.Annotations[RunHashAnnotation])
	if job.Status.StartTime != nil {
		c.Status.StartTime = job.Status.StartTime
	}
	if created {
		// No event: status.jobName and the Running condition, which names
		// the Job, say it, and an event per Job was one write of five at
		// thousands of cohorts (README, "Operator at scale"); a Job made
		// again has its event (recordRestart).
		c.Status.Progress = nil // of an earlier run
		jobsCreated.WithLabelValues("FineTuneCohort").Inc()
		jobCreationLatency.Observe(time.Since(c.CreationTimestamp.Time).Seconds())
	}
	out, err := k.observe(ctx, job, &recordedReports{dir: c.Status.ReportURI, shards: c.Status.Shards, owner: c})
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := k.recordAdmission(ctx, conds, &c.Status.Admission, job); err != nil {
		return ctrl.Result{}, err
	}
	c.Status.ShardsSucceeded, c.Status.ShardsFailed = out.succeeded, out.failed
	switch out.phase {
	case finetunev1alpha1.PhaseSucceeded:
		c.Status.Partitioned = spec.Dataset.Partitions != nil
		if err := writeCohortResults(&c.Status, spec.Correction.Strategy, string(gm.Status.GlobalCTR), spec.OutputURI, orDefault(spec.Optimization.Scope, string(finetunev1alpha1.ScopeAll)), out); err != nil {
			reason := "MissingSummary"
			if errors.Is(err, errNoUsers) {
				reason = "NoUsersInRange"
			}
			c.Status.Phase = finetunev1alpha1.PhaseFailed
			conds.phase(c.Status.Phase, reason, err.Error())
			jobsFailed.WithLabelValues("FineTuneCohort").Inc()
			return ctrl.Result{}, nil
		}
		c.Status.CompletionTime = completionTime(job)
		c.Status.Phase = finetunev1alpha1.PhaseSucceeded
		c.Status.Progress = endProgress(c.UID, c.Status.Progress, true)
		msg := fmt.Sprintf("%d users: Cloud %s, Local %s, LCFT %s", c.Status.Users, c.Status.CloudAUC, c.Status.LocalAUC, c.Status.LCFTAUC)
		if iv := c.Status.LiftVsLocalInterval; iv != nil {
			msg += fmt.Sprintf(", LCFT-Local %s (95%% CI %s, significant: %t)", iv.Mean, iv.Range, iv.Significant)
		}
		if m := c.Status.Model; m != nil {
			msg += fmt.Sprintf("; group model %s (%s)", m.URI, m.Digest)
			if m.RolledBack {
				msg += ", the global model: the pooled fine-tuning diverged"
			}
		}
		if len(out.recovered) > 0 {
			msg += "; " + r.recordRecovery(c, conds, out)
		}
		if d := c.Status.DivergedUsers; d != nil && (d.Local > 0 || d.LCFT > 0) {
			msg += fmt.Sprintf("; fine-tuning diverged for %d users in Local and %d in LCFT, who keep the Cloud model there", d.Local, d.LCFT)
		}
		conds.phase(c.Status.Phase, "RunComplete", msg)
		recordAUCs(c)
		if observeRunEnd("FineTuneCohort", job, c.Status.Phase) {
			cohortUsers.Add(float64(c.Status.Users))
		}
		r.event(c, corev1.EventTypeNormal, "RunComplete", "Completed", "%s", msg)
	case finetunev1alpha1.PhaseFailed:
		c.Status.CompletionTime = completionTime(job)
		c.Status.Phase = finetunev1alpha1.PhaseFailed
		c.Status.Progress = endProgress(c.UID, c.Status.Progress, false)
		conds.phase(c.Status.Phase, out.reason, out.message)
		jobsFailed.WithLabelValues("FineTuneCohort").Inc()
		observeRunEnd("FineTuneCohort", job, c.Status.Phase)
		r.event(c, corev1.EventTypeWarning, out.reason, "Failed", "%s", out.message)
	default:
		c.Status.Phase = out.phase
		switch {
		case out.reason != "": // the Job completed; its results are being recovered (report_collect.go)
			conds.phase(out.phase, out.reason, out.message)
		case out.phase == finetunev1alpha1.PhaseQueued:
			conds.phase(out.phase, ReasonWaitingForAdmission, queuedMessage(job))
		default:
			conds.phase(out.phase, "Job"+string(out.phase), fmt.Sprintf("Job %s is %s (%d of %d shards done)", job.Name, out.phase, out.succeeded, spec.Shards))
		}
		pods, err := listPods(ctx, k.Client, job)
		if err != nil {
			return ctrl.Result{}, err
		}
		c.Status.Shards = recordShards(c.Status.Shards, pods.Items, int(spec.Shards))
		now := time.Now()
		after := k.checkScheduling(c, job, pods.Items, now)
		if out.phase == finetunev1alpha1.PhaseRunning {
			poll, err := k.trackProgress(ctx, c.UID, job, &c.Status.Progress, now)
			if err != nil {
				return ctrl.Result{}, err
			}
			after = sooner(after, poll)
		}
		return ctrl.Result{RequeueAfter: after}, nil
	}
	clearUnschedulable(c)
	return ctrl.Result{}, nil
}

func completionTime(job *batchv1.Job) *metav1.Time {
	if job.Status.CompletionTime != nil {
		return job.Status.CompletionTime
	}
	for _, cond := range job.Status.Conditions {
		if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
			return &cond.LastTransitionTime
		}
	}
	return nil
}

func orDefaultPool(p finetunev1alpha1.Pool) finetunev1alpha1.Pool {
	if p == "" {
		return finetunev1alpha1.PoolAny
	}
	return p
}

// SetupWithManager watches cohorts, their Jobs and pods, the models and
// policies they use (through the field indexes on the references), and the
// creation of the Secrets their pod templates need (metadata only). A
// change of a cohort's status alone (its own status write) is no event.
func (r *FineTuneCohortReconciler) SetupWithManager(mgr ctrl.Manager) error {
	cohortList := func() client.ObjectList { return &finetunev1alpha1.FineTuneCohortList{} }
	return ctrl.NewControllerManagedBy(mgr).
		For(&finetunev1alpha1.FineTuneCohort{}, builder.WithPredicates(notStatusOnly())).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podOwner("FineTuneCohort")), builder.WithPredicates(finishedPods())).
		Watches(&finetunev1alpha1.GlobalModel{}, handler.EnqueueRequestsFromMapFunc(usersOf(mgr.GetClient(), cohortList, cohortModelIndex, cohortNames))).
		Watches(&finetunev1alpha1.CorrectionPolicy{}, handler.EnqueueRequestsFromMapFunc(usersOf(mgr.GetClient(), cohortList, cohortPolicyIndex, cohortNames))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretUsers(mgr.GetClient(), r.Options, cohortList, podTemplateSecretIndex, cohortNames)), builder.WithPredicates(secretAppeared())).
		Named("finetunecohort").
		Complete(r)
}
