package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// queuedKind reads what a test of Kueue's admission checks on an object.
type queuedKind struct {
	obj    client.Object
	status func() (v1.Phase, []metav1.Condition, *v1.Admission)
	done   v1.Phase // the phase of a finished run
	arch   string   // the flavor's kubernetes.io/arch the test's Kueue admits with
}

// kueueLabelsFor are the Kueue labels of a test object.
func kueueLabelsFor(queue string) map[string]string {
	return map[string]string{QueueNameLabel: queue, PriorityClassLabel: "batch-high"}
}

// Every Job of the three kinds is created suspended in the object's
// LocalQueue; the object says Queued until Kueue (played by the test:
// it injects the flavor's node selector and unsuspends the Job, as Kueue
// does on admission) admits it, then runs to its end with Admitted and the
// flavor's arch in status. Without Kueue (the fake cluster runs only
// unsuspended Jobs) nothing runs: no quota is bypassed.
func TestKueueAdmitsEveryKindOfJob(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	cluster := newFakeCluster(t, ns)
	startManager(t)

	gm := holdoutModel(ns, "wd", "0.25")
	gm.Labels = kueueLabelsFor("lq-models")
	search := searchPolicy(ns, "searched", "wd", 1)
	search.Labels = kueueLabelsFor("lq-search")
	c := cohortObj(ns, "queued", "wd", withPolicy("searched"))
	c.Labels = kueueLabelsFor("lq-cohorts")
	kinds := []queuedKind{
		{obj: gm, done: v1.PhaseReady, arch: "amd64", status: func() (v1.Phase, []metav1.Condition, *v1.Admission) {
			return gm.Status.Phase, gm.Status.Conditions, gm.Status.Admission
		}},
		{obj: search, done: v1.PhaseReady, arch: "arm64", status: func() (v1.Phase, []metav1.Condition, *v1.Admission) {
			return search.Status.Phase, search.Status.Conditions, search.Status.Admission
		}},
		{obj: c, done: v1.PhaseSucceeded, arch: "amd64", status: func() (v1.Phase, []metav1.Condition, *v1.Admission) {
			return c.Status.Phase, c.Status.Conditions, c.Status.Admission
		}},
	}
	create(t, gm, search, c)
	for _, k := range kinds {
		name, queue := k.obj.GetName(), k.obj.GetLabels()[QueueNameLabel]
		waitPhase(t, k.obj, func() v1.Phase { p, _, _ := k.status(); return p }, v1.PhaseQueued)
		jobs := jobsOf(t, ns, name)
		if len(jobs) != 1 {
			t.Fatalf("%s: %d Jobs; want 1", name, len(jobs))
		}
		job := &jobs[0]
		if !ptr.Deref(job.Spec.Suspend, false) || job.Labels[QueueNameLabel] != queue || job.Labels[PriorityClassLabel] != "batch-high" {
			t.Fatalf("%s: Job %s suspend %v labels %v; want suspended with the queue and priority class labels", name, job.Name, ptr.Deref(job.Spec.Suspend, false), job.Labels)
		}
		_, conds, adm := k.status()
		checkCondition(t, name, conds, v1.ConditionQueued, metav1.ConditionTrue, ReasonWaitingForAdmission, k.obj.GetGeneration())
		checkCondition(t, name, conds, v1.ConditionAdmitted, metav1.ConditionFalse, ReasonWaitingForAdmission, k.obj.GetGeneration())
		if diff := cmp.Diff(&v1.Admission{LocalQueue: queue}, adm); diff != "" {
			t.Errorf("%s: queued admission (-want +got):\n%s", name, diff)
		}

		if name == c.Name {
			cluster.hold(job.Name) // stays admitted and unfinished while its spec changes below
		}
		admit(t, job, k.arch)
		if name == c.Name {
			keepsAdmittedJobRunning(t, c, job)
			cluster.release(job.Name)
		}
		waitPhase(t, k.obj, func() v1.Phase { p, _, _ := k.status(); return p }, k.done)
		_, conds, adm = k.status()
		checkCondition(t, name, conds, v1.ConditionQueued, metav1.ConditionFalse, ReasonAdmittedByKueue, k.obj.GetGeneration())
		admitted := checkCondition(t, name, conds, v1.ConditionAdmitted, metav1.ConditionTrue, ReasonAdmittedByKueue, k.obj.GetGeneration())
		if want := ArchLabel + "=" + k.arch; !strings.Contains(admitted.Message, want) || !strings.Contains(admitted.Message, queue) {
			t.Errorf("%s: Admitted message %q; want it to name %s and %s", name, admitted.Message, queue, want)
		}
		if diff := cmp.Diff(&v1.Admission{LocalQueue: queue, Admitted: true, Arch: k.arch}, adm); diff != "" {
			t.Errorf("%s: admission (-want +got):\n%s", name, diff)
		}
	}
	// `kubectl get ftc -o wide` shows the flavor.
	table := cohortTable(t, ns)
	col := slices.IndexFunc(table.ColumnDefinitions, func(d metav1.TableColumnDefinition) bool { return d.Name == "Flavor" })
	if col < 0 || len(table.Rows) != 1 || fmt.Sprint(table.Rows[0].Cells[col]) != "amd64" {
		t.Errorf("cohort table: Flavor column %d, rows %v; want the cohort's row with amd64", col, table.Rows)
	}
}

// admit plays Kueue's admission of job: the flavor's nodeLabels into the
// pod template's node selector and the Job unsuspended, in one write.
func admit(t *testing.T, job *batchv1.Job, arch string) {
	t.Helper()
	orig := job.DeepCopy()
	if job.Spec.Template.Spec.NodeSelector == nil {
		job.Spec.Template.Spec.NodeSelector = map[string]string{}
	}
	job.Spec.Template.Spec.NodeSelector[ArchLabel] = arch
	job.Spec.Suspend = ptr.To(false)
	if err := k8sClient.Patch(context.Background(), job, client.MergeFrom(orig)); err != nil {
		t.Fatalf("admitting Job %s: %v", job.Name, err)
	}
}

// keepsAdmittedJobRunning changes a field of the cohort that its live Job
// follows (activeDeadlineSeconds) and checks that the operator's apply of
// the admitted Job leaves it unsuspended: only Kueue flips suspend.
func keepsAdmittedJobRunning(t *testing.T, c *v1.FineTuneCohort, job *batchv1.Job) {
	t.Helper()
	waitPhase(t, c, func() v1.Phase { return c.Status.Phase }, v1.PhaseRunning)
	orig := c.DeepCopy()
	c.Spec.ActiveDeadlineSeconds = ptr.To[int64](3600)
	if err := k8sClient.Patch(context.Background(), c, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	eventually(t, runTimeout, "the Job to take the new activeDeadlineSeconds", func() (bool, error) {
		live := &batchv1.Job{}
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(job), live); err != nil {
			return false, err
		}
		if ptr.Deref(live.Spec.Suspend, false) {
			t.Fatalf("the operator suspended the admitted Job %s again", live.Name)
		}
		return ptr.Deref(live.Spec.ActiveDeadlineSeconds, 0) == 3600, fmt.Errorf("activeDeadlineSeconds %v", live.Spec.ActiveDeadlineSeconds)
	})
}

// checkCondition checks a condition's status, reason and observed
// generation, and returns it.
func checkCondition(t *testing.T, name string, conds []metav1.Condition, typ string, status metav1.ConditionStatus, reason string, generation int64) metav1.Condition {
	t.Helper()
	got := meta.FindStatusCondition(conds, typ)
	if got == nil {
		t.Fatalf("%s: no %s condition in %+v", name, typ, conds)
	}
	if got.Status != status || got.Reason != reason || got.ObservedGeneration != generation {
		t.Errorf("%s: %s condition %s/%s (generation %d); want %s/%s (generation %d): %s", name, typ, got.Status, got.Reason, got.ObservedGeneration, status, reason, generation, got.Message)
	}
	return *got
}
