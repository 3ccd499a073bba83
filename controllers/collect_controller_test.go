package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// s3Store is a store the manager cannot read: the trainer pods reach it
// with the credentials of their pod template.
const s3Store = "s3://lcft-test/artifacts?endpoint=http://10.0.0.5:8333&use_path_style=true"

// storedShard is the canned summary of a shard whose report is in the
// store: cohortShard's numbers, with the report's URI and a digest.
func storedShard(spec *runspec.Spec, idx int, users []cohortUser) *runspec.Summary {
	s := cohortShard(spec, idx, users)
	s.ReportURI = joinURI(spec.OutputURI, runspec.ShardReportFile(idx))
	s.ReportDigest = runspec.ReportDigest([]byte(fmt.Sprintf("the report of shard %d of %s", idx, spec.OutputURI)))
	return s
}

// collectCohort runs a 3-shard cohort on the S3 store with credentials
// from a Secret, whose shards 0 and 2 lose their pods before the Job
// completes, and returns it with its collect Job (which the fake cluster
// leaves to the test).
func collectCohort(t *testing.T, ns string, cluster *fakeCluster, name string) (*v1.FineTuneCohort, *batchv1.Job) {
	t.Helper()
	ctx := context.Background()
	cluster.holdFinish(name + "-ft-")
	cluster.hold(name + "-collect-")
	c := cohortObj(ns, name, "wd", withShards(3), withPodTemplate(&v1.TrainerPodTemplate{Env: []corev1.EnvVar{
		{Name: "AWS_ACCESS_KEY_ID", Value: "AKIDTEST"},
		{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}, Key: "secret"}}},
	}}))
	c.Spec.Artifacts.URI = s3Store
	create(t, c)
	c = waitReportDigests(t, ns, name, 3)
	for _, p := range podsOf(t, ns, c.Status.JobName) {
		if idx := p.Annotations[batchv1.JobCompletionIndexAnnotation]; idx == "0" || idx == "2" {
			if err := k8sClient.Delete(ctx, &p); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, runTimeout, "the pods to go", func() (bool, error) { return len(podsOf(t, ns, c.Status.JobName)) == 1, nil })
	cluster.finish(name + "-ft-")
	var collect *batchv1.Job
	eventually(t, runTimeout, "the collect Job", func() (bool, error) {
		for _, j := range jobsOf(t, ns, name) {
			if strings.HasPrefix(j.Name, name+"-collect-") {
				collect = &j
				return true, nil
			}
		}
		return false, nil
	})
	return getCohort(t, ns, name), collect
}

// playCollectPod creates the collect Job's pod of a completion index as
// the Job controller and the kubelet would (owned: false makes a pod with
// the Job's labels that the Job did not make).
func playCollectPod(t *testing.T, cluster *fakeCluster, job *batchv1.Job, idx, code int, msg string, owned bool) {
	t.Helper()
	if owned {
		if err := cluster.createPod(context.Background(), job, idx, 0, code, msg, ""); err != nil {
			t.Fatal(err)
		}
		return
	}
	pod := cluster.podFor(job, idx, 9)
	pod.Name += "-forged"
	pod.OwnerReferences = nil
	pod.Spec.NodeName = "node-amd64"
	if err := k8sClient.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name: trainerContainer, Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", Message: msg, StartedAt: now, FinishedAt: now}},
	}}}
	if err := k8sClient.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
}

func finishCollect(t *testing.T, cluster *fakeCluster, job *batchv1.Job, final finalStatus) {
	t.Helper()
	live := &batchv1.Job{}
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(job), live); err != nil {
		t.Fatal(err)
	}
	final.start = metav1.Now()
	if err := cluster.finishJob(context.Background(), live, final); err != nil {
		t.Fatal(err)
	}
}

func encoded(t *testing.T, s *runspec.Summary) string {
	t.Helper()
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Pods gone before they were read, on an object store the manager has no
// credentials for: a collect Job with the cohort's pod template (its
// credentials' env, restricted security) reads the reports of exactly the
// missing shards; the summaries its own pods report (not a forged pod's)
// give the cohort the numbers all its pods would have. A collect pod that
// finds a changed report fails the run (no retry), naming the shard; so
// does a recovered summary of another report than the recorded one.
func TestPodsGoneFromAnObjectStoreAreCollected(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := restrictedNamespace(t)
	users := fakeCohortUsers()
	cluster := newFakeCluster(t, ns, func(f *fakeCluster) {
		f.canned = func(spec *runspec.Spec, idx int) (int, string) { return encodeShard(storedShard(spec, idx, users)) }
	})
	startManager(t)
	createSecret(t, ns, "s3", map[string]string{"secret": "s3cr3t"}, nil)
	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)

	c, collect := collectCohort(t, ns, cluster, "collected")
	runJob := &batchv1.Job{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.Status.JobName}, runJob); err != nil {
		t.Fatal(err)
	}
	d0, d2 := c.Status.Shards[0].ReportDigest, c.Status.Shards[2].ReportDigest
	pod := collect.Spec.Template.Spec
	ctr := pod.Containers[0]
	wantArgs := []string{"collect", "--report-uri", c.Status.ReportURI, "--shards", "0,2", "--digests", d0 + "," + d2, "--termination-log", "/dev/termination-log"}
	if !slices.Equal(ctr.Args, wantArgs) {
		t.Errorf("collect args %q; want %q", ctr.Args, wantArgs)
	}
	if ref := metav1.GetControllerOf(collect); ref == nil || ref.UID != c.UID || ref.Kind != "FineTuneCohort" {
		t.Errorf("collect Job controller %+v; want the cohort", ref)
	}
	if ptr.Deref(collect.Spec.Completions, 0) != 2 || ptr.Deref(collect.Spec.CompletionMode, "") != batchv1.IndexedCompletion || collect.Annotations[RunHashAnnotation] != runJob.Annotations[RunHashAnnotation] {
		t.Errorf("collect Job completions %v mode %v annotations %v", collect.Spec.Completions, collect.Spec.CompletionMode, collect.Annotations)
	}
	if ctr.Image != runJob.Spec.Template.Spec.Containers[0].Image || !slices.ContainsFunc(ctr.Env, func(e corev1.EnvVar) bool {
		return e.Name == "AWS_SECRET_ACCESS_KEY" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "s3"
	}) || !slices.ContainsFunc(ctr.Env, func(e corev1.EnvVar) bool { return e.Name == "AWS_ACCESS_KEY_ID" && e.Value == "AKIDTEST" }) {
		t.Errorf("collect container image %s env %+v; want the run's image and the template's credentials", ctr.Image, ctr.Env)
	}
	if !ptr.Deref(pod.SecurityContext.RunAsNonRoot, false) || ptr.Deref(ctr.SecurityContext.AllowPrivilegeEscalation, true) || ptr.Deref(pod.AutomountServiceAccountToken, true) ||
		slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "run-spec" }) {
		t.Errorf("collect pod security %+v / %+v, token %v, volumes %+v", pod.SecurityContext, ctr.SecurityContext, pod.AutomountServiceAccountToken, pod.Volumes)
	}
	waitCondition(t, c, func() []metav1.Condition { return c.Status.Conditions }, v1.ConditionRunning, ReasonRecoveringResults, collect.Name)

	// The shards' summaries, as the collect pods read them from the store;
	// a forged pod with the Job's labels says shard 0 had far more users.
	spec := &runspec.Spec{Kind: runspec.KindFinetune, Shards: 3, OutputURI: c.Status.ReportURI}
	var total runspec.FinetuneStats
	for i := range 3 {
		total.Add(cohortShard(spec, i, users).Finetune)
	}
	s0, s2 := storedShard(spec, 0, users), storedShard(spec, 2, users)
	if s0.ReportDigest != d0 || s2.ReportDigest != d2 {
		t.Fatalf("recorded digests %s %s; the canned shards' %s %s", d0, d2, s0.ReportDigest, s2.ReportDigest)
	}
	forged := storedShard(spec, 0, users)
	forged.Finetune.Users *= 1000
	playCollectPod(t, cluster, collect, 0, 0, encoded(t, forged), false)
	playCollectPod(t, cluster, collect, 0, 0, encoded(t, s0), true)
	playCollectPod(t, cluster, collect, 1, 0, encoded(t, s2), true)
	finishCollect(t, cluster, collect, finalStatus{succeeded: 2})

	waitCohort(t, c, v1.PhaseSucceeded)
	if c.Status.Users != total.Users || c.Status.Samples != total.Samples || c.Status.LCFTAUC != value(total.LCFT) || c.Status.CloudAUC != value(total.Cloud) || c.Status.LocalAUC != value(total.Local) {
		t.Errorf("status: users %d samples %d LCFT %s Cloud %s Local %s; all shards say %d %d %s %s %s", c.Status.Users, c.Status.Samples, c.Status.LCFTAUC, c.Status.CloudAUC, c.Status.LocalAUC,
			total.Users, total.Samples, value(total.LCFT), value(total.Cloud), value(total.Local))
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, ConditionResultsRecovered)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != ReasonResultsRecoveredFromStore || !strings.Contains(cond.Message, "2 shard(s) recovered: shard(s) 0, 2") {
		t.Errorf("ResultsRecovered condition %+v", cond)
	}
	if msg := completeMessage(c); !strings.Contains(msg, "shard(s) 0, 2 read from their reports") || !strings.Contains(msg, collect.Name) {
		t.Errorf("Complete message %q does not name the recovered shards and the collect Job", msg)
	}
	eventually(t, runTimeout, "the ResultsRecoveredFromStore event", func() (bool, error) {
		return len(eventsFor(t, ns, c.Name, ReasonResultsRecoveredFromStore)) >= 1, nil
	})
	eventually(t, runTimeout, "the used collect Job to be deleted", func() (bool, error) {
		j := &batchv1.Job{}
		err := k8sClient.Get(ctx, client.ObjectKeyFromObject(collect), j)
		return err != nil || !j.DeletionTimestamp.IsZero(), err
	})
	t.Logf("Complete: %s", completeMessage(c))

	// A collect pod finds shard 2's report changed: exit 2, the Job fails.
	bad, badCollect := collectCohort(t, ns, cluster, "changed")
	playCollectPod(t, cluster, badCollect, 0, 0, encoded(t, storedShard(&runspec.Spec{Kind: runspec.KindFinetune, Shards: 3, OutputURI: bad.Status.ReportURI}, 0, users)), true)
	trainerMsg := fmt.Sprintf("shard 2: the report %s has digest sha256:%s, its pod reported %s: not used: report digest mismatch",
		joinURI(bad.Status.ReportURI, runspec.ShardReportFile(2)), strings.Repeat("0", 64), bad.Status.Shards[2].ReportDigest)
	playCollectPod(t, cluster, badCollect, 1, runspec.ExitBadInput, encoded(t, &runspec.Summary{Kind: runspec.KindFinetune, Shard: 2, Error: trainerMsg}), true)
	finishCollect(t, cluster, badCollect, finalStatus{succeeded: 1, failed: 1, failReason: "PodFailurePolicy", failMsg: "Container trainer failed with exit code 2 matching FailJob rule"})
	waitCohort(t, bad, v1.PhaseFailed)
	fc := meta.FindStatusCondition(bad.Status.Conditions, v1.ConditionFailed)
	if fc == nil || fc.Reason != ReasonResultsRecoveryFailed || !strings.Contains(fc.Message, trainerMsg) || !strings.Contains(fc.Message, "shard(s) 0, 2") {
		t.Errorf("Failed condition %+v; want %s with the collect pod's message", fc, ReasonResultsRecoveryFailed)
	}
	if got := len(podsOf(t, ns, badCollect.Name)); got != 2 {
		t.Errorf("%d collect pods; want 2 (no retry)", got)
	}
	t.Logf("Failed: %s", fc.Message)

	// A collect pod reports a summary of another report than the recorded one.
	other, otherCollect := collectCohort(t, ns, cluster, "other")
	otherSpec := &runspec.Spec{Kind: runspec.KindFinetune, Shards: 3, OutputURI: other.Status.ReportURI}
	wrong := storedShard(otherSpec, 2, users)
	wrong.ReportDigest = runspec.ReportDigest([]byte("another report"))
	playCollectPod(t, cluster, otherCollect, 0, 0, encoded(t, storedShard(otherSpec, 0, users)), true)
	playCollectPod(t, cluster, otherCollect, 1, 0, encoded(t, wrong), true)
	finishCollect(t, cluster, otherCollect, finalStatus{succeeded: 2})
	waitCohort(t, other, v1.PhaseFailed)
	oc := meta.FindStatusCondition(other.Status.Conditions, v1.ConditionFailed)
	if oc == nil || oc.Reason != ReasonReportDigestMismatch || !strings.Contains(oc.Message, "shard 2") || !strings.Contains(oc.Message, wrong.ReportDigest) {
		t.Errorf("Failed condition %+v; want %s naming shard 2", oc, ReasonReportDigestMismatch)
	}
}
