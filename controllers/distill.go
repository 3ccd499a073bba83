package controllers

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Reasons of a distillation round's conditions.
const (
	// ReasonCohortNotSucceeded: a cohort of spec.training.distillFrom has
	// not finished (Waiting).
	ReasonCohortNotSucceeded = "CohortNotSucceeded"
	// ReasonInvalidDistillation: the cohorts cannot teach (no saved
	// models, different predecessors, the model itself): the spec must
	// change (Failed).
	ReasonInvalidDistillation = "InvalidDistillation"
)

// errInvalidDistillation marks a distillation the spec must change.
var errInvalidDistillation = errors.New("invalid distillation")

// distillTeachers resolves spec.training.distillFrom into the run spec's
// Distill: every cohort must have Succeeded (for its current generation)
// with saved models, and all must fine-tune the same GlobalModel, the
// predecessor, which must be Ready. It returns a wait reason while a
// cohort or the predecessor is not there yet, and an error wrapping
// errInvalidDistillation when waiting cannot help.
func distillTeachers(ctx context.Context, c client.Client, gm *finetunev1alpha1.GlobalModel) (*runspec.Distill, string, *waitReason, error) {
	ds := gm.Spec.Training.DistillFrom
	d := &decimals{}
	out := &runspec.Distill{
		Weight:        parse(d, "spec.training.distillFrom.weight", ds.Weight, 0.5),
		Init:          orDefault(string(ds.Init), runspec.DistillInitPredecessor),
		LongTailShare: parse(d, "spec.training.distillFrom.longTailShare", ds.LongTailShare, runspec.DefaultLongTailShare),
	}
	if err := d.err(); err != nil {
		return nil, "", nil, fmt.Errorf("%w: %w", errInvalidDistillation, err)
	}
	predecessor := ""
	for _, name := range ds.Cohorts {
		co := &finetunev1alpha1.FineTuneCohort{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: gm.Namespace, Name: name}, co); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, "", &waitReason{"FineTuneCohortNotFound", fmt.Sprintf("waiting for FineTuneCohort %s to be created", name)}, nil
			}
			return nil, "", nil, fmt.Errorf("getting FineTuneCohort %s: %w", name, err)
		}
		ref := co.Spec.GlobalModelRef.Name
		switch {
		case ref == gm.Name:
			return nil, "", nil, fmt.Errorf("%w: FineTuneCohort %s fine-tunes this GlobalModel itself; a distillation learns from the cohorts of its predecessor", errInvalidDistillation, name)
		case predecessor != "" && ref != predecessor:
			return nil, "", nil, fmt.Errorf("%w: FineTuneCohort %s fine-tunes GlobalModel %s, not %s as the first cohort: the cohorts of one round share their predecessor", errInvalidDistillation, name, ref, predecessor)
		}
		predecessor = ref
		if co.Status.Phase != finetunev1alpha1.PhaseSucceeded || co.Status.ObservedGeneration != co.Generation {
			return nil, "", &waitReason{ReasonCohortNotSucceeded, fmt.Sprintf("waiting for FineTuneCohort %s to succeed (phase %q)", name, co.Status.Phase)}, nil
		}
		t, err := cohortTeacher(co)
		if err != nil {
			return nil, "", nil, err
		}
		out.Teachers = append(out.Teachers, t)
	}
	pm, wait, err := readyModel(ctx, c, gm.Namespace, predecessor)
	if wait != nil || err != nil {
		return nil, "", wait, err
	}
	a, _, err := modelArtifact(pm)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%w: predecessor %s: %w", errInvalidDistillation, predecessor, err)
	}
	out.Predecessor = *a
	return out, predecessor, nil, nil
}

// cohortTeacher is a Succeeded cohort's saved models as a teacher: its
// user-models files (PerUser, output.userModels Deltas) or its group model
// with the selection of its users (Pooled).
func cohortTeacher(co *finetunev1alpha1.FineTuneCohort) (runspec.Teacher, error) {
	t := runspec.Teacher{Name: co.Namespace + "/" + co.Name}
	switch {
	case co.Status.Model != nil:
		d := &decimals{}
		cohort := &runspec.Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: int(orDefaultInt(co.Spec.MinSamples, 5)), Mode: string(finetunev1alpha1.ModePooled)}
		if r := co.Spec.CTRRange; r != nil {
			cohort.MinCTR = parse(d, "spec.ctrRange.min", r.Min, 0)
			cohort.MaxCTR = parse(d, "spec.ctrRange.max", r.Max, 1)
		}
		if err := d.err(); err != nil {
			return t, fmt.Errorf("%w: FineTuneCohort %s: %w", errInvalidDistillation, co.Name, err)
		}
		t.GroupModel = &runspec.ModelArtifact{URI: co.Status.Model.URI, Digest: co.Status.Model.Digest}
		t.Cohort = cohort
	case co.Status.UserModels != nil && len(co.Status.UserModels.URIs) > 0:
		for _, u := range co.Status.UserModels.URIs {
			t.UserModels = append(t.UserModels, runspec.ModelArtifact{URI: u})
		}
	default:
		return t, fmt.Errorf("%w: FineTuneCohort %s saved no models: set spec.output.userModels Deltas (PerUser) or mode Pooled", errInvalidDistillation, co.Name)
	}
	return t, nil
}

// distillationStatus is status.distillation from the trainer's statistics.
func distillationStatus(predecessor string, st *runspec.DistillStats) *finetunev1alpha1.DistillationStatus {
	if st == nil {
		return nil
	}
	cmp := func(c runspec.Comparison) finetunev1alpha1.AUCComparison {
		return finetunev1alpha1.AUCComparison{Delta: formatSigned(c.Delta), Range: fmt.Sprintf("[%s, %s]", formatSigned(c.Lo), formatSigned(c.Hi)),
			Significant: c.Lo > 0 || c.Hi < 0, Users: c.Users}
	}
	return &finetunev1alpha1.DistillationStatus{
		Predecessor: predecessor, PredecessorDigest: st.PredecessorDigest, PredecessorCloudAUC: formatDecimal(st.PredecessorAUC),
		TaughtUsers: st.TaughtUsers, Overall: cmp(st.Overall), LongTail: cmp(st.LongTail),
		LongTailShare: formatDecimal(st.LongTailShare), LongTailMaxRows: st.LongTailMaxRows,
	}
}

// distillingModels maps a cohort to the GlobalModels of its namespace that
// distil from it (a linear scan of the namespace's models from the cache:
// there are few).
func distillingModels(c client.Client) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list finetunev1alpha1.GlobalModelList
		if err := c.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for _, gm := range list.Items {
			t := gm.Spec.Training
			if t == nil || t.DistillFrom == nil {
				continue
			}
			for _, name := range t.DistillFrom.Cohorts {
				if name == o.GetName() {
					reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&gm)})
					break
				}
			}
		}
		return reqs
	}
}
