package controllers

import (
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions restricts the manager's cache of Jobs, Pods and ConfigMaps
// (watched by metadata only) to the ones the operator created, so it never
// holds every pod of the cluster, and keeps them without what the
// controllers never read (trimCached); Secrets (watched by metadata only)
// are kept down to their names, and no cached object holds its managed
// fields. With namespaces
// (--watch-namespaces), the manager watches those namespaces only and needs
// Roles there instead of a ClusterRole; none means all.
func CacheOptions(namespaces ...string) cache.Options {
	byManaged := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue}), Transform: trimCached}
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}:      byManaged,
			&corev1.Pod{}:       byManaged,
			&corev1.ConfigMap{}: byManaged,
			&corev1.Secret{}:    {Transform: stripSecret},
		},
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// ParseNamespaces reads --watch-namespaces: namespace names separated by
// commas; empty means every namespace.
func ParseNamespaces(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, ns := range strings.Split(s, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" || seen[ns] {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		seen[ns] = true
		out = append(out, ns)
	}
	return out, nil
}

// SetupWithManager registers the field indexes and the three controllers.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Pools == nil {
		opts.Pools = DefaultPoolMap()
	}
	if opts.TrainerImage == "" {
		opts.TrainerImage = DefaultTrainerImage
	}
	if err := opts.TrainerPodTemplate.Validate("trainerPodTemplate"); err != nil {
		return fmt.Errorf("the operator's default pod template: %w", err)
	}
	if err := setupIndexes(mgr); err != nil {
		return err
	}
	runPhases.setReader(mgr.GetCache())
	recorder := mgr.GetEventRecorder("lcft-operator")
	if err := (&GlobalModelReconciler{Client: mgr.GetClient(), Options: opts, APIReader: mgr.GetAPIReader(), eventer: eventer{recorder}}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the GlobalModel controller: %w", err)
	}
	if err := (&CorrectionPolicyReconciler{Client: mgr.GetClient(), Options: opts, APIReader: mgr.GetAPIReader(), eventer: eventer{recorder}}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the CorrectionPolicy controller: %w", err)
	}
	if err := (&FineTuneCohortReconciler{Client: mgr.GetClient(), Options: opts, APIReader: mgr.GetAPIReader(), eventer: eventer{recorder}}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the FineTuneCohort controller: %w", err)
	}
	return nil
}
