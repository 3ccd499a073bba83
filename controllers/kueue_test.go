package controllers

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// A Job is created suspended exactly when its object names a LocalQueue,
// and carries the object's Kueue labels (never other labels of the object).
func TestBuildRunQueuesJobsOfQueuedObjects(t *testing.T) {
	for _, tc := range []struct {
		name        string
		labels      map[string]string
		suspend     bool
		wantSuspend bool
		wantLabels  map[string]string
	}{
		{name: "no queue", labels: map[string]string{"team": "a"}},
		{name: "spec.suspend", suspend: true, wantSuspend: true},
		{name: "queue", labels: map[string]string{QueueNameLabel: "lq", "team": "a"}, wantSuspend: true, wantLabels: map[string]string{QueueNameLabel: "lq"}},
		{name: "queue and priority", labels: map[string]string{QueueNameLabel: "lq", PriorityClassLabel: "high"}, wantSuspend: true,
			wantLabels: map[string]string{QueueNameLabel: "lq", PriorityClassLabel: "high"}},
		{name: "priority alone is no queue", labels: map[string]string{PriorityClassLabel: "high"}, wantLabels: map[string]string{PriorityClassLabel: "high"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, owner := range []struct {
				kind string
				obj  interface {
					SetLabels(map[string]string)
				}
			}{{"GlobalModel", &v1.GlobalModel{}}, {"CorrectionPolicy", &v1.CorrectionPolicy{}}, {"FineTuneCohort", &v1.FineTuneCohort{}}} {
				owner.obj.SetLabels(tc.labels)
				r := run{ownerKind: owner.kind, suspend: tc.suspend, spec: runspec.Spec{Version: runspec.Version, Kind: runspec.KindFinetune, Shards: 1, OutputURI: "file:///out"}}
				switch o := owner.obj.(type) {
				case *v1.GlobalModel:
					o.Name, r.owner = "m", o
				case *v1.CorrectionPolicy:
					o.Name, r.owner = "p", o
				case *v1.FineTuneCohort:
					o.Name, r.owner = "c", o
				}
				objs, err := buildRun(r, Options{TrainerImage: "trainer:1"})
				if err != nil {
					t.Fatal(err)
				}
				if got := ptr.Deref(objs.job.Spec.Suspend, false); got != tc.wantSuspend {
					t.Errorf("%s: suspend %v; want %v", owner.kind, got, tc.wantSuspend)
				}
				got := map[string]string{}
				for k, v := range objs.job.Labels {
					if k == QueueNameLabel || k == PriorityClassLabel || k == "team" {
						got[k] = v
					}
				}
				if diff := cmp.Diff(tc.wantLabels, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: Kueue labels (-want +got):\n%s", owner.kind, diff)
				}
			}
		})
	}
}

// The apply of a live Job keeps Kueue's suspend on a queued Job, and the
// Kueue labels of a Job that runs.
func TestLiveJobUpdateLeavesKueueItsJob(t *testing.T) {
	job := func(suspend bool, labels map[string]string) *batchv1.Job {
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{}}, Spec: batchv1.JobSpec{Suspend: ptr.To(suspend)}}
	}
	q := func(name string) map[string]string { return map[string]string{QueueNameLabel: name} }
	for _, tc := range []struct {
		name        string
		want, live  *batchv1.Job
		wantSuspend bool
		wantLabels  map[string]string
	}{
		{name: "admitted Job stays unsuspended", want: job(true, q("lq")), live: job(false, q("lq")), wantLabels: q("lq")},
		{name: "queued Job stays suspended", want: job(true, q("lq")), live: job(true, q("lq")), wantSuspend: true, wantLabels: q("lq")},
		{name: "queue changes while suspended", want: job(true, q("other")), live: job(true, q("lq")), wantSuspend: true, wantLabels: q("other")},
		{name: "running Job keeps its queue", want: job(true, q("other")), live: job(false, q("lq")), wantLabels: q("lq")},
		{name: "running unqueued Job is not queued", want: job(true, q("lq")), live: job(false, map[string]string{}), wantLabels: map[string]string{}},
		{name: "unqueued Job follows spec.suspend", want: job(true, map[string]string{}), live: job(false, map[string]string{}), wantSuspend: true, wantLabels: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := liveJobUpdate(tc.want, tc.live)
			if got := ptr.Deref(u.Spec.Suspend, false); got != tc.wantSuspend {
				t.Errorf("suspend %v; want %v", got, tc.wantSuspend)
			}
			if diff := cmp.Diff(tc.wantLabels, u.Labels, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

// recordAdmission: no queue, no conditions; suspended, Queued; unsuspended,
// Admitted with the arch of the node selector; finished, Admitted too.
func TestRecordAdmission(t *testing.T) {
	job := func(queue string, suspend, finished bool, selector map[string]string) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{Suspend: ptr.To(suspend)}}
		if queue != "" {
			j.Labels = map[string]string{QueueNameLabel: queue}
		}
		j.Spec.Template.Spec.NodeSelector = selector
		if finished {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: "True"}}
		}
		return j
	}
	type cond struct{ Type, Status, Reason string }
	arm := map[string]string{ArchLabel: "arm64", "pool": "x"}
	for _, tc := range []struct {
		name      string
		job       *batchv1.Job
		want      *v1.Admission
		wantConds []cond
	}{
		{name: "not queued", job: job("", true, false, nil)},
		{name: "queued", job: job("lq", true, false, nil), want: &v1.Admission{LocalQueue: "lq"},
			wantConds: []cond{{"Queued", "True", ReasonWaitingForAdmission}, {"Admitted", "False", ReasonWaitingForAdmission}}},
		{name: "admitted", job: job("lq", false, false, arm), want: &v1.Admission{LocalQueue: "lq", Admitted: true, Arch: "arm64"},
			wantConds: []cond{{"Queued", "False", ReasonAdmittedByKueue}, {"Admitted", "True", ReasonAdmittedByKueue}}},
		{name: "finished", job: job("lq", false, true, arm), want: &v1.Admission{LocalQueue: "lq", Admitted: true, Arch: "arm64"},
			wantConds: []cond{{"Queued", "False", ReasonAdmittedByKueue}, {"Admitted", "True", ReasonAdmittedByKueue}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var list []metav1.Condition
			var adm *v1.Admission
			c := conditions{list: &list, generation: 3}
			if err := (runner{}).recordAdmission(context.Background(), c, &adm, tc.job); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, adm); diff != "" {
				t.Errorf("admission (-want +got):\n%s", diff)
			}
			var got []cond
			for _, l := range list {
				got = append(got, cond{l.Type, string(l.Status), l.Reason})
				if l.ObservedGeneration != 3 {
					t.Errorf("%s: observedGeneration %d; want 3", l.Type, l.ObservedGeneration)
				}
			}
			if diff := cmp.Diff(tc.wantConds, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}
