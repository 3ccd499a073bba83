package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// trimCached keeps the Jobs, Pods and ConfigMaps in the manager's cache
// without what the controllers never read, which at thousands of cohorts is
// much of the manager's memory: their managed fields, and the data of the
// ConfigMaps (the run spec is applied, never read back). Jobs and Pods keep
// their spec: the server-side apply of a live Job and the failure messages
// read it.
func trimCached(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		cm.Data, cm.BinaryData = nil, nil
	}
	return obj, nil
}
