package controllers

import (
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func collectPod(idx, msg string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p" + idx, Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: idx}},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: trainerContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: msg}},
		}}},
	}
}

// A collect pod's summary counts for the shard of its completion index,
// when it is of that shard and of the recorded report.
func TestTakeCollected(t *testing.T) {
	d3, d5 := runspec.ReportDigest([]byte("3")), runspec.ReportDigest([]byte("5"))
	targets := []v1.ShardPlacement{{Index: 3, Node: "n3", ReportDigest: d3}, {Index: 5, Node: "n5", ReportDigest: d5}}
	msg := func(shard int, digest string, users int64) string {
		b, err := (&runspec.Summary{Kind: runspec.KindFinetune, Shard: shard, Arch: "amd64", ReportDigest: digest, Finetune: &runspec.FinetuneStats{Users: users}}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	newOut := func() *runOutcome {
		return &runOutcome{summaries: make([]*runspec.Summary, 6), shards: make([]v1.ShardPlacement, 6)}
	}

	out := newOut()
	err := takeCollected([]corev1.Pod{collectPod("1", msg(5, d5, 7)), collectPod("0", msg(3, d3, 4)), collectPod("2", msg(5, d5, 99))}, targets, out)
	if err != nil || out.summaries[3].Finetune.Users != 4 || out.summaries[5].Finetune.Users != 7 || !slices.Equal(out.recovered, []string{"3", "5"}) || out.shards[5].Node != "n5" {
		t.Fatalf("error %v, recovered %v, shards %+v", err, out.recovered, out.shards)
	}

	out = newOut()
	// Index 0 is shard 3: a summary of shard 5 there is not used.
	if err := takeCollected([]corev1.Pod{collectPod("0", msg(5, d5, 7))}, targets, out); err != nil || out.summaries[3] != nil || out.summaries[5] != nil {
		t.Fatalf("a summary of another shard: error %v, summaries %v", err, out.summaries)
	}
	out = newOut()
	err = takeCollected([]corev1.Pod{collectPod("1", msg(5, d3, 7))}, targets, out)
	if err == nil || !strings.Contains(err.Error(), "shard 5") || !strings.Contains(err.Error(), d3) || !strings.Contains(err.Error(), d5) {
		t.Fatalf("a summary of another report: error %v; want one naming shard 5 and both digests", err)
	}
}

// The collect Job is the run's pod template running collect over the
// missing shards, without the run spec and the Job controller's labels,
// queued (suspended) in the run's LocalQueue like the run.
func TestBuildCollectJob(t *testing.T) {
	owner := &v1.FineTuneCohort{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", Labels: map[string]string{QueueNameLabel: "q"}}}
	r := run{owner: owner, ownerKind: "FineTuneCohort", spec: runspec.Spec{Version: runspec.Version, Kind: runspec.KindFinetune, Shards: 6, OutputURI: "pvc://claim/runs"},
		podTemplate: &v1.TrainerPodTemplate{EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}}},
	}
	objs, err := buildRun(r, Options{TrainerImage: "trainer:1"})
	if err != nil {
		t.Fatal(err)
	}
	job := objs.job
	job.Spec.Template.Labels[batchv1.ControllerUidLabel] = "uid"
	job.Spec.Template.Labels[batchv1.JobNameLabel] = job.Name
	rec := &recordedReports{dir: runOutputURI("pvc://claim/runs", objs.hash), owner: owner}
	targets := []v1.ShardPlacement{{Index: 3, ReportDigest: "sha256:a"}, {Index: 5, ReportDigest: "sha256:b"}}
	got, err := buildCollectJob(job, rec, targets)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "c-collect-"+objs.hash || got.Annotations[CollectShardsAnnotation] != "3=sha256:a,5=sha256:b" || got.Labels[QueueNameLabel] != "q" || !*got.Spec.Suspend {
		t.Errorf("name %s annotations %v labels %v suspend %v; want the run's queue label, created suspended for Kueue", got.Name, got.Annotations, got.Labels, *got.Spec.Suspend)
	}
	tmpl := got.Spec.Template
	ctr := tmpl.Spec.Containers[0]
	want := []string{"collect", "--report-uri", "file:///mnt/pvc/claim/runs/" + objs.hash, "--shards", "3,5", "--digests", "sha256:a,sha256:b", "--termination-log", "/dev/termination-log"}
	if !slices.Equal(ctr.Args, want) {
		t.Errorf("args %q; want %q", ctr.Args, want)
	}
	if tmpl.Labels[batchv1.ControllerUidLabel] != "" || tmpl.Labels[batchv1.JobNameLabel] != "" || tmpl.Labels[OwnerKindLabel] != "FineTuneCohort" {
		t.Errorf("pod labels %v", tmpl.Labels)
	}
	if len(ctr.EnvFrom) != 1 || ctr.EnvFrom[0].SecretRef.Name != "creds" || slices.ContainsFunc(ctr.Env, func(e corev1.EnvVar) bool { return e.Name == runspec.EnvShardCount }) {
		t.Errorf("env %+v envFrom %+v", ctr.Env, ctr.EnvFrom)
	}
	if slices.ContainsFunc(tmpl.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "run-spec" }) ||
		!slices.ContainsFunc(tmpl.Spec.Volumes, func(v corev1.Volume) bool {
			return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "claim"
		}) {
		t.Errorf("volumes %+v: want the claim, not the run spec", tmpl.Spec.Volumes)
	}
	if *got.Spec.Completions != 2 || *got.Spec.CompletionMode != batchv1.IndexedCompletion || got.Spec.PodFailurePolicy == nil {
		t.Errorf("spec %+v", got.Spec)
	}
	// The run's Job keeps its template.
	if job.Spec.Template.Spec.Containers[0].Args[0] != "run" {
		t.Errorf("the run's Job changed: %q", job.Spec.Template.Spec.Containers[0].Args)
	}
}
