package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// waitReason says why a dependency is not usable yet: the reason and message
// of a Waiting condition. Waiting is not an error: a watch starts the
// dependent again when the dependency changes.
type waitReason struct{ reason, message string }

// getReady reads the named dependency into obj and reports whether it is
// Ready for its current generation.
func getReady(ctx context.Context, c client.Client, obj client.Object, kind, namespace, name string, status func() (finetunev1alpha1.Phase, int64)) (*waitReason, error) {
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return &waitReason{kind + "NotFound", fmt.Sprintf("waiting for %s %s to be created", kind, name)}, nil
		}
		return nil, fmt.Errorf("getting %s %s: %w", kind, name, err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return &waitReason{kind + "Deleting", fmt.Sprintf("%s %s is being deleted", kind, name)}, nil
	}
	if phase, observed := status(); phase != finetunev1alpha1.PhaseReady || observed != obj.GetGeneration() {
		return &waitReason{kind + "NotReady", fmt.Sprintf("waiting for %s %s to be Ready (phase %q)", kind, name, phase)}, nil
	}
	return nil, nil
}

func readyModel(ctx context.Context, c client.Client, namespace, name string) (*finetunev1alpha1.GlobalModel, *waitReason, error) {
	gm := &finetunev1alpha1.GlobalModel{}
	wait, err := getReady(ctx, c, gm, "GlobalModel", namespace, name, func() (finetunev1alpha1.Phase, int64) {
		return gm.Status.Phase, gm.Status.ObservedGeneration
	})
	return gm, wait, err
}

func readyPolicy(ctx context.Context, c client.Client, namespace, name string) (*finetunev1alpha1.CorrectionPolicy, *waitReason, error) {
	p := &finetunev1alpha1.CorrectionPolicy{}
	wait, err := getReady(ctx, c, p, "CorrectionPolicy", namespace, name, func() (finetunev1alpha1.Phase, int64) {
		return p.Status.Phase, p.Status.ObservedGeneration
	})
	return p, wait, err
}
