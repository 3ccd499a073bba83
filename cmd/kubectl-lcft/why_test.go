package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// ago is testNow minus d, at the second (the precision of the API's times).
func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

// failedRun creates a Failed cohort "stuck" with its Job (queue team-q),
// two pods (shard 0 failed with a message, shard 1 succeeded earlier) and
// events about them and about another object.
func failedRun(t *testing.T, ns string) *batchv1.Job {
	t.Helper()
	ctx := context.Background()
	c := cohortObject(ns, "stuck", 2)
	mustCreate(t, c)
	c.Status.Phase = finetunev1alpha1.PhaseFailed
	c.Status.JobName = "stuck-run1"
	c.Status.Progress = &finetunev1alpha1.RunProgress{Summary: "40% (40/100 users) stopped", Stage: "fine-tuning", Unit: "users", Done: 40, Total: 100, Percent: 40,
		ShardsReporting: 2, UpdatedAt: ago(3 * time.Minute)}
	c.Status.Conditions = []metav1.Condition{
		{Type: "Failed", Status: metav1.ConditionTrue, Reason: "JobFailed", Message: "shard 0 failed:\n exit code 2", LastTransitionTime: ago(2 * time.Minute)},
		{Type: "Ready", Status: metav1.ConditionFalse, Reason: "JobFailed", Message: "see Failed", LastTransitionTime: ago(2 * time.Minute)},
	}
	if err := k8sClient.Status().Update(ctx, c); err != nil {
		t.Fatalf("cohort status: %v", err)
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "stuck-run1", Namespace: ns, Labels: map[string]string{kueueQueueLabel: "team-q"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "trainer", Image: "lcft-trainer:test"}},
			}},
		},
	}
	mustCreate(t, job)
	start := ago(5 * time.Minute)
	job.Status.StartTime = &start
	job.Status.Failed, job.Status.Succeeded = 1, 1
	job.Status.Ready, job.Status.Terminating = ptr.To[int32](0), ptr.To[int32](0)
	job.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: ago(2 * time.Minute)},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: ago(2 * time.Minute)},
	}
	if err := k8sClient.Status().Update(ctx, job); err != nil {
		t.Fatalf("Job status: %v", err)
	}
	pod := func(name, node string, phase corev1.PodPhase, term *corev1.ContainerStateTerminated) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
			Spec:       *job.Spec.Template.Spec.DeepCopy(),
		}
		p.Spec.NodeName = node
		mustCreate(t, p)
		p.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{Name: "trainer", Image: "lcft-trainer:test", State: corev1.ContainerState{Terminated: term}}}}
		if err := k8sClient.Status().Update(ctx, p); err != nil {
			t.Fatalf("pod status: %v", err)
		}
	}
	pod("stuck-run1-0-a", "node-a", corev1.PodFailed, &corev1.ContainerStateTerminated{
		ExitCode: 2, Reason: "Error", StartedAt: ago(4 * time.Minute), FinishedAt: ago(3 * time.Minute),
		Message: `{"kind":"finetune","shard":0,"error":"reading s3://data/ratings.csv: AccessDenied"}`,
	})
	pod("stuck-run1-1-b", "node-b", corev1.PodSucceeded, &corev1.ContainerStateTerminated{
		ExitCode: 0, Reason: "Completed", StartedAt: ago(5 * time.Minute), FinishedAt: ago(4 * time.Minute), Message: `{"kind":"finetune","shard":1}`,
	})
	event := func(name, kind, obj, typ, reason, msg string, at time.Duration) {
		mustCreate(t, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: obj, Namespace: ns},
			Type:           typ, Reason: reason, Message: msg, Count: 1,
			FirstTimestamp: ago(at), LastTimestamp: ago(at), Source: corev1.EventSource{Component: "test"},
		})
	}
	event("e1", "FineTuneCohort", "stuck", "Normal", "JobCreated", "created Job stuck-run1", 5*time.Minute)
	event("e2", "Pod", "stuck-run1-0-a", "Warning", "BackOff", "trainer exited with code 2", 3*time.Minute)
	event("e3", "Job", "stuck-run1", "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit", 150*time.Second)
	event("e4", "FineTuneCohort", "stuck", "Warning", "JobFailed", "shard 0 failed", 2*time.Minute)
	event("e5", "FineTuneCohort", "other", "Warning", "JobFailed", "not about stuck", time.Minute)
	return job
}

func mustCreate(t *testing.T, o client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), o); err != nil {
		t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
	}
}

func TestWhy(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	job := failedRun(t, ns)

	out, _, err := run(t, ns, "why", "stuck")
	if err != nil {
		t.Fatalf("why: %v", err)
	}
	want := []string{
		"FineTuneCohort " + ns + "/stuck: Failed",
		"Progress: 40% (40/100 users) stopped, fine-tuning; 2 shard(s) reporting, polled 3m ago",
		"",
		"CONDITION  STATUS  REASON     AGE  MESSAGE",
		"Failed     True    JobFailed  2m   shard 0 failed: exit code 2",
		"Ready      False   JobFailed  2m   see Failed",
		"",
		"Kueue: the Job names queue team-q, but Kueue is not installed (no Workload kind): nothing will unsuspend it",
		"Job stuck-run1: suspended false, active 0, succeeded 1, failed 1",
		"  FailureTarget=True BackoffLimitExceeded: Job has reached the specified backoff limit",
		"  Failed=True BackoffLimitExceeded: Job has reached the specified backoff limit",
		"",
		"POD             PHASE      NODE    TRAINER",
		"stuck-run1-0-a  Failed     node-a  Terminated: Error, exit code 2",
		"stuck-run1-1-b  Succeeded  node-b  Terminated: Completed, exit code 0",
		"",
		"LAST SEEN  TYPE     REASON                OBJECT                MESSAGE",
		"5m         Normal   JobCreated            FineTuneCohort/stuck  created Job stuck-run1",
		"3m         Warning  BackOff               Pod/stuck-run1-0-a    trainer exited with code 2",
		"2m         Warning  BackoffLimitExceeded  Job/stuck-run1        Job has reached the specified backoff limit",
		"2m         Warning  JobFailed             FineTuneCohort/stuck  shard 0 failed",
		"",
		"Trainer's last message (pod stuck-run1-0-a, exit code 2, 3m ago):",
		`  {"kind":"finetune","shard":0,"error":"reading s3://data/ratings.csv: AccessDenied"}`,
	}
	if diff := cmp.Diff(want, lines(out)); diff != "" {
		t.Errorf("why (-want +got):\n%s\n%s", diff, out)
	}

	// --events keeps the most recent; KIND/NAME picks the kind.
	out, _, err = run(t, ns, "why", "ftc/stuck", "--events", "1", "-o", "json")
	if err != nil {
		t.Fatalf("why -o json: %v", err)
	}
	var got WhyView
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decoding: %v\n%s", err, out)
	}
	wantEvents := []EventView{{Time: ago(2 * time.Minute), Type: "Warning", Reason: "JobFailed", Object: "FineTuneCohort/stuck", Count: 1, Message: "shard 0 failed"}}
	if diff := cmp.Diff(wantEvents, got.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(KueueView{Queue: "team-q"}, got.Kueue); diff != "" {
		t.Errorf("kueue without Kueue (-want +got):\n%s", diff)
	}
	if got.LastMessage == nil || got.LastMessage.Pod != "stuck-run1-0-a" || got.LastMessage.ExitCode != 2 {
		t.Errorf("last message %+v, want shard 0's (exit 2)", got.LastMessage)
	}

	for _, tc := range []struct{ arg, want string }{
		{"gm/stuck", `no FineTuneCohort, GlobalModel or CorrectionPolicy named "gm/stuck"`},
		{"pods/stuck", `kind "pods" is not FineTuneCohort (ftc), GlobalModel (gm) or CorrectionPolicy (cpol)`},
	} {
		if _, _, err := run(t, ns, "why", tc.arg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("why %s: error %v, want %q", tc.arg, err, tc.want)
		}
	}

	// With Kueue's Workload kind served, why shows the Job's Workload.
	installWorkloadCRD(t)
	wl := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"queueName": "team-q"},
		"status": map[string]any{
			"admission": map[string]any{"clusterQueue": "cluster-q", "podSetAssignments": []any{
				map[string]any{"name": "main", "flavors": map[string]any{"cpu": "arm64", "memory": "arm64"}},
			}},
			"conditions": []any{map[string]any{"type": "Admitted", "status": "True", "reason": "Admitted", "message": "The workload is admitted", "lastTransitionTime": "2026-12-01T11:55:00Z"}},
		},
	}}
	wl.SetGroupVersionKind(schema.GroupVersionKind{Group: "kueue.x-k8s.io", Version: "v1beta1", Kind: "Workload"})
	wl.SetNamespace(ns)
	wl.SetName("job-stuck-run1-1a2b3")
	wl.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID}})
	mustCreate(t, wl)
	out, _, err = run(t, ns, "why", "stuck", "-o", "yaml")
	if err != nil {
		t.Fatalf("why with Kueue: %v", err)
	}
	wantKueue := KueueView{Installed: true, Queue: "team-q", Workload: "job-stuck-run1-1a2b3", ClusterQueue: "cluster-q", Flavors: []string{"arm64"}, Admitted: true,
		Conditions: []ConditionView{{Type: "Admitted", Status: "True", Reason: "Admitted", Message: "The workload is admitted"}}}
	var withKueue WhyView
	if err := yaml.Unmarshal([]byte(out), &withKueue); err != nil {
		t.Fatalf("decoding: %v\n%s", err, out)
	}
	if diff := cmp.Diff(wantKueue, withKueue.Kueue); diff != "" {
		t.Errorf("kueue (-want +got):\n%s", diff)
	}
}

// installWorkloadCRD serves a minimal kueue.x-k8s.io/v1beta1 Workload (any
// fields) and waits until it is established.
func installWorkloadCRD(t *testing.T) {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "workloads.kueue.x-k8s.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "kueue.x-k8s.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "workloads", Singular: "workload", Kind: "Workload", ListKind: "WorkloadList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1beta1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
	if _, err := envtest.InstallCRDs(restConfig, envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}}); err != nil {
		t.Fatalf("installing the Workload CRD: %v", err)
	}
}
