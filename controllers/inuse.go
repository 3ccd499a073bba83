package controllers

import (
	"context"
	"fmt"

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
	if !controllerutil.AddFinalizer(obj, InUseFinalizer) {
		return false, nil
	}
	if err := c.Update(ctx, obj); err != nil {
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
	controllerutil.RemoveFinalizer(obj, InUseFinalizer)
	if err := c.Update(ctx, obj); client.IgnoreNotFound(err) != nil {
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
