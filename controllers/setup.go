package controllers

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions restricts the manager's cache of Jobs, Pods and ConfigMaps to
// the ones the operator created, so it never holds every pod of the cluster,
// and keeps Secrets (watched by metadata only) down to their names.
func CacheOptions() cache.Options {
	byManaged := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}:      byManaged,
			&corev1.Pod{}:       byManaged,
			&corev1.ConfigMap{}: byManaged,
			&corev1.Secret{}:    {Transform: stripSecret},
		},
	}
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
