package controllers

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// trimCached keeps the Jobs, Pods and ConfigMaps in the manager's cache
// without what the controllers never read from it, which at thousands of
// cohorts is much of the manager's memory: their managed fields, and the
// pod template, selector and pod failure policy of a Job (the apply of a
// live Job reads them from the API server when it has to write, apply.go;
// messages name the pods' node selector). The ConfigMaps are watched by metadata alone (the run spec is
// created, never read back: configMapMetadata). Pods keep their spec: the
// failure messages read it. Such objects are changed by apply or patch,
// never by an Update of the cached copy.
func trimCached(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	if job, ok := obj.(*batchv1.Job); ok {
		job.Spec.Template = corev1.PodTemplateSpec{}
		job.Spec.Selector, job.Spec.PodFailurePolicy = nil, nil
	}
	return obj, nil
}
