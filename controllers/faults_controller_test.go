package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func failedCondition(c *v1.FineTuneCohort) *metav1.Condition {
	return meta.FindStatusCondition(c.Status.Conditions, v1.ConditionFailed)
}

func podsOf(t *testing.T, ns, job string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := k8sClient.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: job}); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// eventsFor lists the events of reason about the named object.
func eventsFor(t *testing.T, ns, name, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// deleteJob deletes the owner's Job as a person or a tool would, and waits
// until a Job of another UID (or none) is there.
func deleteJob(t *testing.T, job batchv1.Job) {
	t.Helper()
	if err := k8sClient.Delete(context.Background(), &job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
}

// modelReady starts a namespace, its fake cluster and a manager with the
// options changed by change (nil: the defaults), and a Ready GlobalModel
// "wd" in it; it returns the namespace, the cluster and the manager's stop.
func modelReady(t *testing.T, change func(*Options)) (string, *fakeCluster, func()) {
	t.Helper()
	ns := newNamespace(t)
	cluster := newFakeCluster(t, ns)
	_, stop := startManagerWith(t, change)
	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	return ns, cluster, stop
}

// A Job deleted mid-run is made again, with a JobRecreated event and
// status.restarts; past --max-job-restarts the cohort fails instead.
func TestJobDeletedMidRunIsRecreated(t *testing.T) {
	needEnv(t)
	ns, cluster, _ := modelReady(t, func(o *Options) { o.MaxJobRestarts = ptr.To[int32](1) })
	cluster.hold("deleted-")
	c := cohortObj(ns, "deleted", "wd")
	create(t, c)
	waitCohort(t, c, v1.PhaseRunning)
	first := onlyJob(t, ns, "deleted")

	deleteJob(t, first)
	eventually(t, runTimeout, "the Job to be made again and counted", func() (bool, error) {
		c = getCohort(t, ns, "deleted")
		jobs := jobsOf(t, ns, "deleted")
		return c.Status.Restarts == 1 && len(jobs) == 1 && jobs[0].UID != first.UID,
			fmt.Errorf("restarts %d, %d Jobs", c.Status.Restarts, len(jobs))
	})
	if c.Status.JobName != first.Name || c.Status.Phase != v1.PhaseRunning {
		t.Errorf("status: Job %s, phase %s; want %s, Running", c.Status.JobName, c.Status.Phase, first.Name)
	}
	eventually(t, runTimeout, "a JobRecreated event", func() (bool, error) {
		return len(eventsFor(t, ns, "deleted", ReasonJobRecreated)) == 1, nil
	})
	t.Logf("event: %s", eventsFor(t, ns, "deleted", ReasonJobRecreated)[0].Note)

	deleteJob(t, onlyJob(t, ns, "deleted"))
	waitCohort(t, c, v1.PhaseFailed)
	if cond := failedCondition(c); cond == nil || cond.Reason != ReasonJobRestartLimitExceeded {
		t.Fatalf("Failed condition %+v; want reason %s", cond, ReasonJobRestartLimitExceeded)
	}
	if jobs := jobsOf(t, ns, "deleted"); len(jobs) != 0 || c.Status.Restarts != 1 {
		t.Errorf("past the budget: %d Jobs, restarts %d; want none and 1", len(jobs), c.Status.Restarts)
	}
	t.Logf("Failed: %s", failedCondition(c).Message)
}

// A pod with the Job's labels, its completion index and a made-up summary,
// but not made by the Job, is not read: with the real pods silent, the
// cohort fails for want of summaries instead of reporting the forged AUC.
func TestForgedPodSummaryIsIgnored(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns, cluster, _ := modelReady(t, nil)
	cluster.hold("forged-")
	cluster.silence("forged-")
	c := cohortObj(ns, "forged", "wd")
	create(t, c)
	job := onlyJob(t, ns, "forged")

	forged := runspec.Summary{Kind: runspec.KindFinetune, Shard: 0, Arch: "amd64", Finetune: &runspec.FinetuneStats{
		Users: 4242, Samples: 99999, Cloud: runspec.WeightedAUC{Sum: 99, Weight: 100}, Local: runspec.WeightedAUC{Sum: 99, Weight: 100}, LCFT: runspec.WeightedAUC{Sum: 99, Weight: 100},
	}}
	msg, err := forged.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for i, refs := range [][]metav1.OwnerReference{
		nil, // labels only
		{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: "not-the-job", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr.To(true)}}, // no blockOwnerDeletion
	} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-0-forged-%d", job.Name, i), Namespace: ns, OwnerReferences: refs,
				Labels:      map[string]string{batchv1.JobNameLabel: job.Name, ManagedByLabel: ManagedByValue, OwnerKindLabel: "FineTuneCohort", OwnerNameLabel: "forged"},
				Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: "0"},
			},
			Spec: *job.Spec.Template.Spec.DeepCopy(),
		}
		create(t, pod)
		pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: trainerContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", Message: string(msg)}},
		}}}
		if err := k8sClient.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	cluster.release("forged-")
	waitCohort(t, c, v1.PhaseFailed)
	if cond := failedCondition(c); cond == nil || cond.Reason != "MissingSummary" {
		t.Fatalf("Failed condition %+v; want MissingSummary", cond)
	}
	if c.Status.Users != 0 || c.Status.LCFTAUC != "" {
		t.Errorf("the cohort reports the forged results: users %d, LCFT %s", c.Status.Users, c.Status.LCFTAUC)
	}
}

// A shard that fails once (exit code 1) is retried within backoffLimit and
// the run succeeds with the retried shard's results.
func TestTransientFailureIsRetried(t *testing.T) {
	needEnv(t)
	ns, cluster, _ := modelReady(t, nil)
	cluster.fail("flaky-", false)
	c := cohortObj(ns, "flaky", "wd", withShards(2))
	create(t, c)
	waitCohort(t, c, v1.PhaseSucceeded)
	if pods := podsOf(t, ns, c.Status.JobName); len(pods) != 4 {
		t.Errorf("%d pods ran; want 2 shards x (one failure, one success)", len(pods))
	}
	if total := trainerTotals(t, c); c.Status.Users != total.Users || c.Status.ShardsFailed != 2 || c.Status.ShardsSucceeded != 2 {
		t.Errorf("status: users %d (trainer %d), shards failed %d, succeeded %d", c.Status.Users, total.Users, c.Status.ShardsFailed, c.Status.ShardsSucceeded)
	}
}

// A trainer killed for memory is retried within backoffLimit; the failed
// cohort's condition names OOMKilled and the memory limit.
func TestOOMKilledNamesTheLimit(t *testing.T) {
	needEnv(t)
	ns, cluster, _ := modelReady(t, nil)
	cluster.fail("oom-", true)
	c := cohortObj(ns, "oom", "wd", func(c *v1.FineTuneCohort) {
		c.Spec.BackoffLimit = ptr.To[int32](1)
		c.Spec.Placement.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("300Mi")}}
	})
	create(t, c)
	waitCohort(t, c, v1.PhaseFailed)
	cond := failedCondition(c)
	if cond == nil || cond.Reason != ReasonOOMKilled || !strings.Contains(cond.Message, "OOMKilled") || !strings.Contains(cond.Message, "300Mi") {
		t.Fatalf("Failed condition %+v; want OOMKilled naming 300Mi", cond)
	}
	if pods := podsOf(t, ns, c.Status.JobName); len(pods) != 2 {
		t.Errorf("%d pods ran; want 2 (backoffLimit 1)", len(pods))
	}
	t.Logf("Failed: %s: %s", cond.Reason, cond.Message)
}

// A pool whose node selector no node has leaves the pods Pending; after
// --unschedulable-after the cohort's Unschedulable condition says so.
func TestPoolWithoutNodesIsUnschedulable(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManagerWith(t, func(o *Options) {
		o.Pools = PoolMap{v1.PoolARM64: {"node.example.com/pool": "graviton"}, v1.PoolAMD64: {ArchLabel: "amd64"}}
		o.UnschedulableAfter = 2 * time.Second
	})
	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	c := cohortObj(ns, "nowhere", "wd", withPool(v1.PoolARM64))
	create(t, c)
	eventually(t, runTimeout, "the Unschedulable condition", func() (bool, error) {
		c = getCohort(t, ns, "nowhere")
		cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionUnschedulable)
		return cond != nil && cond.Status == metav1.ConditionTrue, fmt.Errorf("condition %+v", cond)
	})
	cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionUnschedulable)
	if cond.Reason != ReasonPodsUnschedulable || !strings.Contains(cond.Message, "graviton") || !strings.Contains(cond.Message, "didn't match") || c.Status.Phase != v1.PhaseRunning {
		t.Errorf("phase %s, condition %+v", c.Status.Phase, cond)
	}
	t.Logf("Unschedulable: %s", cond.Message)
}
