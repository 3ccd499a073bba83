package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// GlobalModelReconciler pretrains a GlobalModel in a Job (spec.training) or
// verifies an imported artifact in a Job (spec.import), and reports the model
// in status. It keeps the model while cohorts or searches use it.
type GlobalModelReconciler struct {
	client.Client
	Options Options
	// APIReader reads around the cache (nil: the client).
	APIReader client.Reader
	eventer
}

// The manager's RBAC: only the verbs its client calls use (README, "RBAC",
// says why each). Reads of the three kinds, ConfigMaps, Pods and Secrets go
// through the cache (list, watch); the live Job is read around it (get).
// +kubebuilder:rbac:groups=finetune.lcft.dev,resources=globalmodels;correctionpolicies;finetunecohorts,verbs=list;watch;patch
// +kubebuilder:rbac:groups=finetune.lcft.dev,resources=globalmodels/status;correctionpolicies/status;finetunecohorts/status,verbs=patch
// +kubebuilder:rbac:groups=finetune.lcft.dev,resources=globalmodels/finalizers;correctionpolicies/finalizers;finetunecohorts/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (r *GlobalModelReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	gm := &finetunev1alpha1.GlobalModel{}
	if err := r.Get(ctx, req.NamespacedName, gm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return reconcileInUse(ctx, r.Client, gm, inUseFrame{
		statusOf: func(o client.Object) any { return &o.(*finetunev1alpha1.GlobalModel).Status },
		observed: func() (int64, finetunev1alpha1.Phase) { return gm.Status.ObservedGeneration, gm.Status.Phase },
		run: func() (time.Duration, error) {
			var after time.Duration
			err := r.reconcileRun(ctx, gm, &after)
			if err == nil { // only a spec that reached its Job (or was judged without one) is observed
				gm.Status.ObservedGeneration = gm.Generation
			}
			return after, err
		},
	})
}

// reconcileRun drives the pretraining or verification Job and fills
// status; *after is when to poll the running Job's progress again.
func (r *GlobalModelReconciler) reconcileRun(ctx context.Context, gm *finetunev1alpha1.GlobalModel, after *time.Duration) error {
	conds := conditions{list: &gm.Status.Conditions, generation: gm.Generation, doneType: finetunev1alpha1.ConditionReady}
	build, what := pretrainSpec, "pretraining"
	if gm.Spec.Import != nil {
		build, what = verifySpec, "import check"
	}
	spec, err := build(gm, r.Options)
	if err != nil {
		gm.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(gm.Status.Phase, "InvalidSpec", err.Error())
		return nil // the spec must change; retrying cannot help
	}
	predecessor := ""
	if t := gm.Spec.Training; t != nil && t.DistillFrom != nil {
		distill, name, wait, err := distillTeachers(ctx, r.Client, gm)
		switch {
		case errors.Is(err, errInvalidDistillation):
			gm.Status.Phase = finetunev1alpha1.PhaseFailed
			conds.phase(gm.Status.Phase, ReasonInvalidDistillation, err.Error())
			return nil
		case err != nil:
			return err
		case wait != nil:
			gm.Status.Phase = finetunev1alpha1.PhaseWaiting
			conds.phase(gm.Status.Phase, wait.reason, wait.message)
			return nil
		}
		spec.Distill, predecessor = distill, name
	}
	tmpl, err := mergePodTemplates(r.Options.TrainerPodTemplate, gm.Spec.PodTemplate, "spec.podTemplate")
	if err != nil {
		gm.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(gm.Status.Phase, ReasonInvalidPodTemplate, err.Error())
		return nil
	}
	k := runner{Client: r.Client, apiReader: r.APIReader, opts: r.Options}
	restart := restartState{jobName: &gm.Status.JobName, restarts: &gm.Status.Restarts, phase: gm.Status.Phase}
	res, err := k.ensure(ctx, run{owner: gm, ownerKind: "GlobalModel", spec: spec, placement: gm.Spec.Placement, policy: gm.Spec.RunPolicy, podTemplate: tmpl, restart: restart})
	if err != nil {
		return err
	}
	if res.restartLimit {
		r.failPastBudget(gm, "GlobalModel", restart, &gm.Status.Phase, conds, k.opts.maxJobRestarts())
		return nil
	}
	if res.wait != nil {
		gm.Status.Phase = finetunev1alpha1.PhaseWaiting
		conds.phase(gm.Status.Phase, res.wait.reason, res.wait.message)
		return nil
	}
	r.recordRestart(gm, restart, res, k.opts.maxJobRestarts())
	job, created := res.job, res.created
	gm.Status.JobName = job.Name
	if created {
		gm.Status.Progress = nil // of an earlier run
		jobsCreated.WithLabelValues("GlobalModel").Inc()
	}
	out, err := k.observe(ctx, job, nil)
	if err != nil {
		return err
	}
	if err := k.recordAdmission(ctx, conds, &gm.Status.Admission, job); err != nil {
		return err
	}
	switch out.phase {
	case finetunev1alpha1.PhaseSucceeded:
		gm.Status.Progress = endProgress(gm.UID, gm.Status.Progress, true)
		err := r.succeeded(gm, spec, out, conds)
		gm.Status.Distillation = nil
		if st := out.summaries[0].Pretrain; st != nil && predecessor != "" {
			gm.Status.Distillation = distillationStatus(predecessor, st.Distill)
		}
		observeRunEnd("GlobalModel", job, gm.Status.Phase)
		return err
	case finetunev1alpha1.PhaseFailed:
		gm.Status.Progress = endProgress(gm.UID, gm.Status.Progress, false)
		gm.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(gm.Status.Phase, out.reason, out.message)
		jobsFailed.WithLabelValues("GlobalModel").Inc()
		observeRunEnd("GlobalModel", job, gm.Status.Phase)
		r.event(gm, corev1.EventTypeWarning, out.reason, "Failed", "%s failed: %s", what, out.message)
	default:
		gm.Status.Phase = out.phase
		if out.phase == finetunev1alpha1.PhaseQueued {
			conds.phase(out.phase, ReasonWaitingForAdmission, what+" "+queuedMessage(job))
			return nil
		}
		conds.phase(out.phase, "JobRunning", fmt.Sprintf("%s Job %s is %s", what, job.Name, out.phase))
		if out.phase == finetunev1alpha1.PhaseRunning {
			*after, err = k.trackProgress(ctx, gm.UID, job, &gm.Status.Progress, time.Now())
			return err
		}
	}
	return nil
}

func (r *GlobalModelReconciler) succeeded(gm *finetunev1alpha1.GlobalModel, spec runspec.Spec, out runOutcome, conds conditions) error {
	st := out.summaries[0].Pretrain
	if st == nil {
		gm.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(gm.Status.Phase, "MissingSummary", "the trainer's summary has no model statistics")
		return nil
	}
	gm.Status.ArtifactURI = unmountURI(st.ArtifactURI, spec.OutputURI)
	if gm.Spec.Import != nil { // the user's URI and CTR, now verified
		gm.Status.ArtifactURI = gm.Spec.Import.ArtifactURI
		st.GlobalCTR = spec.GlobalModel.GlobalCTR
	}
	gm.Status.Digest = st.Digest
	gm.Status.GlobalCTR = formatDecimal(st.GlobalCTR)
	gm.Status.Users = st.Users
	gm.Status.Samples = st.Samples
	gm.Status.HoldoutFraction, gm.Status.HoldoutSamples = "", 0
	if gm.Spec.Training != nil {
		gm.Status.CloudAUC = formatDecimal(st.CloudAUC)
		if st.HoldoutFraction > 0 {
			// Exact (shortest round-trip form): a search recomputes the
			// held-out rows from it.
			gm.Status.HoldoutFraction = finetunev1alpha1.Decimal(strconv.FormatFloat(st.HoldoutFraction, 'g', -1, 64))
			gm.Status.HoldoutSamples = st.HoldoutSamples
		}
	}
	gm.Status.LocalCTRQuantiles = nil
	for _, q := range st.Quantiles {
		gm.Status.LocalCTRQuantiles = append(gm.Status.LocalCTRQuantiles, finetunev1alpha1.Quantile{Quantile: formatDecimal(q[0]), LocalCTR: formatDecimal(q[1])})
	}
	gm.Status.Dataset = nil
	if st.DatasetDigest != "" {
		gm.Status.Dataset = &finetunev1alpha1.DatasetStatus{Digest: st.DatasetDigest}
		if st.PartitionsURI != "" {
			gm.Status.Dataset.PartitionsURI = unmountURI(st.PartitionsURI, spec.OutputURI)
		}
	}
	gm.Status.Phase = finetunev1alpha1.PhaseReady
	conds.phase(gm.Status.Phase, "ModelReady", fmt.Sprintf("model %s (%s) is ready", gm.Status.ArtifactURI, gm.Status.Digest))
	r.event(gm, corev1.EventTypeNormal, "ModelReady", "Completed", "model ready: global CTR %s, Cloud AUC %s", gm.Status.GlobalCTR, gm.Status.CloudAUC)
	return nil
}

// SetupWithManager watches GlobalModels, their Jobs and pods, the objects
// that use them (for the in-use finalizer), and the creation of the Secrets
// their pod templates need (metadata only).
func (r *GlobalModelReconciler) SetupWithManager(mgr ctrl.Manager) error {
	modelList := func() client.ObjectList { return &finetunev1alpha1.GlobalModelList{} }
	return ctrl.NewControllerManagedBy(mgr).
		For(&finetunev1alpha1.GlobalModel{}).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podOwner("GlobalModel")), builder.WithPredicates(finishedPods())).
		Watches(&finetunev1alpha1.FineTuneCohort{}, handler.EnqueueRequestsFromMapFunc(cohortModel), builder.WithPredicates(deletions())).
		Watches(&finetunev1alpha1.CorrectionPolicy{}, handler.EnqueueRequestsFromMapFunc(policyModel), builder.WithPredicates(deletions())).
		Watches(&finetunev1alpha1.FineTuneCohort{}, handler.EnqueueRequestsFromMapFunc(distillingModels(mgr.GetClient()))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretUsers(mgr.GetClient(), r.Options, modelList, podTemplateSecretIndex, modelNames)), builder.WithPredicates(secretAppeared())).
		Named("globalmodel").
		Complete(r)
}
