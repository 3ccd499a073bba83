package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func failedPod(name, idx, reason, msg string, limit string) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: idx}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: trainerContainer}}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
			Name: trainerContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: reason, Message: msg}},
		}}},
	}
	if limit != "" {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)}
	}
	return p
}

func TestFailureOf(t *testing.T) {
	cases := []struct {
		name        string
		pods        []corev1.Pod
		wantReason  string
		wantMessage []string // substrings
	}{
		{"no failed pod", nil, "", nil},
		{"the trainer's summary error", []corev1.Pod{failedPod("a", "0", "Error", `{"kind":"finetune","shard":0,"arch":"","error":"reading s3://b/x: NoSuchKey"}`, "")},
			ReasonTrainerFailed, []string{"shard 0: reading s3://b/x: NoSuchKey"}},
		{"a plain message", []corev1.Pod{failedPod("a", "1", "Error", "panic: boom", "")}, ReasonTrainerFailed, []string{"shard 1: panic: boom"}},
		{"OOMKilled names the limit", []corev1.Pod{failedPod("a", "0", "OOMKilled", "", "300Mi")},
			ReasonOOMKilled, []string{"shard 0: OOMKilled", "at its memory limit 300Mi"}},
		{"OOMKilled without a limit", []corev1.Pod{failedPod("a", "0", "OOMKilled", "", "")}, ReasonOOMKilled, []string{"no memory limit"}},
		{"the same message once", []corev1.Pod{failedPod("a", "0", "Error", "x", ""), failedPod("b", "0", "Error", "x", "")}, ReasonTrainerFailed, []string{"shard 0: x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg := failureOf(tc.pods)
			if reason != tc.wantReason {
				t.Errorf("reason %q, want %q (message %q)", reason, tc.wantReason, msg)
			}
			for _, w := range tc.wantMessage {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if strings.Count(msg, "shard ") > len(tc.pods) || (len(tc.pods) == 2 && strings.Count(msg, "shard ") != 1) {
				t.Errorf("message %q repeats itself", msg)
			}
		})
	}
}

// Only a pod whose controller reference is the Job, by UID and as the Job
// controller makes it, is the Job's.
func TestMadeByJob(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "job-uid"}}
	ref := func(uid string, controller, block bool) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "j", UID: k8stypes.UID(uid), Controller: ptr.To(controller), BlockOwnerDeletion: ptr.To(block)}}
	}
	cases := map[string]struct {
		refs []metav1.OwnerReference
		want bool
	}{
		"the Job controller's pod":     {ref("job-uid", true, true), true},
		"no owner (labels only)":       {nil, false},
		"another Job of the same name": {ref("old-uid", true, true), false},
		"owned but not controlled":     {ref("job-uid", false, true), false},
		"without blockOwnerDeletion":   {ref("job-uid", true, false), false},
		"controlled by something else": {[]metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", UID: "job-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}, false},
	}
	got, want := map[string]bool{}, map[string]bool{}
	for name, tc := range cases {
		got[name] = madeByJob(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tc.refs}}, job)
		want[name] = tc.want
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("madeByJob (-want +got):\n%s", diff)
	}
}
