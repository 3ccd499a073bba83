package controllers

import (
	"context"
	"fmt"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// onlyJob waits until the owner has exactly one Job that is not being
// deleted and returns it.
func onlyJob(t *testing.T, ns, owner string) batchv1.Job {
	t.Helper()
	var job batchv1.Job
	eventually(t, runTimeout, owner+"'s Job", func() (bool, error) {
		var live []batchv1.Job
		for _, j := range jobsOf(t, ns, owner) {
			if j.DeletionTimestamp.IsZero() {
				live = append(live, j)
			}
		}
		if len(live) != 1 {
			return false, fmt.Errorf("%d Jobs", len(live))
		}
		job = live[0]
		return true, nil
	})
	return job
}

// appliedBy reports whether the operator's field manager applied the object.
func appliedBy(obj metav1.Object) bool {
	return managedBy(obj, metav1.ManagedFieldsOperationApply)
}

// createdBy reports whether the operator's field manager owns fields of the
// object by create (or update) rather than by apply.
func createdBy(obj metav1.Object) bool {
	return managedBy(obj, metav1.ManagedFieldsOperationUpdate)
}

func managedBy(obj metav1.Object, op metav1.ManagedFieldsOperationType) bool {
	for _, m := range obj.GetManagedFields() {
		if m.Manager == FieldOwner && m.Operation == op && m.Subresource == "" {
			return true
		}
	}
	return false
}

// A helm upgrade changes the trainer image and the pool map and restarts
// the manager: the running Job stays (same UID, old image and placement),
// still follows the cohort's mutable fields, and finishes; a cohort made
// after the upgrade runs the new image.
func TestUpgradeKeepsTheRunningJob(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns, cluster, stop := modelReady(t, nil)
	cluster.hold("upgrade-")
	c := cohortObj(ns, "upgrade", "wd", withShards(2), withPool(v1.PoolARM64))
	create(t, c)
	waitCohort(t, c, v1.PhaseRunning)
	before := onlyJob(t, ns, "upgrade")
	if !createdBy(&before) || appliedBy(&before) {
		t.Errorf("the Job was not created by %s: %+v", FieldOwner, before.ManagedFields)
	}
	var cm corev1.ConfigMap
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: before.Name}, &cm); err != nil || !createdBy(&cm) {
		t.Errorf("the run's ConfigMap was not created by %s (%v): %+v", FieldOwner, err, cm.ManagedFields)
	}

	stop() // helm upgrade: a new image and pool map, a new manager pod
	startManagerWith(t, func(o *Options) {
		o.TrainerImage = "lcft-trainer:upgraded"
		o.Pools = PoolMap{v1.PoolARM64: {ArchLabel: "arm64", "node.example.com/generation": "2"}, v1.PoolAMD64: {ArchLabel: "amd64"}}
	})
	// A mutable field changed after the upgrade reaches the same Job: the
	// new manager reconciled the cohort and kept its Job.
	c = getCohort(t, ns, "upgrade")
	c.Spec.ActiveDeadlineSeconds = ptr.To[int64](3600)
	if err := k8sClient.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, runTimeout, "the new manager to apply activeDeadlineSeconds", func() (bool, error) {
		job := onlyJob(t, ns, "upgrade")
		c = getCohort(t, ns, "upgrade")
		return ptr.Deref(job.Spec.ActiveDeadlineSeconds, 0) == 3600 && c.Status.ObservedGeneration == c.Generation,
			fmt.Errorf("Job %s activeDeadlineSeconds %v, observed generation %d of %d", job.Name, job.Spec.ActiveDeadlineSeconds, c.Status.ObservedGeneration, c.Generation)
	})
	after := onlyJob(t, ns, "upgrade")
	if after.UID != before.UID || after.Name != before.Name {
		t.Fatalf("the upgrade replaced the running Job %s (%s) with %s (%s)", before.Name, before.UID, after.Name, after.UID)
	}
	// The apply took over the fields of the create (create.go).
	if !appliedBy(&after) || createdBy(&after) {
		t.Errorf("the updated Job's fields are not %s's apply alone: %+v", FieldOwner, after.ManagedFields)
	}
	tmpl := after.Spec.Template.Spec
	if img := tmpl.Containers[0].Image; img != "lcft-trainer:test" || len(tmpl.NodeSelector) != 1 {
		t.Errorf("the running Job's pods changed: image %s, node selector %v", img, tmpl.NodeSelector)
	}
	cluster.release("upgrade-")
	waitCohort(t, c, v1.PhaseSucceeded)
	if jobs := jobsOf(t, ns, "upgrade"); len(jobs) != 1 || jobs[0].UID != before.UID {
		t.Errorf("want the one Job %s after the run, got %d", before.Name, len(jobs))
	}

	// New runs get the new image (and the new pool map).
	next := cohortObj(ns, "after-upgrade", "wd")
	cluster.hold("after-upgrade-")
	create(t, next)
	if job := onlyJob(t, ns, "after-upgrade"); job.Spec.Template.Spec.Containers[0].Image != "lcft-trainer:upgraded" {
		t.Errorf("a run started after the upgrade has image %s", job.Spec.Template.Spec.Containers[0].Image)
	}
}

// Fields Kubernetes changes on a live Job follow the cohort's spec on the
// running Job; the run goes on (same Job) and observedGeneration says so.
func TestMutableJobFieldsFollowTheSpec(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns, cluster, _ := modelReady(t, nil)
	cluster.hold("mutable-")
	c := cohortObj(ns, "mutable", "wd", withShards(3), func(c *v1.FineTuneCohort) { c.Spec.Parallelism = ptr.To[int32](1) })
	create(t, c)
	waitCohort(t, c, v1.PhaseRunning)
	before := onlyJob(t, ns, "mutable")

	c.Spec.Parallelism = ptr.To[int32](3)
	c.Spec.BackoffLimit = ptr.To[int32](5)
	c.Spec.ActiveDeadlineSeconds = ptr.To[int64](7200)
	c.Spec.TTLSecondsAfterFinished = ptr.To[int32](600)
	if err := k8sClient.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	type fields struct {
		Parallelism, BackoffLimit, TTL int32
		Deadline                       int64
	}
	follows := func(what string, want fields) {
		t.Helper()
		eventually(t, runTimeout, "the Job to "+what, func() (bool, error) {
			job := onlyJob(t, ns, "mutable")
			s := job.Spec
			got := fields{ptr.Deref(s.Parallelism, 0), ptr.Deref(s.BackoffLimit, 0), ptr.Deref(s.TTLSecondsAfterFinished, 0), ptr.Deref(s.ActiveDeadlineSeconds, 0)}
			c = getCohort(t, ns, "mutable")
			return got == want && job.UID == before.UID && c.Status.ObservedGeneration == c.Generation,
				fmt.Errorf("Job %s (%s) has %+v, observed generation %d of %d", job.Name, job.UID, got, c.Status.ObservedGeneration, c.Generation)
		})
	}
	follows("follow the spec", fields{3, 5, 600, 7200})
	// A field the spec no longer sets goes from the Job too: the apply
	// owns what the create set (create.go).
	c.Spec.ActiveDeadlineSeconds = nil
	if err := k8sClient.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	follows("drop activeDeadlineSeconds", fields{3, 5, 600, 0})
	cluster.release("mutable-")
	waitCohort(t, c, v1.PhaseSucceeded)
	if c.Status.JobName != before.Name || c.Status.Restarts != 0 {
		t.Errorf("status: Job %s, restarts %d; want %s and 0", c.Status.JobName, c.Status.Restarts, before.Name)
	}
}
