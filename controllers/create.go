package controllers

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A run's ConfigMap and Job are created with a plain create (POST) when they
// do not exist yet, the case of every new run: at thousands of cohorts the
// API server's CPU bounds how fast Jobs appear, and creates cost it less
// than server-side applies (with the event dropped, its CPU per cohort
// fell from about 37 to 24-28 ms; README, "Operator at scale"). The field manager of the create is FieldOwner, with
// operation Update. Only the update of a live Job is a server-side apply
// (apply.go); before the first one, upgradeManagedFields hands the fields
// the create set to the apply's entry, so that the apply also removes what
// the operator stopped setting (a field owned by another entry, even of the
// same manager name, would stay). The run's ConfigMap never changes (its
// name carries the run's hash): it is created, or, when one of that name
// exists, applied as before.

// createConfigMap creates the run's ConfigMap, or applies it over one that
// exists already.
func (k runner) createConfigMap(ctx context.Context, cm *corev1.ConfigMap) error {
	err := k.Create(ctx, cm.DeepCopy(), client.FieldOwner(FieldOwner))
	if apierrors.IsAlreadyExists(err) {
		return k.applyConfigMap(ctx, cm)
	}
	if err != nil {
		return fmt.Errorf("creating ConfigMap %s: %w", cm.Name, err)
	}
	return nil
}

// createJob creates job and returns it as the API server has it. An
// AlreadyExists error is wrapped, for the caller to read the Job.
func (k runner) createJob(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	got := job.DeepCopy()
	if err := k.Create(ctx, got, client.FieldOwner(FieldOwner)); err != nil {
		return nil, fmt.Errorf("creating Job %s: %w", job.Name, err)
	}
	return got, nil
}

// upgradeManagedFields makes the fields that FieldOwner set by create or
// update (operation Update) on obj, read from the API server with its
// managed fields, owned by FieldOwner's apply entry, as the first apply
// after a create needs (see above). It writes only when obj has such an
// entry, with obj's resourceVersion as precondition.
func (k runner) upgradeManagedFields(ctx context.Context, obj client.Object) error {
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(obj, sets.New(FieldOwner), FieldOwner)
	if err != nil {
		return fmt.Errorf("moving the fields %s created on %s to its apply: %w", FieldOwner, obj.GetName(), err)
	}
	if patch == nil {
		return nil
	}
	if err := k.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return fmt.Errorf("moving the fields %s created on %s to its apply: %w", FieldOwner, obj.GetName(), err)
	}
	return nil
}
