package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kueueQueueLabel names the LocalQueue of a Job that Kueue manages.
const kueueQueueLabel = "kueue.x-k8s.io/queue-name"

// kueueVersions are the Workload API versions tried, newest first.
var kueueVersions = []string{"v1beta2", "v1beta1"}

// KueueView is the Kueue admission of the run's Job.
type KueueView struct {
	// Installed is false when the cluster serves no Kueue Workload kind.
	Installed bool `json:"installed"`
	// Queue is the Job's kueue.x-k8s.io/queue-name label.
	Queue        string `json:"queue,omitempty"`
	Workload     string `json:"workload,omitempty"`
	ClusterQueue string `json:"clusterQueue,omitempty"`
	// Flavors are the ResourceFlavors the admission assigned (its
	// nodeLabels are in the Job's node selector).
	Flavors    []string        `json:"flavors,omitempty"`
	Admitted   bool            `json:"admitted"`
	Conditions []ConditionView `json:"conditions,omitempty"`
}

func (k KueueView) summary() string {
	switch {
	case !k.Installed && k.Queue != "":
		return fmt.Sprintf("the Job names queue %s, but Kueue is not installed (no Workload kind): nothing will unsuspend it", k.Queue)
	case !k.Installed:
		return "not installed"
	case k.Workload == "" && k.Queue == "":
		return "installed; the Job names no queue (not managed by Kueue)"
	case k.Workload == "":
		return fmt.Sprintf("queue %s; no Workload for the Job yet", k.Queue)
	}
	s := fmt.Sprintf("Workload %s, queue %s", k.Workload, cmp.Or(k.Queue, "-"))
	if k.ClusterQueue != "" {
		s += ", cluster queue " + k.ClusterQueue
	}
	if len(k.Flavors) > 0 {
		s += ", flavor " + strings.Join(k.Flavors, ",")
	}
	if k.Admitted {
		s += ", admitted"
	} else {
		s += ", not admitted"
	}
	var cs []string
	for _, c := range k.Conditions {
		cs = append(cs, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, oneLine(c.Message)))
	}
	if len(cs) > 0 {
		s += "\n  " + strings.Join(cs, "\n  ")
	}
	return s
}

// kueueView finds the Workload Kueue made for job (owned by it); a
// cluster without Kueue gives Installed false, not an error.
func kueueView(ctx context.Context, c client.Client, ns string, job *batchv1.Job) (KueueView, error) {
	var v KueueView
	if job != nil {
		v.Queue = job.Labels[kueueQueueLabel]
	}
	for _, version := range kueueVersions {
		var list unstructured.UnstructuredList
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: "kueue.x-k8s.io", Version: version, Kind: "WorkloadList"})
		err := c.List(ctx, &list, client.InNamespace(ns))
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return v, fmt.Errorf("listing Kueue Workloads in %s: %w", ns, err)
		}
		v.Installed = true
		if job == nil {
			return v, nil
		}
		for i := range list.Items {
			w := &list.Items[i]
			if !ownedBy(w, job) {
				continue
			}
			v.Workload = w.GetName()
			v.ClusterQueue, _, _ = unstructured.NestedString(w.Object, "status", "admission", "clusterQueue")
			v.Flavors = admittedFlavors(w)
			if v.Queue == "" {
				v.Queue, _, _ = unstructured.NestedString(w.Object, "spec", "queueName")
			}
			v.Conditions = workloadConditions(w)
			for _, cv := range v.Conditions {
				if cv.Type == "Admitted" && cv.Status == "True" {
					v.Admitted = true
				}
			}
			return v, nil
		}
		return v, nil
	}
	return v, nil
}

func ownedBy(o client.Object, job *batchv1.Job) bool {
	for _, r := range o.GetOwnerReferences() {
		if r.UID == job.UID {
			return true
		}
	}
	return false
}

// workloadConditions reads status.conditions of an unstructured Workload.
func workloadConditions(w *unstructured.Unstructured) []ConditionView {
	raw, _, _ := unstructured.NestedSlice(w.Object, "status", "conditions")
	var out []ConditionView
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		out = append(out, ConditionView{Type: str("type"), Status: str("status"), Reason: str("reason"), Message: str("message")})
	}
	return out
}

// admittedFlavors reads the flavor names of an unstructured Workload's
// status.admission.podSetAssignments[].flavors (resource -> flavor), each
// once, sorted.
func admittedFlavors(w *unstructured.Unstructured) []string {
	raw, _, _ := unstructured.NestedSlice(w.Object, "status", "admission", "podSetAssignments")
	seen := map[string]bool{}
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		flavors, _ := m["flavors"].(map[string]any)
		for _, f := range flavors {
			if name, ok := f.(string); ok && name != "" {
				seen[name] = true
			}
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(seen))
}
