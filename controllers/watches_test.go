package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

func TestNotStatusOnly(t *testing.T) {
	base := func() *v1.FineTuneCohort {
		return &v1.FineTuneCohort{ObjectMeta: metav1.ObjectMeta{
			Name: "c", Namespace: "ns", ResourceVersion: "1", Generation: 1,
			Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"x": "y"}, Finalizers: []string{"f"},
		}}
	}
	p := notStatusOnly()
	for _, tc := range []struct {
		name   string
		change func(*v1.FineTuneCohort)
		want   bool
	}{
		{"status only", func(c *v1.FineTuneCohort) { c.Status.Phase = v1.PhaseRunning; c.Status.JobName = "c-1" }, false},
		{"resync (same resourceVersion)", func(c *v1.FineTuneCohort) { c.ResourceVersion = "1" }, true},
		{"spec (generation)", func(c *v1.FineTuneCohort) { c.Generation = 2 }, true},
		{"label added", func(c *v1.FineTuneCohort) { c.Labels[QueueNameLabel] = "q" }, true},
		{"annotation changed", func(c *v1.FineTuneCohort) { c.Annotations["x"] = "z" }, true},
		{"finalizer removed", func(c *v1.FineTuneCohort) { c.Finalizers = nil }, true},
		{"owner added", func(c *v1.FineTuneCohort) {
			c.OwnerReferences = []metav1.OwnerReference{{Kind: "X", Name: "o", UID: "u", Controller: ptr.To(true)}}
		}, true},
		{"deletion started", func(c *v1.FineTuneCohort) { c.DeletionTimestamp = &metav1.Time{} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, cur := base(), base()
			cur.ResourceVersion = "2"
			tc.change(cur)
			if got := p.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: cur}); got != tc.want {
				t.Errorf("Update passes: %v, want %v", got, tc.want)
			}
		})
	}
	if !p.Create(event.CreateEvent{Object: base()}) || !p.Delete(event.DeleteEvent{Object: base()}) {
		t.Error("creation and deletion events must pass")
	}
}

func TestMayLag(t *testing.T) {
	k := runner{}
	key := client.ObjectKey{Namespace: "ns", Name: "c-1a2b"}
	named, other := key.Name, "c-9f8e"
	if k.mayLag(run{}, key) {
		t.Error("a new run without a status: the cache is trusted, want false")
	}
	if k.mayLag(run{restart: restartState{jobName: &other}}, key) {
		t.Error("status names another run's Job: want false")
	}
	if !k.mayLag(run{restart: restartState{jobName: &named}}, key) {
		t.Error("status names this Job (the restart policy asks whether it was deleted): want true")
	}
	createdJobs.add(key)
	if !k.mayLag(run{}, key) {
		t.Error("this manager made the Job: its cache may lag, want true")
	}
}
