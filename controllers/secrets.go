package controllers

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// The operator checks that the Secrets a pod template needs exist before it
// creates a Job, so that a missing Secret is a Waiting condition on the
// object instead of pods stuck in CreateContainerConfigError. It reads
// Secrets by metadata only (PartialObjectMetadata): the manager's cache
// never holds Secret data, and a transform drops their annotations too
// (kubectl apply keeps the whole Secret, data included, in one).
//
// RBAC cannot grant metadata alone: list and watch on secrets is the least
// that a metadata watch needs (the reads go through the cache: no get).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=list;watch

// ReasonSecretNotFound is the Waiting reason of an object whose pod template
// references a Secret that does not exist (yet) in its namespace.
const ReasonSecretNotFound = "SecretNotFound"

// secretRef is a required Secret of a pod template and where it is used.
type secretRef struct{ name, where string }

// requiredSecrets lists the Secrets without which the trainer container
// cannot start: envFrom secretRefs, env secretKeyRefs and secret volumes
// (plain or projected) that are not optional. Each name appears once.
func requiredSecrets(t *finetunev1alpha1.TrainerPodTemplate) []secretRef {
	if t == nil {
		return nil
	}
	var refs []secretRef
	add := func(name, where string, optional *bool) {
		if name == "" || (optional != nil && *optional) || slices.ContainsFunc(refs, func(r secretRef) bool { return r.name == name }) {
			return
		}
		refs = append(refs, secretRef{name, where})
	}
	for i, e := range t.EnvFrom {
		if e.SecretRef != nil {
			add(e.SecretRef.Name, fmt.Sprintf("envFrom[%d].secretRef", i), e.SecretRef.Optional)
		}
	}
	for _, e := range t.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			add(e.ValueFrom.SecretKeyRef.Name, fmt.Sprintf("env %s", e.Name), e.ValueFrom.SecretKeyRef.Optional)
		}
	}
	for _, v := range t.Volumes {
		if v.Secret != nil {
			add(v.Secret.SecretName, fmt.Sprintf("volume %s", v.Name), v.Secret.Optional)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					add(s.Secret.Name, fmt.Sprintf("volume %s", v.Name), s.Secret.Optional)
				}
			}
		}
	}
	return refs
}

// secretNames are the names of requiredSecrets, for the field indexes.
func secretNames(t *finetunev1alpha1.TrainerPodTemplate) []string {
	var names []string
	for _, r := range requiredSecrets(t) {
		names = append(names, r.name)
	}
	return names
}

func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// missingSecret reports the first required Secret of t that does not exist
// in namespace, as a Waiting reason that names it (never its data).
func missingSecret(ctx context.Context, c client.Reader, namespace string, t *finetunev1alpha1.TrainerPodTemplate) (*waitReason, error) {
	for _, ref := range requiredSecrets(t) {
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.name}, secretMetadata())
		if apierrors.IsNotFound(err) {
			return &waitReason{ReasonSecretNotFound, fmt.Sprintf("waiting for Secret %s (pod template %s) to be created", ref.name, ref.where)}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("looking up Secret %s: %w", ref.name, err)
		}
	}
	return nil, nil
}

// stripSecret keeps Secrets in the manager's cache down to what the operator
// reads, their names: no annotations (kubectl's last-applied-configuration
// holds the data), no managed fields, and no data should a full Secret ever
// be cached.
func stripSecret(obj any) (any, error) {
	switch s := obj.(type) {
	case *metav1.PartialObjectMetadata:
		s.Annotations = nil
		s.ManagedFields = nil
	case *corev1.Secret:
		s.Annotations = nil
		s.ManagedFields = nil
		s.Data = nil
		s.StringData = nil
	}
	return obj, nil
}

// secretAppeared passes the creation of a Secret: what a waiting object needs.
func secretAppeared() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// secretUsers maps a Secret to the objects of one kind in its namespace
// that need it: all of them when the operator's default template names it,
// else those whose own template does (by index).
func secretUsers(c client.Client, opts Options, newList func() client.ObjectList, index string, names func(client.ObjectList) []string) func(context.Context, client.Object) []reconcile.Request {
	defaults := secretNames(opts.TrainerPodTemplate)
	return usersOrAll(c, newList, index, names, func(o client.Object) bool { return slices.Contains(defaults, o.GetName()) })
}
