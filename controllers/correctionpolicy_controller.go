package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// CorrectionPolicyReconciler resolves a policy into the table cohorts use:
// static strategies at once, an explicit Hard table after validation, and a
// Hard search through a search Job on the policy's GlobalModel.
type CorrectionPolicyReconciler struct {
	client.Client
	Options Options
	// APIReader reads around the cache (nil: the client).
	APIReader client.Reader
	eventer
}

func (r *CorrectionPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &finetunev1alpha1.CorrectionPolicy{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return reconcileInUse(ctx, r.Client, p, inUseFrame{
		statusOf: func(o client.Object) any { return &o.(*finetunev1alpha1.CorrectionPolicy).Status },
		observed: func() (int64, finetunev1alpha1.Phase) { return p.Status.ObservedGeneration, p.Status.Phase },
		run: func() (time.Duration, error) {
			var after time.Duration
			err := r.resolve(ctx, p, &after)
			if err == nil { // only a spec that reached its Job (or was judged without one) is observed
				p.Status.ObservedGeneration = p.Generation
			}
			return after, err
		},
	})
}

// resolve fills the policy's status; *after is when to poll a running
// search's progress again.
func (r *CorrectionPolicyReconciler) resolve(ctx context.Context, p *finetunev1alpha1.CorrectionPolicy, after *time.Duration) error {
	conds := conditions{list: &p.Status.Conditions, generation: p.Generation, doneType: finetunev1alpha1.ConditionReady}
	switch {
	case p.Spec.Strategy != finetunev1alpha1.StrategyHard:
		p.Status.Phase = finetunev1alpha1.PhaseReady
		conds.phase(p.Status.Phase, "StaticStrategy", fmt.Sprintf("strategy %s needs no table", p.Spec.Strategy))
		return nil
	case len(p.Spec.Groups) > 0:
		return r.explicitTable(p, conds)
	case p.Spec.Search != nil:
		return r.search(ctx, p, conds, after)
	}
	p.Status.Phase = finetunev1alpha1.PhaseFailed
	conds.phase(p.Status.Phase, "InvalidSpec", "strategy Hard needs spec.groups or spec.search")
	return nil
}

// explicitTable validates the user's table (the CRD checks overlap already;
// this also catches values that only parse badly) and copies it into status.
func (r *CorrectionPolicyReconciler) explicitTable(p *finetunev1alpha1.CorrectionPolicy, conds conditions) error {
	d := &decimals{}
	p.Status.Groups = nil
	for i, g := range p.Spec.Groups {
		f := fmt.Sprintf("spec.groups[%d]", i)
		lo, hi := parse(d, f+".ctrRange.min", g.CTRRange.Min, 0), parse(d, f+".ctrRange.max", g.CTRRange.Max, 1)
		if !(0 <= lo && lo < hi && hi <= 1) {
			d.errs = append(d.errs, fmt.Errorf("%s.ctrRange: [%g, %g) is not an interval inside [0, 1]", f, lo, hi))
		}
		parse(d, f+".positiveLabel", g.PositiveLabel, 1)
		parse(d, f+".negativeLabel", g.NegativeLabel, 0)
		p.Status.Groups = append(p.Status.Groups, finetunev1alpha1.ResolvedLabelGroup{CTRRange: g.CTRRange, Strategy: finetunev1alpha1.GroupHard, PositiveLabel: g.PositiveLabel, NegativeLabel: g.NegativeLabel})
	}
	if err := d.err(); err != nil {
		p.Status.Groups = nil
		p.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(p.Status.Phase, "InvalidGroups", err.Error())
		return nil
	}
	p.Status.Phase = finetunev1alpha1.PhaseReady
	conds.phase(p.Status.Phase, "TableResolved", fmt.Sprintf("%d label groups", len(p.Status.Groups)))
	return nil
}

func (r *CorrectionPolicyReconciler) search(ctx context.Context, p *finetunev1alpha1.CorrectionPolicy, conds conditions, after *time.Duration) error {
	gm, wait, err := readyModel(ctx, r.Client, p.Namespace, p.Spec.Search.GlobalModelRef.Name)
	if err != nil {
		return err
	}
	if wait != nil {
		p.Status.Phase = finetunev1alpha1.PhaseWaiting
		conds.phase(p.Status.Phase, wait.reason, wait.message)
		return nil
	}
	if refused := modelHoldout(gm); refused != "" {
		p.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(p.Status.Phase, ReasonModelHasNoHoldout, refused)
		r.event(p, corev1.EventTypeWarning, ReasonModelHasNoHoldout, "Refused", "%s", refused)
		return nil
	}
	p.Status.HoldoutFraction = gm.Status.HoldoutFraction
	spec, err := searchSpec(p, gm, r.Options)
	if err != nil {
		p.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(p.Status.Phase, "InvalidSpec", err.Error())
		return nil
	}
	if refused := searchOnModelData(gm, spec); refused != "" {
		p.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(p.Status.Phase, ReasonSearchDataIsNotModelData, refused)
		r.event(p, corev1.EventTypeWarning, ReasonSearchDataIsNotModelData, "Refused", "%s", refused)
		return nil
	}
	tmpl, err := mergePodTemplates(r.Options.TrainerPodTemplate, p.Spec.PodTemplate, "spec.podTemplate")
	if err != nil {
		p.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(p.Status.Phase, ReasonInvalidPodTemplate, err.Error())
		return nil
	}
	k := runner{Client: r.Client, apiReader: r.APIReader, opts: r.Options}
	restart := restartState{jobName: &p.Status.JobName, restarts: &p.Status.Restarts, phase: p.Status.Phase}
	res, err := k.ensure(ctx, run{owner: p, ownerKind: "CorrectionPolicy", spec: spec, placement: p.Spec.Placement, policy: p.Spec.RunPolicy, podTemplate: tmpl, restart: restart})
	if err != nil {
		return err
	}
	if res.restartLimit {
		r.failPastBudget(p, "CorrectionPolicy", restart, &p.Status.Phase, conds, k.opts.maxJobRestarts())
		return nil
	}
	if res.wait != nil {
		p.Status.Phase = finetunev1alpha1.PhaseWaiting
		conds.phase(p.Status.Phase, res.wait.reason, res.wait.message)
		return nil
	}
	r.recordRestart(p, restart, res, k.opts.maxJobRestarts())
	job, created := res.job, res.created
	p.Status.JobName = job.Name
	p.Status.Seeds = searchSeeds(spec)
	p.Status.ReportURI = runOutputURI(spec.OutputURI, job.Annotations[RunHashAnnotation])
	if created {
		p.Status.Progress = nil // of an earlier run
		jobsCreated.WithLabelValues("CorrectionPolicy").Inc()
	}
	out, err := k.observe(ctx, job, nil)
	if err != nil {
		return err
	}
	if err := k.recordAdmission(ctx, conds, &p.Status.Admission, job); err != nil {
		return err
	}
	p.Status.ShardsSucceeded = out.succeeded
	switch out.phase {
	case finetunev1alpha1.PhaseSucceeded:
		p.Status.Progress = endProgress(p.UID, p.Status.Progress, true)
		r.searchSucceeded(p, out, conds)
		observeRunEnd("CorrectionPolicy", job, p.Status.Phase)
	case finetunev1alpha1.PhaseFailed:
		p.Status.Progress = endProgress(p.UID, p.Status.Progress, false)
		p.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(p.Status.Phase, out.reason, out.message)
		jobsFailed.WithLabelValues("CorrectionPolicy").Inc()
		observeRunEnd("CorrectionPolicy", job, p.Status.Phase)
		r.event(p, corev1.EventTypeWarning, out.reason, "Failed", "search failed: %s", out.message)
	default:
		p.Status.Phase = out.phase
		if out.phase == finetunev1alpha1.PhaseQueued {
			conds.phase(out.phase, ReasonWaitingForAdmission, "search "+queuedMessage(job))
			return nil
		}
		conds.phase(out.phase, "JobRunning", fmt.Sprintf("search Job %s is %s (%d of %d shards done)", job.Name, out.phase, out.succeeded, spec.Shards))
		if out.phase == finetunev1alpha1.PhaseRunning {
			*after, err = k.trackProgress(ctx, p.UID, job, &p.Status.Progress, time.Now())
			return err
		}
	}
	return nil
}

// SetupWithManager watches policies, their Jobs and pods, the models their
// searches use, the cohorts that use them (for the in-use finalizer), and the
// creation of the Secrets their pod templates need (metadata only).
func (r *CorrectionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	policyList := func() client.ObjectList { return &finetunev1alpha1.CorrectionPolicyList{} }
	return ctrl.NewControllerManagedBy(mgr).
		For(&finetunev1alpha1.CorrectionPolicy{}).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podOwner("CorrectionPolicy")), builder.WithPredicates(finishedPods())).
		Watches(&finetunev1alpha1.GlobalModel{}, handler.EnqueueRequestsFromMapFunc(usersOf(mgr.GetClient(), policyList, policyModelIndex, policyNames))).
		Watches(&finetunev1alpha1.FineTuneCohort{}, handler.EnqueueRequestsFromMapFunc(cohortPolicy), builder.WithPredicates(deletions())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretUsers(mgr.GetClient(), r.Options, policyList, podTemplateSecretIndex, policyNames)), builder.WithPredicates(secretAppeared())).
		Named("correctionpolicy").
		Complete(r)
}
