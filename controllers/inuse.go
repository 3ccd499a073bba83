package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// InUseFinalizer keeps a GlobalModel or CorrectionPolicy while cohorts (or a
// search) reference it: deleting it waits until they are gone, so a running
// cohort never loses the model or labels it was started with.
const InUseFinalizer = "finetune.lcft.dev/in-use"

// addInUseFinalizer adds the finalizer first, before any other work (Cluster
// API's rule); added means the object was written and the reconcile ends.
func addInUseFinalizer(ctx context.Context, c client.Client, obj client.Object) (bool, error) {
	orig := obj.DeepCopyObject().(client.Object)
	if !controllerutil.AddFinalizer(obj, InUseFinalizer) {
		return false, nil
	}
	// A patch of the finalizers alone: an Update would send the whole spec,
	// whose empty structs the immutability rules may read as a change.
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("adding finalizer to %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return true, nil
}

// releaseWhenUnused removes the finalizer of a deleted model or policy once
// nothing references it; until then the object stays, with a Ready=False
// condition that names the users.
func releaseWhenUnused(ctx context.Context, c client.Client, obj client.Object) error {
	if !controllerutil.ContainsFinalizer(obj, InUseFinalizer) {
		return nil
	}
	users, err := referencingObjects(ctx, c, obj)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil // a watch on the users requeues this object when they go
	}
	orig := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, InUseFinalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing finalizer of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// referencingObjects names the cohorts and policies that use obj.
func referencingObjects(ctx context.Context, c client.Client, obj client.Object) ([]string, error) {
	ns := client.InNamespace(obj.GetNamespace())
	var users []string
	var cohorts finetunev1alpha1.FineTuneCohortList
	switch obj.(type) {
	case *finetunev1alpha1.GlobalModel:
		if err := c.List(ctx, &cohorts, ns, client.MatchingFields{cohortModelIndex: obj.GetName()}); err != nil {
			return nil, fmt.Errorf("listing cohorts of model %s: %w", obj.GetName(), err)
		}
		var policies finetunev1alpha1.CorrectionPolicyList
		if err := c.List(ctx, &policies, ns, client.MatchingFields{policyModelIndex: obj.GetName()}); err != nil {
			return nil, fmt.Errorf("listing policies of model %s: %w", obj.GetName(), err)
		}
		for _, p := range policies.Items {
			users = append(users, "CorrectionPolicy/"+p.Name)
		}
	case *finetunev1alpha1.CorrectionPolicy:
		if err := c.List(ctx, &cohorts, ns, client.MatchingFields{cohortPolicyIndex: obj.GetName()}); err != nil {
			return nil, fmt.Errorf("listing cohorts of policy %s: %w", obj.GetName(), err)
		}
	}
	for _, ch := range cohorts.Items {
		users = append(users, "FineTuneCohort/"+ch.Name)
	}
	return users, nil
}

// inUseFrame is what differs between a GlobalModel's and a
// CorrectionPolicy's reconcile; reconcileInUse is the rest.
type inUseFrame struct {
	statusOf func(client.Object) any                // the status of an object of the kind
	observed func() (int64, finetunev1alpha1.Phase) // observed generation and phase of the live object
	run      func() (time.Duration, error)          // the kind's work; fills status in memory; when to look again (0: on events only)
}

// reconcileInUse is the frame of the reconcile of an object others use:
// release it when deleted and unused, add the in-use finalizer first, leave a
// finished generation alone, and write status once at the end.
func reconcileInUse(ctx context.Context, c client.Client, obj client.Object, f inUseFrame) (ctrl.Result, error) {
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, releaseWhenUnused(ctx, c, obj)
	}
	if added, err := addInUseFinalizer(ctx, c, obj); added || err != nil {
		return ctrl.Result{}, err
	}
	if gen, phase := f.observed(); finished(gen, obj.GetGeneration(), phase) {
		return ctrl.Result{}, nil
	}
	orig := obj.DeepCopyObject().(client.Object)
	after, err := f.run()
	if perr := patchStatus(ctx, c, obj, orig, f.statusOf(orig), f.statusOf(obj)); perr != nil {
		return ctrl.Result{}, perr
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: after}, nil
}
