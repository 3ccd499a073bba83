package controllers

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	trainer "github.com/lcft-dev/lcft-operator/trainer/runner"
)

// One DCCL round: a GlobalModel distilling from two cohorts of "wd" (a
// PerUser cohort saving deltas, a Pooled one saving its group model)
// waits for them with a named reason, is pretrained from their models
// once they have Succeeded, and reports the comparison with its
// predecessor; a cohort of the next round fine-tunes from it. A
// distillation from a cohort that saved no models fails with
// InvalidDistillation.
func TestDistilledGlobalModel(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	f := newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	perUser := cohortObj(ns, "per-user", "wd", withRange("0.3", "1"), func(c *v1.FineTuneCohort) {
		c.Spec.Output = &v1.OutputSpec{UserModels: v1.UserModelsDeltas}
	})
	pooled := cohortObj(ns, "pooled", "wd", withRange("0", "0.3"), func(c *v1.FineTuneCohort) { c.Spec.Mode = v1.ModePooled })
	distilled := modelObj(ns, "wd-2")
	distilled.Spec.Training.LearningRate, distilled.Spec.Training.Epochs = "0.1", 1
	distilled.Spec.Training.DistillFrom = &v1.DistillSpec{Cohorts: []string{"per-user", "pooled"}, Weight: "0.5"}

	f.hold(perUser.Name) // the cohort's Job waits: the distillation must wait for it
	create(t, gm, distilled, perUser, pooled)
	waitModel(t, gm)
	waitCondition(t, distilled, func() []metav1.Condition { return distilled.Status.Conditions }, v1.ConditionWaiting, ReasonCohortNotSucceeded, "per-user")
	if jobs := jobsOf(t, ns, distilled.Name); len(jobs) != 0 {
		t.Fatalf("the distillation made %d Jobs before its cohorts succeeded", len(jobs))
	}
	f.release(perUser.Name)
	waitCohort(t, perUser, v1.PhaseSucceeded)
	waitCohort(t, pooled, v1.PhaseSucceeded)
	waitModel(t, distilled)

	d := distilled.Status.Distillation
	if d == nil {
		t.Fatalf("status has no distillation: %+v", distilled.Status)
	}
	if d.Predecessor != "wd" || d.PredecessorDigest != gm.Status.Digest || d.PredecessorCloudAUC != gm.Status.CloudAUC || d.TaughtUsers == 0 {
		t.Errorf("distillation %+v; predecessor wd %s, Cloud AUC %s", d, gm.Status.Digest, gm.Status.CloudAUC)
	}
	for name, c := range map[string]v1.AUCComparison{"overall": d.Overall, "longTail": d.LongTail} {
		if c.Users == 0 || c.Delta == "" || !strings.HasPrefix(c.Range, "[") {
			t.Errorf("%s comparison %+v", name, c)
		}
	}
	if d.LongTail.Users != (d.Overall.Users+1)/2 || d.LongTailShare != "0.5" {
		t.Errorf("long tail of %d users (share %s), overall %d", d.LongTail.Users, d.LongTailShare, d.Overall.Users)
	}
	if distilled.Status.Digest == gm.Status.Digest || distilled.Status.CloudAUC == "" {
		t.Errorf("distilled model %s (Cloud %s), predecessor %s", distilled.Status.Digest, distilled.Status.CloudAUC, gm.Status.Digest)
	}
	// The Job's run spec carries the teachers' artifacts.
	um, err := trainer.ReadUserModels(context.Background(), perUser.Status.UserModels.URIs[0])
	if err != nil || um.Header.ModelDigest != gm.Status.Digest {
		t.Fatalf("user models of the teacher: %v, header %+v", err, um)
	}
	t.Logf("distilled: Cloud %s against %s: overall %s %s, long tail %s %s (%d taught users)",
		distilled.Status.CloudAUC, d.PredecessorCloudAUC, d.Overall.Delta, d.Overall.Range, d.LongTail.Delta, d.LongTail.Range, d.TaughtUsers)

	next := cohortObj(ns, "round-two", "wd-2", withRange("0", "1"))
	noModels := cohortObj(ns, "no-models", "wd", withRange("0", "1"))
	bad := modelObj(ns, "wd-bad")
	bad.Spec.Training.DistillFrom = &v1.DistillSpec{Cohorts: []string{"no-models"}}
	create(t, next, noModels, bad)
	waitCohort(t, next, v1.PhaseSucceeded)
	if next.Status.CloudAUC == "" || next.Status.Users == 0 {
		t.Errorf("round two: Cloud %s over %d users", next.Status.CloudAUC, next.Status.Users)
	}
	waitCondition(t, bad, func() []metav1.Condition { return bad.Status.Conditions }, v1.ConditionFailed, ReasonInvalidDistillation, "no-models saved no models")
}
