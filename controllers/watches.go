package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// Field indexes on the references between kinds, so a change of a model or
// policy finds the objects that use it without listing them all.
const (
	cohortModelIndex  = "spec.globalModelRef.name"
	cohortPolicyIndex = "spec.correctionPolicyRef.name"
	policyModelIndex  = "spec.search.globalModelRef.name"
	// podTemplateSecretIndex indexes each kind by the Secrets its own
	// spec.podTemplate requires (requiredSecrets).
	podTemplateSecretIndex = "spec.podTemplate.secrets"
	// controllerUIDIndex indexes Jobs, ConfigMaps and Pods by the UID of
	// their controller, so an owner finds its runs, and a Job its pods,
	// without scanning every one in the namespace (a label selector on the
	// cache is a scan).
	controllerUIDIndex = "metadata.ownerReferences.controller.uid"
)

// listControlled lists into list the objects of owner's namespace that
// owner controls, through the controller-UID index of the manager's cache.
// A client without that cache (the API server refuses the field) lists by
// the operator's owner labels instead.
func listControlled(ctx context.Context, c client.Reader, list client.ObjectList, owner client.Object, ownerKind string) error {
	ns := client.InNamespace(owner.GetNamespace())
	err := c.List(ctx, list, ns, client.MatchingFields{controllerUIDIndex: string(owner.GetUID())})
	if apierrors.IsBadRequest(err) {
		err = c.List(ctx, list, ns, client.MatchingLabels{ManagedByLabel: ManagedByValue, OwnerKindLabel: ownerKind, OwnerNameLabel: truncateLabel(owner.GetName())})
	}
	return err
}

// controllerUID is the UID of obj's controller, if it has one.
func controllerUID(obj client.Object) []string {
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		return []string{string(ref.UID)}
	}
	return nil
}

func setupIndexes(mgr ctrl.Manager) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &finetunev1alpha1.FineTuneCohort{}, cohortModelIndex, func(o client.Object) []string {
		return []string{o.(*finetunev1alpha1.FineTuneCohort).Spec.GlobalModelRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing cohorts by model: %w", err)
	}
	if err := idx.IndexField(ctx, &finetunev1alpha1.FineTuneCohort{}, cohortPolicyIndex, func(o client.Object) []string {
		if ref := o.(*finetunev1alpha1.FineTuneCohort).Spec.CorrectionPolicyRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing cohorts by policy: %w", err)
	}
	if err := idx.IndexField(ctx, &finetunev1alpha1.CorrectionPolicy{}, policyModelIndex, func(o client.Object) []string {
		if s := o.(*finetunev1alpha1.CorrectionPolicy).Spec.Search; s != nil {
			return []string{s.GlobalModelRef.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing policies by model: %w", err)
	}
	for _, obj := range []client.Object{&batchv1.Job{}, configMapMetadata(), &corev1.Pod{}} {
		if err := idx.IndexField(ctx, obj, controllerUIDIndex, controllerUID); err != nil {
			return fmt.Errorf("indexing %T by controller: %w", obj, err)
		}
	}
	type templateOf func(client.Object) *finetunev1alpha1.TrainerPodTemplate
	for _, k := range []struct {
		obj      client.Object
		template templateOf
	}{
		{&finetunev1alpha1.FineTuneCohort{}, func(o client.Object) *finetunev1alpha1.TrainerPodTemplate {
			return o.(*finetunev1alpha1.FineTuneCohort).Spec.PodTemplate
		}},
		{&finetunev1alpha1.GlobalModel{}, func(o client.Object) *finetunev1alpha1.TrainerPodTemplate {
			return o.(*finetunev1alpha1.GlobalModel).Spec.PodTemplate
		}},
		{&finetunev1alpha1.CorrectionPolicy{}, func(o client.Object) *finetunev1alpha1.TrainerPodTemplate {
			return o.(*finetunev1alpha1.CorrectionPolicy).Spec.PodTemplate
		}},
	} {
		if err := idx.IndexField(ctx, k.obj, podTemplateSecretIndex, func(o client.Object) []string { return secretNames(k.template(o)) }); err != nil {
			return fmt.Errorf("indexing %T by Secret: %w", k.obj, err)
		}
	}
	return nil
}

func requestFor(namespace, name string) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}}}
}

// podOwner maps a finished pod of one of our Jobs to the object that owns the
// Job (the pod's labels name it), so results are read as soon as they exist.
func podOwner(kind string) func(context.Context, client.Object) []reconcile.Request {
	return func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if l[OwnerKindLabel] != kind || l[OwnerNameLabel] == "" {
			return nil
		}
		return requestFor(o.GetNamespace(), l[OwnerNameLabel])
	}
}

// finishedPods passes pod events where the pod has terminated, or cannot be
// scheduled (scheduling_policy.go).
func finishedPods() predicate.Predicate {
	pass := func(o client.Object) bool {
		p, ok := o.(*corev1.Pod)
		return ok && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || unschedulable(p) != nil)
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return pass(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return pass(e.ObjectNew) },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// notStatusOnly drops the updates of an object that changed nothing but its
// status (mostly the reconciler's own status write, which would reconcile
// every object once more for nothing), and passes every other event: its
// spec (generation), labels, annotations, finalizers, owners or deletion
// changed, or a resync. What a run's status follows comes through the
// other watches: its Job, pods, model, policy and Secrets.
func notStatusOnly() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		if o == nil || n == nil || o.GetResourceVersion() == n.GetResourceVersion() {
			return true
		}
		return o.GetGeneration() != n.GetGeneration() ||
			!maps.Equal(o.GetLabels(), n.GetLabels()) ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
			!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
			!equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences()) ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
	}}
}

// deletions passes deletes (and the start of a deletion), which is when a
// used object may release its in-use finalizer.
func deletions() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(e event.UpdateEvent) bool { return !e.ObjectNew.GetDeletionTimestamp().IsZero() },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func cohortModel(_ context.Context, o client.Object) []reconcile.Request {
	c := o.(*finetunev1alpha1.FineTuneCohort)
	return requestFor(c.Namespace, c.Spec.GlobalModelRef.Name)
}

func cohortPolicy(_ context.Context, o client.Object) []reconcile.Request {
	c := o.(*finetunev1alpha1.FineTuneCohort)
	if c.Spec.CorrectionPolicyRef == nil {
		return nil
	}
	return requestFor(c.Namespace, c.Spec.CorrectionPolicyRef.Name)
}

func policyModel(_ context.Context, o client.Object) []reconcile.Request {
	p := o.(*finetunev1alpha1.CorrectionPolicy)
	if p.Spec.Search == nil {
		return nil
	}
	return requestFor(p.Namespace, p.Spec.Search.GlobalModelRef.Name)
}

// usersOf maps a changed object to the objects that reference it by index.
func usersOf(c client.Client, newList func() client.ObjectList, index string, names func(client.ObjectList) []string) func(context.Context, client.Object) []reconcile.Request {
	return usersOrAll(c, newList, index, names, func(client.Object) bool { return false })
}

// usersOrAll is usersOf, except that an object for which all returns true
// maps to every object of the kind in its namespace.
func usersOrAll(c client.Client, newList func() client.ObjectList, index string, names func(client.ObjectList) []string, all func(client.Object) bool) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		list := newList()
		// Only names are read: the cache's objects, not copies of them.
		listOpts := []client.ListOption{client.InNamespace(o.GetNamespace()), client.UnsafeDisableDeepCopy}
		if !all(o) {
			listOpts = append(listOpts, client.MatchingFields{index: o.GetName()})
		}
		if err := c.List(ctx, list, listOpts...); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing users", "index", index, "name", o.GetName())
			return nil
		}
		var reqs []reconcile.Request
		for _, n := range names(list) {
			reqs = append(reqs, requestFor(o.GetNamespace(), n)...)
		}
		return reqs
	}
}

func cohortNames(l client.ObjectList) []string {
	var out []string
	for _, c := range l.(*finetunev1alpha1.FineTuneCohortList).Items {
		out = append(out, c.Name)
	}
	return out
}

func modelNames(l client.ObjectList) []string {
	var out []string
	for _, m := range l.(*finetunev1alpha1.GlobalModelList).Items {
		out = append(out, m.Name)
	}
	return out
}

func policyNames(l client.ObjectList) []string {
	var out []string
	for _, p := range l.(*finetunev1alpha1.CorrectionPolicyList).Items {
		out = append(out, p.Name)
	}
	return out
}
