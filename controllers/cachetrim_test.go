package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestTrimCached(t *testing.T) {
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: "c-1a2b", Namespace: "ns",
			Labels:          map[string]string{ManagedByLabel: ManagedByValue, OwnerNameLabel: "c"},
			Annotations:     map[string]string{RunHashAnnotation: "1a2b"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "FineTuneCohort", Name: "c", UID: "u1", Controller: ptr.To(true)}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "lcft-operator", Operation: metav1.ManagedFieldsOperationUpdate}},
		}
	}
	kept := func() metav1.ObjectMeta { m := meta(); m.ManagedFields = nil; return m }
	podSpec := corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: trainerContainer, Image: "trainer", Args: []string{"run"}}}}
	status := corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: trainerContainer,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: `{"shard":0}`}}}}}
	jobStatus := batchv1.JobStatus{Succeeded: 2, Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	jobSpec := batchv1.JobSpec{Completions: ptr.To[int32](2), Suspend: ptr.To(true),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}, PodFailurePolicy: badInputFailsJob(),
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: podSpec}}
	cases := []struct {
		name     string
		in, want client.Object
	}{
		{
			name: "job keeps all but its managed fields, pod template, selector and failure policy",
			in:   &batchv1.Job{ObjectMeta: meta(), Spec: jobSpec, Status: jobStatus},
			want: &batchv1.Job{ObjectMeta: kept(), Spec: batchv1.JobSpec{Completions: ptr.To[int32](2), Suspend: ptr.To(true)}, Status: jobStatus},
		},
		{
			name: "pod keeps all but its managed fields",
			in:   &corev1.Pod{ObjectMeta: meta(), Spec: podSpec, Status: status},
			want: &corev1.Pod{ObjectMeta: kept(), Spec: podSpec, Status: status},
		},
		{
			name: "config map metadata keeps all but its managed fields",
			in:   &metav1.PartialObjectMetadata{ObjectMeta: meta()},
			want: &metav1.PartialObjectMetadata{ObjectMeta: kept()},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := trimCached(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
