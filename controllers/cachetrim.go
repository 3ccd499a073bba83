package controllers

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// trimCached keeps of the Jobs, Pods and ConfigMaps in the manager's cache
// only what the controllers read, which at thousands of cohorts is most of
// the manager's memory: no managed fields, of a Job's spec only completions,
// parallelism and suspend (its metadata and status stay whole), no pod
// spec but the node name, no ConfigMap data (the run spec is written, never
// read back). Such objects are changed with patches, never with an Update
// of the cached copy, which would send the trimmed fields as empty.
func trimCached(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	switch o := obj.(type) {
	case *batchv1.Job:
		o.Spec = batchv1.JobSpec{Completions: o.Spec.Completions, Parallelism: o.Spec.Parallelism, Suspend: o.Spec.Suspend}
	case *corev1.Pod:
		o.Spec = corev1.PodSpec{NodeName: o.Spec.NodeName}
	case *corev1.ConfigMap:
		o.Data, o.BinaryData = nil, nil
	}
	return obj, nil
}
